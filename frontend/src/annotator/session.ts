/**
 * One image's annotating, from opening it to leaving it: the prompt, its undo history,
 * SAM's masks for each prompt (fast and exact), the mask on screen, and the image's saved
 * annotations. Like SAM's predictor, which is given an image once (``set_image``) and
 * then answers prompts (``predict``), a session is made fresh for each image the page
 * shows and closed when the page moves on: nothing of one image's state can leak into
 * the next, and work still running for a closed session (a decode, a save) finishes
 * without touching the screen.
 *
 * The session draws nothing and reads no DOM: it tells its ``SessionEvents`` what
 * changed, and the page redraws from the session's getters.
 */

import type { PointLabels, Prompt } from "../lib/prompts";
import { type Rle, encodeRle } from "../lib/rle";
import { type Point, ResizeTransform, type Size } from "../lib/transform";
import type { Annotation, AnnotationStore } from "./api";
import { HttpError } from "./cache";
import type { ClassChoice } from "./classes";
import type { ImageConfig } from "./config";
import type { DecodeInput } from "./decoder-client";
import { describe } from "./errors";
import {
  type AnnotationPayload,
  EMPTY_PROMPT,
  History,
  addPoint,
  isEmpty,
  usesCandidates,
  withBox,
} from "./history";
import { PromptMasks, bestCandidate } from "./prompt-masks";
// mask editing (#16)
import { removeIslands } from "../lib/mask-ops";
import { type EditAction, type EditPort, replayEdit } from "./edit-changes";
import type { DecodeReply } from "./protocol";
import { type CropFrame, frameFor, frameMask, framePrompt } from "./crop-frame"; // crop detail (#16)

/** The decoders, as the session uses them (the DecoderClient, or a fake in tests). */
export interface DecoderPort {
  /** A fast decode on the worker's current embedding; null when superseded or failed. */
  decode(input: DecodeInput): Promise<DecodeReply | null>;
  /** An exact decode on ``key``'s embedding; null when it failed. */
  exact(key: string, input: DecodeInput): Promise<DecodeReply | null>;
}

/** Hands an image's embedding to the worker (the EmbeddingLoader). */
export interface EmbeddingPort {
  activate(url: string, sha256: string | null, stillWanted: () => boolean): Promise<boolean>;
}

/** Counts the writes under way (saves, deletes, relabels), so that leaving the page
 * meanwhile can ask first. */
export interface WriteGuard {
  run<T>(work: () => Promise<T>): Promise<T>;
}

/** The decoder's frame, from the manifest. */
export interface ModelFrame {
  readonly imageSize: number; // the model's input side, 1024
  readonly lowResMaskSize: number; // the low-res masks' side, 256
  readonly maskThreshold: number;
  readonly pointLabels: PointLabels;
}

/** When a mask was put on screen, for the timings. All times are performance.now() ms. */
export interface DecodeTiming {
  readonly hover: boolean;
  /** When the user acted (the click, or the hover decode's start). */
  readonly since: number;
  /** The worker's time for the decode. */
  readonly decodeMs: number;
  /** From ``since`` to the answer, and to the mask drawn (not yet on screen). */
  readonly replyMs: number;
  readonly drawnMs: number;
  /** Prompt points, box corners counted. */
  readonly points: number;
}

/** What a session tells the page. */
export interface SessionEvents {
  say(message: string, isError: boolean): void;
  /** The live mask, the prompt or the candidate on screen changed: redraw them. */
  live(): void;
  /** The saved annotations, their visibility or the selection changed. */
  annotations(): void;
  decoded(timing: DecodeTiming): void;
  /** Counters for tests and people: decodes asked of the worker (hover included), masks
   * shown for the prompt itself, exact decodes asked. */
  count(what: "requests" | "decodes" | "refinements"): void;
}

export interface SessionContext {
  readonly decoder: DecoderPort;
  readonly embeddings: EmbeddingPort;
  readonly store: AnnotationStore;
  readonly classes: ClassChoice;
  readonly writes: WriteGuard;
  readonly model: ModelFrame;
  /** Whether clicks are decoded again with the exact decoder (false when the decoder
   * chosen is itself the exact one, or for benchmarks of other decoders). */
  readonly refining: boolean;
  /** Whether the fast decoder is the exact one. */
  readonly fastIsExact: boolean;
  readonly events: SessionEvents;
}

/** A saved annotation of the image, and whether it is drawn. */
export interface SavedAnnotation {
  readonly annotation: Annotation;
  readonly visible: boolean;
}

interface Entry {
  annotation: Annotation;
  visible: boolean;
}

/** Which of SAM's three candidates is on screen after a single click: ``index`` and
 * ``best`` (SAM's choice, by predicted IoU) are 1-3. */
export interface CandidateShown {
  readonly index: number;
  readonly count: number;
  readonly best: number;
}

