/**
 * Editing saved annotations: select one (a click with the select tool, or the list),
 * then paint on it with the brush, wipe with the eraser, add (Shift+click) or remove
 * (Shift+right-click) the region SAM finds at a point, fill its holes, merge another
 * annotation of its class into it, or split it into its connected parts.
 *
 * Each step is saved at once as a new version of the annotation (through its version
 * check: a conflict is reported, the other person's mask shown, and nothing of ours
 * written over it), and recorded as one undoable step (edit-changes.ts). Saves run one
 * after another in the order of the steps; the mask on screen is the local one, ahead
 * of the server while saves are under way.
 *
 * The annotation under edit is a full-size 0/1 mask (row-major, image pixels) kept here;
 * a brush or eraser move stamps only its own segment into it (lib/mask-ops.ts) and onto
 * the overlay canvas (edit-overlay.ts), so that a stroke follows the pointer whatever
 * the image's size. The stroke's end costs its own box too: the RLE is patched there
 * (lib/rle-patch.ts) and only that box is painted again (edit-layer.ts), where encoding
 * and painting a 24-megapixel mask whole blocked the page for 100-150 ms after each
 * stroke, a hitch in the next one.
 */

import { type PixelBox, area, difference, fillHoles, splitParts, stampSegment, union } from "../lib/mask-ops";
import { maskBounds } from "../lib/mask";
import { type Rle, compressCounts, decodeRle, decompressCounts, encodeRle } from "../lib/rle";
import { patchRuns, runsArea, unionBox } from "../lib/rle-patch";
import type { Point, Size } from "../lib/transform";
import { type Annotation, annotationBox } from "./api";
import { HttpError } from "./cache";
import type { EditAction, EditChange } from "./edit-changes";
import { EditLayer } from "./edit-layer";
import type { EditOverlay } from "./edit-overlay";
import { describe } from "./errors";
import type { ImageSession } from "./session";

export type EditTool = "none" | "select" | "brush" | "eraser";

/** Brush diameters, screen pixels: the brush looks the same size at every zoom, so
 * zooming in paints finer. */
export const BRUSH_PX = { initial: 24, min: 2, max: 400, factor: 1.25 } as const;

/** What the tools need of the page. */
export interface EditPage {
  session(): ImageSession | null;
  say(message: string, isError?: boolean): void;
  /** A data attribute of the stage, for tests and people. */
  mark(name: string, value: number | string): void;
  colorOf(labelClass: number): string;
  /** Screen pixels per image pixel. */
  zoom(): number;
  /** The annotation under edit, or the tool, changed: redraw the saved masks. */
  changed(): void;
}

/** The annotation under edit: its mask as edited here, that mask's RLE, and the
 * annotation as listed when they last agreed with it. */
interface Working {
  readonly id: number;
  mask: Uint8Array;
  rle: Rle;
  basis: Annotation;
  painted: EditLayer;
}

/** Decoded masks of annotations, for hit tests and merges. */
const decoded = new WeakMap<Annotation, Uint8Array>();

function maskOf(annotation: Annotation): Uint8Array {
  let mask = decoded.get(annotation);
  if (!mask) {
    mask = decodeRle(annotation.rle);
    decoded.set(annotation, mask);
  }
  return mask;
}

export class EditTools {
  private toolNow: EditTool = "none";
  private brushPx: number = BRUSH_PX.initial;
  private mergeArmed = false;
  private working: Working | null = null;
  /** The stroke under way; ``box``: the pixels it touched so far (null: none). */
  private stroke: { last: Point; radius: number; value: 0 | 1; box: PixelBox | null } | null = null;
  /** The saves of edit steps, one after another. */
  private saves: Promise<void> = Promise.resolve();
  private pending = 0;
  /** Bumped by a conflict: steps queued before it are not saved over the other
   * person's version. */
  private generation = 0;
  private saved = 0;

  constructor(
    private readonly page: EditPage,
    private readonly overlay: EditOverlay,
  ) {
    this.markState();
  }

  get tool(): EditTool {
    return this.toolNow;
  }

  /** The annotation whose saved layer is hidden while the overlay shows it. */
  get hiddenId(): number | null {
    return this.overlay.showing ? (this.working?.id ?? null) : null;
  }