// The exact decode starts this long after a click's mask is on screen, if no other click
// came, and takes about as long as a decode again: over before a person, who looks at the
// mask first, clicks again (a click that comes while it runs waits for it), and after a
// benchmark script's next click.
export const REFINE_AFTER_MS = 150;
/** How often an image still being encoded is asked for its status. */
export const ENCODING_POLL_MS = 1500;

export class ImageSession {
  readonly size: Size;
  private readonly transform: ResizeTransform;
  private readonly history = new History();
  /** This image's prompts' masks, fast and exact. */
  private readonly masks: PromptMasks<DecodeReply>;
  private current: Prompt = EMPTY_PROMPT;
  /** The masks on screen and the prompt they are for (a hovered point's, while the
   * prompt is empty). */
  private onScreen: { prompt: Prompt; masks: DecodeReply } | null = null;
  private lastHover: { prompt: Prompt; reply: DecodeReply } | null = null;
  /** The hover decode on its way, so that a click on the same point waits for it rather
   * than queueing the same decode again behind it. */
  private pendingHover: { prompt: Prompt; reply: Promise<DecodeReply | null> } | null = null;
  private refineTimer: ReturnType<typeof setTimeout> | undefined;
  private clickedAt = 0; // performance.now() of the last click or box, for the timings
  private clickable = false; // the worker has this image's embedding
  private closed = false;
  private readonly entries: Entry[] = [];
  // crop detail (#16): the crop new prompts are decoded in (null: the whole image), and
  // each prompt's frame, which it keeps for good (a prompt grown from another, its undo
  // and its exact decode stay in the frame it started in).
  private detail: CropFrame | null = null;
  private readonly frames = new WeakMap<Prompt, CropFrame | null>();
  private selectedId: number | null = null;
  /** The proposal the prompt started from (its point the first click), recorded with the
   * saved annotation; null for a prompt of the user's own clicks. */
  private fromProposal: number | null = null;
  /** The cursor went onto a proposal: a hovered point's mask still on its way stays off
   * the screen. */
  private hoverDropped = false;

  constructor(
    readonly image: ImageConfig,
    private readonly ctx: SessionContext,
  ) {
    this.size = { height: image.height, width: image.width };
    this.transform = new ResizeTransform(this.size, ctx.model.imageSize);
    this.masks = new PromptMasks(ctx.model.lowResMaskSize * ctx.model.lowResMaskSize);
  }

  // ------------------------------------------------------------ life

  /** Makes the image clickable: waits for its encoding if need be (polling its status,
   * as the server encodes in the background), then gives the worker its embedding.
   * True once clickable; false if the session was closed meanwhile. */
  async open(): Promise<boolean> {
    const { image } = this;
    const sha256 = image.embeddingSha256s[image.embeddingUrl] ?? null;
    // A known content hash means the embedding exists: no need to ask for the status.
    if (sha256 === null && !(await this.waitUntilEncoded())) return false;
    if (!(await this.ctx.embeddings.activate(image.embeddingUrl, sha256, () => !this.closed))) return false;
    this.clickable = true;
    // A click made while the embedding was on its way gets its mask now.
    if (!isEmpty(this.current)) void this.decode(this.current, false);
    return true;
  }

  /** Lists the image's saved annotations, once the label classes are known too. */
  async loadAnnotations(): Promise<void> {
    const [annotations] = await Promise.all([
      this.ctx.store.list(this.image.annotationsUrl),
      this.ctx.classes.ready,
    ]);
    if (this.closed) return;
    // A save that came back first is listed already.
    const known = new Set(this.entries.map((e) => e.annotation.id));
    const fresh = annotations.filter((a) => !known.has(a.id));
    this.entries.unshift(...fresh.map((annotation) => ({ annotation, visible: true })));
    this.ctx.events.annotations();
  }

  /** The page moved on: work still under way finishes without touching the screen. */
  close(): void {
    this.closed = true;
    this.cancelRefine();
  }

  get isClosed(): boolean {
    return this.closed;
  }

  get isClickable(): boolean {
    return this.clickable && !this.closed;
  }

  private async waitUntilEncoded(): Promise<boolean> {
    for (;;) {
      const status = await this.ctx.store.imageStatus(this.image.imageStatusUrl);
      if (this.closed) return false;
      if (status.status === "ready") return true;
      if (status.status === "failed") throw new Error(`encoding failed: ${status.failure_reason}`);
      this.say(`The image is being encoded (${status.status}); it becomes clickable by itself.`);
      await new Promise((resolve) => setTimeout(resolve, ENCODING_POLL_MS));
      if (this.closed) return false;
    }
  }

  // ------------------------------------------------------------ what is on screen

  get prompt(): Prompt {
    return this.current;
  }

  /** The low-res logits (256, 256) of the mask on screen, null when there is none. */
  get liveLogits(): Float32Array | null {
    const shown = this.onScreen;
    return shown ? this.masks.chosen(shown.prompt, shown.masks) : null;
  }