  /** Whether left drags paint (a brush or eraser and an annotation selected). */
  get painting(): boolean {
    return (this.toolNow === "brush" || this.toolNow === "eraser") && this.target() !== null;
  }

  /** Whether hovering should not decode masks (a tool is in use). */
  get active(): boolean {
    return this.toolNow !== "none" || this.mergeArmed;
  }

  /** The view moved or zoomed: the overlay follows. */
  redrawOverlay(): void {
    this.overlay.redraw();
  }

  // ------------------------------------------------------------ tools and keys

  /** V, B, E: takes ``tool``, or puts it down when it is the one in hand. */
  choose(tool: Exclude<EditTool, "none">): boolean {
    this.toolNow = this.toolNow === tool ? "none" : tool;
    const names = { select: "Select: click an annotation to edit it", brush: "Brush", eraser: "Eraser" };
    if (this.toolNow === "none") this.page.say("Back to prompting: clicks are SAM points.");
    else {
      const size = this.toolNow === "select" ? "" : ` (${this.brushPx} px; [ and ] change the size)`;
      const hint = this.target() === null && this.toolNow !== "select" ? "; click an annotation to edit it" : "";
      this.page.say(`${names[this.toolNow]}${size}${hint}.`);
    }
    this.sync();
    return true;
  }

  /** [ and ]: a smaller or larger brush. */
  resize(step: 1 | -1): boolean {
    const next = step > 0 ? this.brushPx * BRUSH_PX.factor : this.brushPx / BRUSH_PX.factor;
    this.brushPx = Math.round(Math.min(BRUSH_PX.max, Math.max(BRUSH_PX.min, next)));
    this.page.say(`Brush ${this.brushPx} px.`);
    this.markState();
    return true;
  }

  /** Esc: lets go of an armed merge, then of the tool; false when there was neither. */
  escape(): boolean {
    if (this.mergeArmed) {
      this.mergeArmed = false;
      this.page.say("No merge.");
    } else if (this.toolNow !== "none") this.choose(this.toolNow);
    else return false;
    this.markState();
    return true;
  }

  /** The page shows another image: tools stay in hand, nothing of the old image does. */
  imageShown(): void {
    this.working = null;
    this.stroke = null;
    this.mergeArmed = false;
    this.generation++;
    this.sync();
  }

  /** The saved annotations or the selection changed (a save, undo, the list). */
  annotationsChanged(): void {
    this.sync();
  }

  // ------------------------------------------------------------ clicks

  /** A click the tools take (true) or leave to SAM's prompt (false): with a merge armed,
   * the annotation clicked merges into the selected; with one selected, Shift+click adds
   * SAM's region at the point and Shift+right-click removes it; with a tool in hand, a
   * click selects the annotation under it. */
  click(at: Point, positive: boolean, shift: boolean): boolean {
    const s = this.page.session();
    if (!s) return false;
    if (this.mergeArmed) {
      this.mergeArmed = false;
      this.markState();
      const other = this.annotationAt(s, at, s.selected);
      if (other === null) this.page.say("No other annotation there: nothing merged.", true);
      else void this.merge(other);
      return true;
    }
    if (shift && s.selected !== null) {
      void this.samStep(at, positive);
      return true;
    }
    if (this.toolNow === "none") return false;
    if (positive) {
      const id = this.annotationAt(s, at, null);
      s.selectOnly(id);
      this.page.say(id === null ? "No annotation there." : `Editing #${id}.`);
      this.sync();
    }
    return true;
  }

  // ------------------------------------------------------------ brush and eraser

  /** A left drag with the brush or eraser: ``start`` on press, ``move`` for each pointer
   * move, ``end`` on release (image pixels); ``timeStamp``: the event's, for the
   * stroke-to-screen measure. */
  paint(phase: "start" | "move" | "end", at: Point, timeStamp: number): void {
    const w = this.working;
    if (phase === "start") {
      if (!w || !this.painting) return;
      const radius = this.brushPx / 2 / this.page.zoom();
      this.stroke = { last: at, radius, value: this.toolNow === "brush" ? 1 : 0, box: null };
    }
    const stroke = this.stroke;
    if (!stroke || !w) return;
    const s = this.page.session();
    const size = s?.size;
    if (!size) return;
    const drawStart = performance.now();
    const touched = stampSegment(w.mask, size, stroke.last[0], stroke.last[1], at[0], at[1], stroke.radius, stroke.value);
    stroke.box = unionBox(stroke.box, touched);
    this.overlay.segment(stroke.last, at, stroke.radius, stroke.value === 0, w.painted.color);
    stroke.last = at;
    // The move's own work, and from the event to the frame that shows it.
    performance.measure("samlabel:brush-draw", { start: drawStart });
    requestAnimationFrame(() => performance.measure("samlabel:brush-to-screen", { start: timeStamp }));
    if (phase !== "end") return;
    this.stroke = null;
    this.commitStroke(stroke.value ? "brush stroke" : "eraser stroke", w, size, stroke.box);
  }