  /** crop detail (#16): the crop the mask on screen was decoded in; null for the whole
   * image's (``liveLogits`` are then in that crop's model frame). */
  get liveFrame(): CropFrame | null {
    return this.onScreen ? this.frameOf(this.onScreen.prompt) : null;
  }

  /** crop detail (#16): decode the prompts started from now on (and hovers) in ``crop``'s
   * frame, whose embedding the worker holds; null: in the whole image's. */
  setDetail(crop: CropFrame | null): void {
    this.detail = crop;
  }

  /** crop detail (#16): the frame ``p`` is decoded in (given it the first time: a prompt
   * grown from another keeps that one's, a new one takes the detail in use if the crop
   * holds it, crop-frame.ts's ``frameFor``). */
  private frameOf(p: Prompt, grownFrom: Prompt | null = null): CropFrame | null {
    let frame = this.frames.get(p);
    if (frame === undefined) {
      frame = grownFrom && !isEmpty(grownFrom) ? this.frameOf(grownFrom) : frameFor(this.detail, p);
      this.frames.set(p, frame);
    }
    return frame;
  }

  /** Whether the mask on screen is the exact decoder's one for the prompt. */
  get exactOnScreen(): boolean {
    const shown = this.onScreen;
    if (shown === null || shown.prompt !== this.current) return false;
    return this.ctx.fastIsExact || this.masks.shown(shown.prompt)?.exact === true;
  }

  /** The candidate on screen after a single click; null otherwise (no mask yet, several
   * points or a box, a hovered point's mask). */
  get candidate(): CandidateShown | null {
    const shown = this.onScreen;
    if (!shown || shown.prompt !== this.current || !usesCandidates(this.current) || shown.masks.iou.length !== 4) {
      return null;
    }
    return { index: this.masks.candidate(this.current, shown.masks), count: 3, best: bestCandidate(shown.masks.iou) };
  }

  /** Whether the mask on screen is the prompt's own (not a hovered point's). */
  get promptMaskOnScreen(): boolean {
    return this.onScreen !== null && this.onScreen.prompt === this.current && !isEmpty(this.current);
  }

  /** The mask on screen for the prompt as COCO RLE at the image's size; null when there
   * is none. */
  promptMaskRle(): Rle | null {
    const lowRes = this.promptMaskOnScreen ? this.liveLogits : null;
    if (!lowRes) return null;
    const { model } = this.ctx;
    const crop = this.liveFrame; // crop detail (#16)
    const mask = frameMask(lowRes, model.lowResMaskSize, model.imageSize, model.maskThreshold, crop, this.size);
    return encodeRle(mask, this.size.height, this.size.width);
  }

  /** The proposal the prompt started from, if any. */
  get proposalId(): number | null {
    return this.fromProposal;
  }

  get annotations(): readonly SavedAnnotation[] {
    return this.entries;
  }

  get selected(): number | null {
    return this.selectedId;
  }

  // ------------------------------------------------------------ prompts

  click(point: Point, positive: boolean): void {
    this.clickedAt = performance.now();
    this.setPrompt(addPoint(this.current, point, positive));
  }

  box(box: readonly [number, number, number, number]): void {
    this.clickedAt = performance.now();
    this.setPrompt(withBox(this.current, box));
  }

  /** The cursor rests at ``point``: shows the mask a click there would give. */
  hover(point: Point): void {
    if (!isEmpty(this.current) || !this.isClickable) return;
    this.hoverDropped = false;
    void this.decode({ points: [point], positive: [true], box: null }, true);
  }

  clear(): void {
    this.setPrompt(EMPTY_PROMPT);
  }

  /** Takes a hovered point's mask off the screen (the cursor is on a proposal, which is
   * highlighted instead); a prompt's mask stays. */
  dropHover(): void {
    this.hoverDropped = true;
    if (this.onScreen === null || this.onScreen.prompt === this.current) return;
    this.onScreen = null;
    this.ctx.events.live();
  }

  /** Starts a prompt from proposal ``proposalId``: its ``seed`` point (image pixels, the
   * grid point that made it) as the first positive click, then ``point``; SAM refines the
   * proposal from there, and a save records the proposal. ``extent``: the proposal's box
   * ([x0, y0, x1, y1], image pixels). */
  refineProposal(
    proposalId: number,
    seed: Point,
    point: Point,
    positive: boolean,
    extent: readonly [number, number, number, number] | null = null,
  ): void {
    this.clickedAt = performance.now();
    const next = addPoint(addPoint(EMPTY_PROMPT, seed, true), point, positive);
    // crop detail (#16): refined on the crop in use when the crop holds the proposal and
    // both points, else on the whole image (a proposal cut at the crop's edges would lose
    // its outside part). A proposal reaches the page as an RLE mask, without low-res
    // logits to feed back as a mask prompt; such logits would be in the whole image's
    // model frame anyway, which a crop's decode cannot take without resampling a cut of
    // them. So a refined proposal is decoded from its clicks only (its seed point and
    // the user's), in either frame.
    this.frames.set(next, frameFor(this.detail, next, extent));
    this.setPrompt(next);
    this.fromProposal = proposalId;
  }

  /** Lists an annotation made elsewhere for this image (an accepted proposal) as a save
   * of this session: undo deletes it, redo saves its mask again. */
  adopt(annotation: Annotation): void {
    if (this.closed || this.entries.some((e) => e.annotation.id === annotation.id)) return;
    this.entries.push({ annotation, visible: true });
    const { label_class, rle, prompts } = annotation;
    this.history.record({ kind: "save", annotationId: annotation.id, payload: { label_class, rle, prompts } });
    this.ctx.events.annotations();
  }

  /** Shows the next of SAM's candidates; false when the prompt has none to choose. */
  nextCandidate(): boolean {
    const shown = this.candidate;
    if (!shown) return false;
    return this.chooseCandidate((shown.index % shown.count) + 1);
  }

  /** Shows candidate ``index`` (1-3); false when the prompt has none to choose. */
  chooseCandidate(index: number): boolean {
    if (!this.candidate) return false;
    this.masks.pick(this.current, index);
    this.ctx.events.live();
    return true;
  }

  // ------------------------------------------------------------ saved annotations

  select(id: number): void {
    this.selectedId = this.selectedId === id ? null : id;
    this.ctx.events.annotations();
  }

  /** Selects ``id`` (a review's annotation under review), whatever was selected. */
  selectOnly(id: number | null): void {
    if (this.selectedId === id) return;
    this.selectedId = id;
    this.ctx.events.annotations();
  }

  toggleVisible(id: number): void {
    const entry = this.entries.find((e) => e.annotation.id === id);
    if (!entry) return;
    entry.visible = !entry.visible;
    this.ctx.events.annotations();
  }

  /** Saves the prompt's mask (the exact one, waited for if need be) under the current
   * class; the next click starts a new object at once. With ``replacing``, the mask and
   * prompts replace that saved annotation's instead (a new version of it, its class
   * kept; not undoable, its history keeps the old mask). */
  save(replacing: number | null = null): Promise<void> {
    return this.ctx.writes.run(() => this.saveNow(replacing));
  }

  private async saveNow(replacing: number | null): Promise<void> {
    const pressedAt = performance.now();
    if (isEmpty(this.current)) return this.say("Click an object first.");
    const replaced = replacing === null ? null : this.entries.find((e) => e.annotation.id === replacing);
    if (replaced === undefined) return this.say(`Annotation #${replacing} is no longer listed.`, true);
    const label = this.ctx.classes.current;
    if (!label) return this.say("This project has no label classes yet: a manager adds them.", true);
    const keep = this.current;
    const book = this.masks;
    const { model } = this.ctx;
    // What is saved is the candidate the user saw, even if the exact decode, still to
    // come, would rank another first.
    if (this.onScreen?.prompt === keep) book.pick(keep, book.candidate(keep, this.onScreen.masks));
    if (!book.hasExact(keep)) this.say("Saving…");
    const exact = this.ctx.refining ? this.refine(keep) : null;
    const proposalId = this.fromProposal;
    this.setPrompt(EMPTY_PROMPT, false); // the next click starts a new object at once
    // The exact masks; the fast ones if there is no exact decoder or it failed (the
    // click's own decode, which may still be running when Enter comes right after it).
    let masksOf = exact ? await exact : null;
    const approximate = exact !== null && !masksOf;
    if (approximate) console.warn("the exact decoder failed: saving the fast decoder's mask");
    masksOf ??= book.shown(keep)?.masks ?? (await book.pending(keep));
    if (!masksOf) {
      if (isEmpty(this.current) && !this.closed) this.setPrompt(keep, false);
      return this.say("Not saved: the mask was not decoded. Press Enter to try again.", true);
    }
    const lowRes = book.chosen(keep, masksOf);
    performance.measure("samlabel:enter-to-mask", { start: pressedAt }); // the wait for the exact decode
    // crop detail (#16): a crop's mask is put back in the image's frame.
    const raw = frameMask(lowRes, model.lowResMaskSize, model.imageSize, model.maskThreshold, this.frameOf(keep), this.size);
    // mask editing (#16): the project's smallest island size, reported and undoable.
    const islands = this.withoutIslands(raw);
    const mask = islands?.mask ?? raw;
    const payload: AnnotationPayload = {
      label_class: label.id,
      rle: encodeRle(mask, this.size.height, this.size.width),
      prompts: {
        points: keep.points.map(([x, y]) => [x, y] as const),
        labels: keep.positive.map((p) => (p ? 1 : 0)),
        box: keep.box,
      },
      ...(proposalId === null ? {} : { proposal_id: proposalId }),
    };
    if (replaced) return this.replaceMask(replaced, payload, keep);
    try {
      const annotation = await this.create(payload);
      if (this.closed) return; // saved; the page shows another image now
      this.history.record({ kind: "save", annotationId: annotation.id, payload });
      // Said, as the mask saved is then the 8-bit one, which may differ a little.
      let said = `Saved as ${label.name}${approximate ? " (the fp32 decoder failed: 8-bit mask)" : ""}.`;
      if (islands) said += " " + this.recordIslands(annotation.id, raw, payload.rle, islands);
      this.say(said);
    } catch (error) {
      if (this.closed) {
        this.ctx.events.say(`An annotation of the previous image was not saved: ${describe(error)}`, true);
        return;
      }
      // Nothing is lost: the prompt comes back for another try, unless a new one began.
      if (isEmpty(this.current)) this.setPrompt(keep, false);
      this.say(`Not saved: ${describe(error)}. Press Enter to try again.`, true);
    }
  }