  // ------------------------------------------------------------ steps on the selected

  /** H: fills the selected annotation's holes. */
  fillHoles(): boolean {
    const w = this.needWorking();
    const size = this.page.session()?.size;
    if (!w || !size) return true;
    const filled = fillHoles(w.mask, size);
    const added = area(filled) - area(w.mask);
    if (added === 0) this.page.say(`#${w.id} has no holes.`);
    else this.commit(`fill holes (${added} px)`, w, filled);
    return true;
  }

  /** M: the next click's annotation merges into the selected one. */
  armMerge(): boolean {
    if (!this.needWorking()) return true;
    this.mergeArmed = true;
    this.page.say("Click the annotation to merge into the selected one (Esc: none).");
    this.markState();
    return true;
  }

  /** S: splits the selected annotation into its connected parts: the largest stays it
   * (a new version), each other part becomes an annotation of the same class. */
  split(): boolean {
    const w = this.needWorking();
    const s = this.page.session();
    if (!w || !s) return true;
    const parts = splitParts(w.mask, s.size);
    if (parts.length < 2) {
      this.page.say(`#${w.id} is in one piece: nothing to split.`);
      return true;
    }
    const [kept, ...others] = parts as [Uint8Array, ...Uint8Array[]];
    const before = w.rle;
    const label = w.basis.label_class;
    const after = this.adopt(w, kept);
    const id = w.id;
    this.enqueue(`split into ${parts.length}`, async (s, changes) => {
      await s.editPort.setMask(id, after);
      changes.push({ kind: "mask", id, before, after });
      for (const part of others) {
        const payload = {
          label_class: label,
          rle: encodeRle(part, s.size.height, s.size.width),
          prompts: { points: [], labels: [], box: null },
        };
        const created = await s.editPort.create(payload);
        changes.push({ kind: "create", id: created.id, payload });
      }
    });
    return true;
  }

  /** Merges annotation ``otherId`` into the selected one in one request (the server
   * makes the union of the stored masks as a new version of the selected and deletes the
   * other, both or neither); one undo step, recorded as that new mask and that delete, so
   * that undo gives the selected its mask back and re-creates the other (redo merges again
   * in one request). Both must be of one class. */
  private async merge(otherId: number): Promise<void> {
    const w = this.needWorking();
    const s = this.page.session();
    const other = s?.annotationById(otherId);
    if (!w || !s || !other) return;
    if (other.label_class !== w.basis.label_class) {
      this.page.say(`#${otherId} is of another class: only annotations of one class merge.`, true);
      return;
    }
    const before = w.rle;
    this.adopt(w, union(w.mask, maskOf(other))); // shown now; the server's union is saved
    const id = w.id;
    const { label_class, rle, prompts, proposal_id, source } = other;
    // Undo makes the other again as it was: from the proposal it came from, or imported.
    const origin = { ...(proposal_id == null ? {} : { proposal_id }), ...(source ? { source } : {}) };
    this.enqueue(`merge of #${otherId}`, async (s, changes) => {
      const merged = await s.mergeAnnotations(id, otherId);
      changes.push({ kind: "mask", id, before, after: merged.rle });
      changes.push({ kind: "delete", id: otherId, payload: { label_class, rle, prompts, ...origin } });
    }, { merge: true });
  }