  /** Gives ``entry`` the mask and prompts of ``payload``; on failure the prompt comes
   * back for another try. */
  private async replaceMask(entry: Entry, payload: AnnotationPayload, keep: Prompt): Promise<void> {
    const { id, version } = entry.annotation;
    const { rle, prompts } = payload;
    try {
      const annotation = await this.ctx.store.editMask(this.annotationUrl(id), version, { rle, prompts });
      if (this.closed) return;
      entry.annotation = annotation;
      this.say(`#${id}: mask replaced (version ${annotation.version}).`);
      this.ctx.events.annotations();
    } catch (error) {
      if (this.closed) return;
      if (isEmpty(this.current)) this.setPrompt(keep, false);
      this.say(stale(error) ? STALE : `Mask not replaced: ${describe(error)}`, true);
    }
  }

  /** Creates an annotation of this image, even if the session closes while the request
   * (or its retries) runs; lists it only if the session is still open. */
  private create(payload: AnnotationPayload): Promise<Annotation> {
    return this.ctx.writes.run(async () => {
      const annotation = await this.ctx.store.create(this.image.annotationsUrl, payload, (attempt) =>
        this.say(`Saving failed; retrying (${attempt})…`, true),
      );
      if (!this.closed) {
        this.entries.push({ annotation, visible: true });
        this.ctx.events.annotations();
      }
      return annotation;
    });
  }

  /** Deletes the selected annotation (undoable). */
  deleteSelected(): void {
    if (this.selectedId !== null) void this.remove(this.selectedId);
  }

  /** Deletes annotation ``id``; ``record``: as an undoable action. True once deleted. */
  remove(id: number, record = true): Promise<boolean> {
    return this.ctx.writes.run(async () => {
      const entry = this.entries.find((e) => e.annotation.id === id);
      if (!entry) return false;
      try {
        await this.ctx.store.remove(this.annotationUrl(id), entry.annotation.version, (attempt) =>
          this.say(`Deleting failed; retrying (${attempt})…`, true),
        );
      } catch (error) {
        this.say(stale(error) ? STALE : `Not deleted: ${describe(error)}`, true);
        return false;
      }
      if (this.closed) return true; // deleted; the page shows another image now
      this.entries.splice(this.entries.indexOf(entry), 1);
      if (this.selectedId === id) this.selectedId = null;
      if (record) {
        const { label_class, rle, prompts } = entry.annotation;
        this.history.record({ kind: "delete", annotationId: id, payload: { label_class, rle, prompts } });
        this.say(`Deleted #${id}; Ctrl+Z brings it back.`);
      }
      this.ctx.events.annotations();
      return true;
    });
  }

  relabel(id: number, labelId: number): Promise<void> {
    return this.ctx.writes.run(async () => {
      const entry = this.entries.find((e) => e.annotation.id === id);
      if (!entry) return;
      try {
        const annotation = await this.ctx.store.relabel(this.annotationUrl(id), entry.annotation.version, labelId);
        if (this.closed) return; // relabelled; the page shows another image now
        entry.annotation = annotation;
        this.ctx.events.annotations();
      } catch (error) {
        this.say(stale(error) ? STALE : `Not relabelled: ${describe(error)}`, true);
      }
    });
  }

  private annotationUrl(id: number): string {
    return this.image.annotationUrlTemplate.replace(/0\/$/, `${id}/`);
  }

  // ------------------------------------------------------------ undo

  async undo(): Promise<void> {
    const action = this.history.undo();
    if (!action) return this.say("Nothing to undo.");
    try {
      if (action.kind === "prompt") this.setPrompt(action.before, false);
      else if (action.kind === "edit") {
        await replayEdit(action, "undo", this.editPort); // mask editing (#16)
        this.say(`Undone: ${action.what}.`);
      } else if (action.kind === "save") {
        if (await this.remove(action.annotationId, false)) this.say(`Save undone: #${action.annotationId} deleted.`);
      } else {
        const annotation = await this.create(action.payload);
        this.history.renumber(action.annotationId, annotation.id);
        this.say(`Delete undone: saved again as #${annotation.id}.`);
      }
    } catch (error) {
      this.say(`Not undone: ${describe(error)}`, true);
    }
  }

  async redo(): Promise<void> {
    const action = this.history.redo();
    if (!action) return this.say("Nothing to redo.");
    try {
      if (action.kind === "prompt") this.setPrompt(action.after, false);
      else if (action.kind === "edit") {
        await replayEdit(action, "redo", this.editPort); // mask editing (#16)
        this.say(`Redone: ${action.what}.`);
      } else if (action.kind === "save") {
        const annotation = await this.create(action.payload);
        this.history.renumber(action.annotationId, annotation.id);
        this.say(`Save redone: saved again as #${annotation.id}.`);
      } else if (await this.remove(action.annotationId, false)) {
        this.say(`Delete redone: #${action.annotationId} deleted.`);
      }
    } catch (error) {
      this.say(`Not redone: ${describe(error)}`, true);
    }
  }

  // ------------------------------------------------------------ mask editing (#16)
  // What the edit tools (edit-*.ts) need of the session: a saved annotation's mask
  // replaced as a new version, annotations created and deleted, edit steps recorded for
  // undo, and SAM's mask for one point. Failures are thrown, for the tools to report.

  /** The saved annotation ``id`` as listed, or null. */
  annotationById(id: number): Annotation | null {
    return this.entries.find((e) => e.annotation.id === id)?.annotation ?? null;
  }

  /** Lists ``annotation`` as it is now on the server (after a conflict's answer). */
  refreshAnnotation(annotation: Annotation): void {
    const entry = this.entries.find((e) => e.annotation.id === annotation.id);
    if (!entry || this.closed) return;
    entry.annotation = annotation;
    this.ctx.events.annotations();
  }

  /** Undo and redo of edit steps, and the tools' own writes, go through this. */
  readonly editPort: EditPort = {
    setMask: (id, rle) =>
      this.ctx.writes.run(async () => {
        const entry = this.entries.find((e) => e.annotation.id === id);
        if (!entry) throw new Error(`annotation #${id} is no longer listed`);
        const { version, prompts } = entry.annotation;
        const annotation = await this.ctx.store.editMask(this.annotationUrl(id), version, { rle, prompts });
        if (!this.closed) {
          entry.annotation = annotation;
          this.ctx.events.annotations();
        }
        return annotation;
      }),
    create: (payload) => this.create(payload),
    remove: (id) =>
      this.ctx.writes.run(async () => {
        const entry = this.entries.find((e) => e.annotation.id === id);
        if (!entry) throw new Error(`annotation #${id} is no longer listed`);
        await this.ctx.store.remove(this.annotationUrl(id), entry.annotation.version, () => undefined);
        if (this.closed) return;
        this.entries.splice(this.entries.indexOf(entry), 1);
        if (this.selectedId === id) this.selectedId = null;
        this.ctx.events.annotations();
      }),
    merge: (keptId, otherId) => this.mergeAnnotations(keptId, otherId),
    unmerge: (keptId, before, otherId, payload) => this.unmergeAnnotations(keptId, before, otherId, payload),
    renumber: (oldId, newId) => this.history.renumber(oldId, newId),
  };

  /** Merges saved annotation ``otherId`` into ``keptId`` in one request, at their
   * versions as listed: the kept one is then listed as the server answers (the union of
   * both stored masks, a new version) and the other no longer. Throws when it cannot (an
   * HttpError 409 with the changed one as it is now when either changed meanwhile). */
  mergeAnnotations(keptId: number, otherId: number): Promise<Annotation> {
    return this.ctx.writes.run(async () => {
      const kept = this.entries.find((e) => e.annotation.id === keptId);
      const other = this.entries.find((e) => e.annotation.id === otherId);
      if (!kept || !other) throw new Error(`annotation #${kept ? otherId : keptId} is no longer listed`);
      const { store } = this.ctx;
      if (!store.merge) throw new Error("this annotation store cannot merge");
      const url = this.annotationUrl(keptId);
      const annotation = await store.merge(url, otherId, kept.annotation.version, other.annotation.version);
      if (!this.closed) {
        kept.annotation = annotation;
        const at = this.entries.indexOf(other);
        if (at >= 0) this.entries.splice(at, 1);
        if (this.selectedId === otherId) this.selectedId = null;
        this.ctx.events.annotations();
      }
      return annotation;
    });
  }

  /** Undoes a merge into saved annotation ``keptId`` in one request, at its version as
   * listed: it is then listed as the server answers (its mask ``before`` the merge back,
   * a new version), and annotation ``otherId`` made again from ``payload`` under the new
   * id the server gave it, which this returns. Throws when it cannot (an HttpError 409
   * with the kept one as it is now when it changed meanwhile); then nothing changed. */
  unmergeAnnotations(keptId: number, before: Rle, otherId: number, payload: AnnotationPayload): Promise<Annotation> {
    return this.ctx.writes.run(async () => {
      const kept = this.entries.find((e) => e.annotation.id === keptId);
      if (!kept) throw new Error(`annotation #${keptId} is no longer listed`);
      const { store } = this.ctx;
      if (!store.unmerge) throw new Error("this annotation store cannot unmerge");
      const url = this.annotationUrl(keptId);
      const answer = await store.unmerge(url, kept.annotation.version, before, { id: otherId, payload });
      if (!this.closed) {
        kept.annotation = answer.kept;
        this.entries.push({ annotation: answer.other, visible: true });
        this.ctx.events.annotations();
      }
      return answer.other;
    });
  }