  /** Shift+click (``add``) or Shift+right-click: SAM's region at ``at`` added to or
   * removed from the selected annotation. Crop detail (#16): decoded on the crop in use
   * when it holds the point (the region then stops at the crop's edges), else on the
   * whole image; the stage's ``data-edit-frame`` says which (``crop`` or ``image``). */
  private async samStep(at: Point, add: boolean): Promise<void> {
    const s = this.page.session();
    const w = this.needWorking();
    if (!s || !w) return;
    this.page.mark("editDecoding", 1);
    const region = await s.pointMask(at);
    this.page.mark("editDecoding", 0);
    if (s !== this.page.session() || this.working !== w) return;
    if (!region) {
      this.page.say("SAM gave no mask there (the image is not ready yet?).", true);
      return;
    }
    this.page.mark("editFrame", region.frame ? "crop" : "image");
    const next = add ? union(w.mask, region.mask) : difference(w.mask, region.mask);
    this.commit(add ? "SAM add" : "SAM subtract", w, next);
  }

  // ------------------------------------------------------------ saving steps

  /** Makes ``next`` the working mask and saves it as one step named ``what``. */
  private commit(what: string, w: Working, next: Uint8Array): void {
    if (area(next) === 0) return this.refuseEmpty(w);
    const size = this.page.session()?.size as Size;
    this.saveMask(what, w, next, encodeRle(next, size.height, size.width), null);
  }

  /** A brush or eraser stroke that changed ``w.mask`` in place, within ``box`` (null: it
   * touched no pixel of the image), saved as one step named ``what``: the RLE is patched
   * in the box and only the box painted again. */
  private commitStroke(what: string, w: Working, size: Size, box: PixelBox | null): void {
    if (!box) return this.page.say(`#${w.id}: no pixel changed.`);
    const runs = patchRuns(decompressCounts(w.rle.counts), w.mask, size.height, size.width, box);
    if (runsArea(runs) === 0) return this.refuseEmpty(w);
    const after: Rle = { size: [size.height, size.width], counts: compressCounts(runs) };
    this.saveMask(what, w, w.mask, after, box);
  }

  /** The server refuses an empty mask (Delete is the way to remove an annotation): the
   * working mask goes back to its RLE. */
  private refuseEmpty(w: Working): void {
    w.mask = decodeRle(w.rle);
    this.repaint(w, null);
    this.page.say(`That would leave #${w.id} empty: nothing changed (Delete removes it).`, true);
  }

  /** ``mask``, whose RLE is ``after``, becomes ``w``'s (``changed``: the only box where it
   * differs from the mask painted, null: anywhere) and is saved as one step ``what``. */
  private saveMask(what: string, w: Working, mask: Uint8Array, after: Rle, changed: PixelBox | null): void {
    const before = w.rle;
    w.mask = mask;
    w.rle = after;
    this.repaint(w, changed);
    if (after.counts === before.counts) return this.page.say(`#${w.id}: no pixel changed.`);
    const id = w.id;
    this.enqueue(what, async (s, changes) => {
      await s.editPort.setMask(id, after);
      changes.push({ kind: "mask", id, before, after });
    });
  }

  /** ``mask`` becomes ``w``'s, painted; its RLE is returned. */
  private adopt(w: Working, mask: Uint8Array): Rle {
    const size = this.page.session()?.size as Size;
    w.mask = mask;
    w.rle = encodeRle(mask, size.height, size.width);
    this.repaint(w, null);
    return w.rle;
  }

  /** Paints ``w``'s mask again: only box ``changed`` of it, or all of it (null). */
  private repaint(w: Working, changed: PixelBox | null): void {
    const size = this.page.session()?.size as Size;
    if (changed) w.painted.update(w.mask, changed);
    else w.painted = new EditLayer(w.mask, size, w.painted.color, maskBounds(w.mask, size));
    if (this.working === w) this.overlay.show(this.overlayWanted() ? w.painted : null);
  }

  /** Runs ``save`` after the saves before it; records the changes it made as one undo
   * step named ``what``, and reports a conflict (the other person's version is shown,
   * and the steps queued after this one are dropped). */
  private enqueue(
    what: string,
    save: (s: ImageSession, changes: EditChange[]) => Promise<void>,
    step: Pick<EditAction, "merge"> = {},
  ): void {
    const s = this.page.session();
    if (!s) return;
    const generation = this.generation;
    const w = this.working;
    this.pending++;
    this.markState();
    this.saves = this.saves.then(async () => {
      const changes: EditChange[] = [];
      try {
        if (generation !== this.generation || s.isClosed) return;
        await save(s, changes);
        if (w && this.working === w) w.basis = s.annotationById(w.id) ?? w.basis;
        this.saved++;
        const version = w ? s.annotationById(w.id)?.version : undefined;
        this.page.say(`#${w?.id}: ${what} saved${version ? ` (version ${version})` : ""}; Ctrl+Z undoes it.`);
      } catch (error) {
        this.failed(s, what, error);
      } finally {
        if (changes.length > 0) s.recordEdit({ kind: "edit", what, changes, ...step });
        this.pending--;
        this.markState();
      }
    });
  }