  /** Records a done edit step for undo. */
  recordEdit(action: EditAction): void {
    if (!this.closed) this.history.record(action);
  }

  /** SAM's mask (row-major 0/1 at the image's size) for one positive point (image
   * pixels), its best of the three candidates, and the crop it was decoded in (null: the
   * whole image); null when the image is not clickable yet or the decode was superseded.
   * crop detail (#16): decoded on the crop in use when it holds the point, as a click
   * would be, and put back in the image's frame (0 outside the crop's box). */
  async pointMask(point: Point): Promise<{ mask: Uint8Array; frame: CropFrame | null } | null> {
    if (!this.isClickable) return null;
    const { model } = this.ctx;
    const prompt: Prompt = { points: [point], positive: [true], box: null };
    const frame = frameFor(this.detail, prompt);
    const framed = framePrompt(prompt, frame, this.transform, this.size, model.pointLabels);
    const reply = await this.ctx.decoder.decode({ ...framed, maskInput: null });
    if (!reply || this.closed) return null;
    const cells = model.lowResMaskSize * model.lowResMaskSize;
    const best = bestCandidate(reply.iou);
    const lowRes = reply.lowRes.subarray(best * cells, (best + 1) * cells);
    const mask = frameMask(lowRes, model.lowResMaskSize, model.imageSize, model.maskThreshold, frame, this.size);
    return { mask, frame };
  }

  /** ``mask`` without the parts smaller than the project's setting; null when it has
   * none that small (or keeping them is all there would be). */
  private withoutIslands(mask: Uint8Array): { mask: Uint8Array; removed: number; removedPixels: number } | null {
    const minPixels = this.image.minIslandPixels ?? 0;
    if (minPixels <= 1) return null;
    const result = removeIslands(mask, this.size, minPixels);
    if (result.removed === 0 || result.removedPixels === mask.reduce((n, v) => n + v, 0)) return null;
    return result;
  }

  /** Records the islands taken off a new annotation as an edit step, which undo gives
   * back; says what was removed. */
  private recordIslands(
    id: number,
    raw: Uint8Array,
    cleaned: Rle,
    islands: { removed: number; removedPixels: number },
  ): string {
    const before = encodeRle(raw, this.size.height, this.size.width);
    this.history.record({ kind: "edit", what: "island removal", changes: [{ kind: "mask", id, before, after: cleaned }] });
    const { removed, removedPixels } = islands;
    const minPixels = this.image.minIslandPixels ?? 0;
    return `Removed ${removed} island${removed > 1 ? "s" : ""} (${removedPixels} px) under ${minPixels} px; Ctrl+Z brings ${removed > 1 ? "them" : "it"} back.`;
  }

  // ------------------------------------------------------------ decoding

  private say(message: string, isError = false): void {
    if (!this.closed) this.ctx.events.say(message, isError);
  }

  private setPrompt(next: Prompt, record = true): void {
    this.frameOf(next, this.current); // crop detail (#16)
    if (record) this.history.record({ kind: "prompt", before: this.current, after: next });
    if (record && !isEmpty(this.current) && !isEmpty(next)) this.masks.follow(next, this.current);
    this.cancelRefine();
    // The object is saved or given up: the next prompt is the user's own.
    if (isEmpty(next)) this.fromProposal = null;
    this.current = next;
    const known = this.masks.shown(next);
    const { lastHover, pendingHover } = this;
    if (isEmpty(next)) {
      this.onScreen = null;
      this.ctx.events.live();
    } else if (known) {
      // Undo, redo, or a prompt given back after a failed save: its masks are known.
      this.onScreen = { prompt: next, masks: known.masks };
      this.ctx.events.live();
      this.ctx.events.count("decodes");
      this.scheduleRefine(next);
    } else if (lastHover && samePrompt(lastHover.prompt, next) && this.sameFrame(lastHover.prompt, next)) {
      // The mask under the cursor is already decoded: a click shows it with no new decode.
      this.show(lastHover.reply, next, this.clickedAt, false);
    } else if (pendingHover && samePrompt(pendingHover.prompt, next) && this.sameFrame(pendingHover.prompt, next)) {
      // It is being decoded: the click shows it when it comes (a newer hover may have
      // replaced it before it started; then the click decodes after all).
      const reply = pendingHover.reply;
      this.masks.setPending(next, reply);
      void reply.then((masksOf) => {
        if (this.closed) return;
        if (masksOf) this.masks.setFast(next, masksOf);
        if (next !== this.current) return;
        if (masksOf) this.show(masksOf, next, this.clickedAt, false);
        else void this.decode(next, false);
      });
    } else void this.decode(next, false);
  }