  private failed(s: ImageSession, what: string, error: unknown): void {
    this.generation++;
    this.working = null; // made again from the annotation as now listed
    if (error instanceof HttpError && error.status === 409) {
      let current: Annotation | null = null;
      try {
        current = JSON.parse(error.body) as Annotation;
      } catch {
        current = null;
      }
      if (current && typeof current.id === "number") s.refreshAnnotation(current);
      this.page.mark("editConflict", current?.id ?? "?");
      this.page.say(
        `Not saved (${what}): someone else changed #${current?.id ?? ""} meanwhile` +
          `${current ? ` (now version ${current.version})` : ""}; their mask is shown, edit it again.`,
        true,
      );
    } else this.page.say(`Not saved (${what}): ${describe(error)}`, true);
    this.sync();
  }

  // ------------------------------------------------------------ state

  private target(): Annotation | null {
    const s = this.page.session();
    return s && s.selected !== null ? s.annotationById(s.selected) : null;
  }

  /** The selected annotation's working mask, made if need be; says so when none is
   * selected. */
  private needWorking(): Working | null {
    this.sync(true);
    if (!this.working) this.page.say("Select an annotation first (V, then click it; or the list).", true);
    return this.working;
  }

  private overlayWanted(): boolean {
    return this.toolNow === "brush" || this.toolNow === "eraser";
  }

  /** Brings the working mask and the overlay in line with the selection; the mask is
   * decoded only when a step or the brush needs it (``needed``), not for every
   * selection (a reviewer's, to delete). */
  private sync(needed = false): void {
    const target = this.target();
    let w = this.working;
    // Our own saves change the listed annotation; another change (undo, a conflict's
    // answer, a relabel) makes the working mask again from it.
    if (w && (!target || target.id !== w.id)) w = null;
    else if (w && target && target !== w.basis && this.pending === 0) {
      if (target.rle.counts === w.rle.counts && target.label_class === w.basis.label_class) w.basis = target;
      else w = null;
    }
    if (!w && target && (needed || this.overlayWanted())) {
      const mask = maskOf(target).slice();
      const [height, width] = target.rle.size;
      const size = { height, width };
      const box = annotationBox(target) ?? maskBounds(mask, size);
      const painted = new EditLayer(mask, size, this.page.colorOf(target.label_class), box);
      w = { id: target.id, mask, rle: target.rle, basis: target, painted };
    }
    const changed = w !== this.working || this.overlay.showing !== (w !== null && this.overlayWanted());
    this.working = w;
    if (changed) {
      this.overlay.show(w && this.overlayWanted() ? w.painted : null);
      this.page.changed();
    }
    this.markState();
  }

  private markState(): void {
    const { mark } = this.page;
    mark("editTool", this.toolNow);
    mark("editTarget", this.target()?.id ?? "");
    mark("brushSize", this.brushPx);
    mark("mergeArmed", this.mergeArmed ? "1" : "0");
    mark("editSaving", this.pending);
    mark("edits", this.saved);
  }

  /** The topmost visible annotation whose mask holds pixel ``at``, other than
   * ``except``; null when none. */
  private annotationAt(s: ImageSession, at: Point, except: number | null): number | null {
    const x = Math.floor(at[0]);
    const y = Math.floor(at[1]);
    const { width, height } = s.size;
    if (x < 0 || y < 0 || x >= width || y >= height) return null;
    const listed = s.annotations;
    for (let i = listed.length - 1; i >= 0; i--) {
      const { annotation, visible } = listed[i] as (typeof listed)[number];
      if (!visible || annotation.id === except) continue;
      const [bx, by, bw, bh] = annotation.bbox ?? [0, 0, width, height];
      if (x < (bx as number) || y < (by as number) || x >= (bx as number) + (bw as number) || y >= (by as number) + (bh as number)) continue;
      const mask = this.working?.id === annotation.id ? this.working.mask : maskOf(annotation);
      if (mask[y * width + x]) return annotation.id;
    }
    return null;
  }
}