  private async decode(p: Prompt, hover: boolean): Promise<void> {
    // Until the worker has this image's embedding, a decode would use another image's.
    if (isEmpty(p) || !this.isClickable) return;
    const { model } = this.ctx;
    // crop detail (#16): in the prompt's frame (the whole image's unless a crop is in use).
    const framed = framePrompt(p, this.frameOf(p), this.transform, this.size, model.pointLabels);
    const maskInput = hover ? null : this.masks.fastFeed(p);
    const t0 = performance.now();
    this.ctx.events.count("requests");
    const request = this.ctx.decoder.decode({ ...framed, maskInput });
    if (hover) this.pendingHover = { prompt: p, reply: request };
    else this.masks.setPending(p, request);
    const reply = await request;
    if (!reply || this.closed) return; // superseded by a newer prompt, or the page moved on
    if (hover) {
      this.lastHover = { prompt: p, reply };
      // A click came meanwhile: its own mask, not the hovered one, belongs on screen.
      if (!isEmpty(this.current) || this.hoverDropped) return;
    } else {
      this.masks.setFast(p, reply); // Enter may have been pressed meanwhile
      if (p !== this.current) return;
    }
    this.show(reply, p, hover ? t0 : this.clickedAt, hover);
  }

  /** crop detail (#16): whether two prompts are decoded in the same frame. */
  private sameFrame(a: Prompt, b: Prompt): boolean {
    return (this.frames.get(a) ?? null) === (this.frames.get(b) ?? null);
  }

  /** Puts a decode on screen; ``since`` is when the user acted, for the timings. */
  private show(reply: DecodeReply, p: Prompt, since: number, hover: boolean): void {
    const replyMs = performance.now() - since; // the answer is back from the worker
    if (!hover) this.masks.setFast(p, reply);
    // An exact decode of the same prompt may have come first (after undo and redo).
    this.onScreen = { prompt: p, masks: hover ? reply : (this.masks.shown(p)?.masks ?? reply) };
    this.ctx.events.live();
    const drawnMs = performance.now() - since; // drawn, not yet on screen
    const points = p.points.length + (p.box ? 2 : 0);
    this.ctx.events.decoded({ hover, since, decodeMs: reply.ms, replyMs, drawnMs, points });
    if (!hover) {
      this.ctx.events.count("decodes");
      this.scheduleRefine(p);
    }
  }

  private cancelRefine(): void {
    if (this.refineTimer !== undefined) clearTimeout(this.refineTimer);
    this.refineTimer = undefined;
  }

  /** Starts the exact decode of ``p`` in a moment, unless the prompt changes meanwhile. */
  private scheduleRefine(p: Prompt): void {
    this.cancelRefine();
    if (!this.ctx.refining || this.masks.hasExact(p)) return;
    this.refineTimer = setTimeout(() => {
      this.refineTimer = undefined;
      if (p === this.current && !this.closed) void this.refine(p);
    }, REFINE_AFTER_MS);
  }

  /** The exact masks of ``p`` (the chain of prompts it grew from first): shown in place
   * of the fast ones if ``p`` is still the prompt. */
  private async refine(p: Prompt): Promise<DecodeReply | null> {
    const { model, decoder, events } = this.ctx;
    const crop = this.frameOf(p); // crop detail (#16): the chain p grew from shares its frame
    const key = crop?.key ?? this.image.embeddingUrl;
    const exact = await this.masks.exactOf(p, (q, maskInput) => {
      events.count("refinements");
      const { coords, labels, origSize } = framePrompt(q, crop, this.transform, this.size, model.pointLabels);
      const start = performance.now();
      return decoder.exact(key, { coords, labels, maskInput, origSize }).then((reply) => {
        // From asking to the answer, and the worker's part of it (which includes starting
        // the exact session and its image stage, the first time).
        if (reply) performance.measure("samlabel:exact-decode", { start, detail: { workerMs: reply.ms } });
        return reply;
      });
    });
    if (exact && !this.closed && p === this.current) {
      this.onScreen = { prompt: p, masks: exact };
      events.live();
    }
    return exact;
  }
}

const STALE = "Someone changed this annotation meanwhile; reload to see it.";

function stale(error: unknown): boolean {
  return error instanceof HttpError && error.status === 409;
}

/** Two single positive or negative clicks on the same spot (within half a pixel). */
function samePrompt(a: Prompt, b: Prompt): boolean {
  const [pa, pb] = [a.points[0], b.points[0]];
  return (
    a.box === null &&
    b.box === null &&
    a.points.length === 1 &&
    b.points.length === 1 &&
    a.positive[0] === b.positive[0] &&
    pa !== undefined &&
    pb !== undefined &&
    Math.hypot(pa[0] - pb[0], pa[1] - pb[1]) < 0.5
  );
}
