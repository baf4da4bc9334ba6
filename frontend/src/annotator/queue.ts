/**
 * The annotator page as a work queue (webapp/workflow): the image's workflow state and
 * holder, the member's place in their queue, Submit (Ctrl+Enter) and the next image at
 * once, Give back, a heartbeat that keeps the holder's lease while they work, and, in
 * review, a verdict per annotation (A / R) that leads to the image's own (accept, or
 * reject with the comments as the reason) and on to the next submitted image.
 *
 * The words come from work.ts and the verdicts from review.ts (pure, tested alone); this
 * class only asks the API and updates the page.
 *
 * Quality rules (#17): the server checks the image again at submit and accept. When it
 * refuses for errors the page had not asked about (its own rules not ready yet, or they
 * changed meanwhile), the answer's problems are shown and the reason asked for in the
 * same dialog, and the move is made again with it; cancelling moves nothing.
 */

import { askText } from "./dialogs";
import { describe } from "./errors";
import type { ImageConfig } from "./config";
import type { QueueStage, Verdict } from "./input";
import { type ImageVerdict, ReviewVerdicts } from "./review";
import type { ImageSession } from "./session";
import { type NextAnswer, type WorkItem, endOfProjectText, holds, queuePositionText, stateText } from "./work";
import { type RulesRefusal, type UpcomingImage, type WorkflowApi, rulesRefusal } from "./workflow-api";

export const HEARTBEAT_EVERY_MS = 60_000;

/** What the queue needs of the page. */
export interface QueueHost {
  /** The session of the image on screen (null before the first). */
  session(): ImageSession | null;
  /** Shows the image whose configuration is at ``configUrl``, in place. */
  goTo(configUrl: string, pressedAt: number): void;
  /** Downloads these images (configuration, picture, embedding) ahead of need. */
  prefetch(images: readonly UpcomingImage[]): void;
  /** Resolves once no save, delete or relabel is under way. */
  writesDone(): Promise<void>;
  /** Whether to submit the image of ``session``: asks first when issues are still open
   * on it; false when the person says no. */
  confirmSubmit(session: ImageSession): Promise<boolean>;
  /** Quality rules (#17): "" to submit, a reason to submit despite the rules' errors
   * (sent with the submit), null when the person cancels. */
  submitReason?(session: ImageSession): Promise<string | null>;
  /** Quality rules (#17): the server refused ``move`` for the rules' errors; shows its
   * problems and asks why: the reason, or null when the person cancels. Undefined when
   * the page has no rules panel (the queue then asks with the server's sentence). */
  rulesRefused?(session: ImageSession, move: "submit" | "accept", refusal: RulesRefusal): Promise<string | null> | undefined;
  /** The annotation list must be drawn again (a verdict changed). */
  annotationsChanged(): void;
  say(message: string, isError?: boolean): void;
  mark(name: string, value: number | string): void;
}

/** The page's parts the queue writes to. */
export interface QueueElements {
  readonly bar: HTMLElement;
  readonly position: HTMLElement;
  readonly state: HTMLElement;
  readonly end: HTMLElement;
  readonly endMessage: HTMLElement;
  readonly reasonDialog: HTMLDialogElement;
}

export class WorkQueue {
  /** The workflow state of the image on screen (null while asked, or for none). */
  private item: WorkItem | null = null;
  /** The image the last "next" gave, and its place in the queue. */
  private placed: { imageId: number; text: string } | null = null;
  private verdicts = new ReviewVerdicts();
  /** A submit, verdict or "next" under way: keys wait for it rather than act twice. */
  private busy = false;
  /** The image on screen: its workflow state and its annotations' list, once known. A
   * verdict waits for both: before, it would judge an image not seen whole. */
  private shown: { imageId: number; known: Promise<unknown>; listed: () => void } | null = null;
  /** The image whose state a write made read again (see ``written``). */
  private reread: number | null = null;

  constructor(
    private readonly api: WorkflowApi,
    readonly stage: QueueStage | null,
    private readonly user: string,
    private readonly host: QueueHost,
    private readonly elements: QueueElements,
    isActive: () => boolean,
  ) {
    elements.bar.hidden = false;
    setInterval(() => {
      if (isActive()) void this.heartbeat();
    }, HEARTBEAT_EVERY_MS);
  }

  /** In a queue, takes the next image of it (the one held already, if any) and shows it
   * in place of ``image`` unless it is that one. */
  async start(image: ImageConfig, pressedAt: number): Promise<void> {
    if (!this.stage) return;
    await this.advance(image, pressedAt);
  }

  /** An image is now on screen: its verdicts start afresh, its state is asked for. */
  imageShown(image: ImageConfig): void {
    this.verdicts = new ReviewVerdicts();
    this.item = null;
    this.render(image.imageId);
    const state = this.api.item(image.imageId).then(
      (item) => {
        if (this.host.session()?.image.imageId === item.image) this.show(item);
      },
      (error: unknown) => this.host.say(`Cannot read this image's workflow state: ${describe(error)}`, true),
    );
    let listed = (): void => undefined;
    const annotations = new Promise<void>((resolve) => (listed = resolve));
    this.shown = { imageId: image.imageId, known: Promise.all([state, annotations]), listed };
  }

  /** The image's annotations are listed: in review, the first comes up for a verdict. */
  annotationsLoaded(session: ImageSession): void {
    if (this.shown?.imageId === session.image.imageId) this.shown.listed();
    if (this.stage !== "review" || session.selected !== null) return;
    const first = session.annotations[0]?.annotation.id;
    if (first !== undefined) session.selectOnly(first);
  }

  /** Downloads the images the queue would give next (in a queue; else nothing). */
  prefetchAfter(image: ImageConfig): boolean {
    if (!this.stage) return false;
    this.api.upcoming(this.stage, image.imageId).then(
      (images) => this.host.prefetch(images),
      () => undefined, // a guess only: the next image is then downloaded when it is given
    );
    return true;
  }

  /** What ← / → say at either end of the project. */
  atEnd(direction: "next" | "previous", projectName: string): void {
    this.host.say(endOfProjectText(direction, projectName, this.stage));
    this.host.mark("atEnd", direction);
  }

  verdictOf(annotationId: number): Verdict | null {
    return this.verdicts.of(annotationId)?.verdict ?? null;
  }

  // ------------------------------------------------------------ labelling

  /** Ctrl+Enter: submits the image on screen, then opens the next of the queue. Outside
   * a queue (images one by one), submits the image the user is labelling and stays on it. */
  submit(pressedAt: number): boolean {
    if (this.stage === "review") return false;
    if (this.stage === null && !this.labelling()) return false;
    const session = this.host.session();
    if (!session || this.busy) return true;
    const { points, box } = session.prompt;
    if (points.length > 0 || box) {
      this.host.say("Save the mask (Enter) or clear it (Esc) before submitting.", true);
      return true;
    }
    void this.run(async () => {
      await this.host.writesDone();
      if (!(await this.host.confirmSubmit(session))) {
        this.host.say("Not submitted: the open issues are listed beside the image.");
        return;
      }
      // Quality rules (#17): errors hold the submit until the person gives a reason.
      const reason = this.host.submitReason ? await this.host.submitReason(session) : "";
      if (reason === null) {
        this.host.say("Not submitted: the rules' errors are listed beside the image.");
        return;
      }
      const moved = await this.moveAskingWhy(session, "submit", reason);
      if (!moved) {
        this.host.say("Not submitted: the rules' errors are listed beside the image.");
        return;
      }
      this.show(moved);
      this.host.say(`Submitted ${session.image.imageName}.`);
      await this.advance(session.image, pressedAt);
    });
    return true;
  }

  /** A save, delete or relabel ended. Outside a queue, the first one on a new (or
   * rejected) image starts it for its annotator (the server's workflow guard): its state
   * is read again, once an image, so that Submit shows. */
  written(): void {
    const session = this.host.session();
    const item = this.item;
    if (this.stage !== null || !session || !item || item.image !== session.image.imageId) return;
    if ((item.state !== "new" && item.state !== "rejected") || this.reread === item.image) return;
    this.reread = item.image;
    this.api.item(item.image).then(
      (fresh) => {
        if (this.host.session()?.image.imageId === fresh.image) this.show(fresh);
      },
      () => undefined, // the state shown stays as it was; the next image reads it afresh
    );
  }

  /** Whether the user is labelling the image on screen (holds it, not in review). */
  private labelling(): boolean {
    const item = this.item;
    return item !== null && item.image === this.host.session()?.image.imageId && item.state === "annotating" && holds(item, this.user);
  }

  /** Gives the image on screen back (to the pool, or to the submitted images in review)
   * and goes back to the project. */
  release(): void {
    const session = this.host.session();
    if (!session || this.busy || !this.stage) return;
    const move = this.stage === "review" ? "release_review" : "release";
    void this.run(async () => {
      await this.host.writesDone();
      await this.api.move(session.image.imageId, move);
      window.location.href = this.api.config.projectUrl;
    });
  }

  // ------------------------------------------------------------ review

  /** A / R (``whole``: Shift+A / Shift+R): a verdict on the annotation under review, or
   * on the whole image. */
  review(verdict: Verdict, whole: boolean, pressedAt: number): boolean {
    if (this.stage !== "review") return false;
    const session = this.host.session();
    const shown = this.shown;
    if (!session || this.busy || shown?.imageId !== session.image.imageId) return true;
    void this.run(async () => {
      await shown.known;
      if (session.isClosed) return;
      if (!this.item || !holds(this.item, this.user)) {
        const where = this.item ? this.item.description : "its workflow state is not known";
        return this.host.say(`You are not reviewing this image: ${where}.`, true);
      }
      const ids = session.annotations.map(({ annotation }) => annotation.id);
      if (whole || ids.length === 0) return this.judgeImage(session, verdict, pressedAt);
      const target = session.selected ?? this.verdicts.nextUndecided(ids, null) ?? (ids[0] as number);
      let comment = "";
      if (verdict === "reject") {
        const asked = await this.askReason(`What is wrong with annotation #${target}?`);
        if (asked === null) return this.host.say("Not rejected.");
        comment = asked;
        await this.openIssue(session, target, comment);
      }
      this.verdicts.set(target, verdict, comment);
      this.host.mark("verdicts", ids.filter((id) => this.verdicts.of(id)).length);
      this.host.annotationsChanged();
      const next = this.verdicts.nextUndecided(ids, target);
      if (next !== null) {
        session.selectOnly(next);
        this.host.say(`#${target} ${verdict}ed; now #${next}.`);
        return;
      }
      const summary = this.verdicts.summary(ids);
      if (summary) await this.finish(session, summary, pressedAt);
    });
    return true;
  }

  /** Shift+A / Shift+R, or A / R on an image without annotations. */
  private async judgeImage(session: ImageSession, verdict: Verdict, pressedAt: number): Promise<void> {
    const reason = verdict === "reject" ? await this.askReason(`Why is ${session.image.imageName} rejected?`) : "";
    if (reason === null) return this.host.say("Not rejected.");
    await this.finish(session, verdict === "accept" ? { action: "accept" } : { action: "reject", reason }, pressedAt);
  }

  private async openIssue(session: ImageSession, annotationId: number, comment: string): Promise<void> {
    try {
      if (await this.api.openIssue(session.image.imageId, { annotation: annotationId }, comment)) {
        this.host.say(`Issue opened on #${annotationId}.`);
      }
    } catch (error) {
      // The comment still goes with the image's rejection, so nothing is lost.
      this.host.say(`Cannot open an issue on #${annotationId}: ${describe(error)}`, true);
    }
  }

  /** Accepts or rejects the image, then opens the next one to review. */
  private async finish(session: ImageSession, verdict: ImageVerdict, pressedAt: number): Promise<void> {
    await this.host.writesDone();
    const moved =
      verdict.action === "reject"
        ? await this.api.move(session.image.imageId, "reject", verdict.reason)
        : await this.moveAskingWhy(session, "accept", "");
    if (!moved) return this.host.say("Not accepted: the rules' errors are listed beside the image.");
    this.show(moved);
    this.host.say(`${verdict.action === "accept" ? "Accepted" : "Rejected"} ${session.image.imageName}.`);
    await this.advance(session.image, pressedAt);
  }

  /** Makes ``move`` with ``reason``. When the server's quality rules refuse it (errors
   * and no reason), shows their problems, asks why and makes it again with the answer;
   * null when the person cancels (nothing moved). Other failures are thrown. */
  private async moveAskingWhy(session: ImageSession, move: "submit" | "accept", reason: string): Promise<WorkItem | null> {
    const imageId = session.image.imageId;
    try {
      return await this.api.move(imageId, move, reason);
    } catch (error) {
      const refusal = reason ? null : rulesRefusal(error);
      if (!refusal) throw error;
      this.host.mark("rulesRefusedBy", "server");
      const why = await (this.host.rulesRefused?.(session, move, refusal) ?? this.askReason(refusal.detail));
      if (why === null) return null;
      return this.api.move(imageId, move, why);
    }
  }

  /** Asks for a reason in the page's dialog; null when cancelled (Esc). */
  private askReason(title: string): Promise<string | null> {
    return askText(this.elements.reasonDialog, title);
  }

  // ------------------------------------------------------------ the queue

  /** Takes the next image of the queue and shows it, or says the queue is done. */
  private async advance(from: ImageConfig, pressedAt: number): Promise<void> {
    if (!this.stage) return;
    const answer: NextAnswer = await this.api.next(this.stage);
    if (!answer.item) {
      this.placed = null;
      this.elements.endMessage.textContent = answer.detail;
      this.elements.end.hidden = false;
      this.host.say(answer.detail);
      this.host.mark("queueEnd", "1");
      this.render(from.imageId);
      return;
    }
    this.elements.end.hidden = true;
    const imageId = answer.item.image;
    this.placed = { imageId, text: queuePositionText(answer.position, answer.queue_size, this.stage) };
    if (imageId === from.imageId && this.host.session()?.image.imageId === imageId) {
      this.show(answer.item);
    } else {
      this.host.goTo(this.api.configUrl(imageId), pressedAt);
    }
  }

  private async heartbeat(): Promise<void> {
    const item = this.item;
    if (!item || !holds(item, this.user)) return;
    try {
      this.show(await this.api.heartbeat(item.image));
    } catch (error) {
      this.host.say(`Your hold on this image could not be renewed: ${describe(error)}`, true);
      const session = this.host.session();
      if (session) this.imageShown(session.image);
    }
  }

  private async run(work: () => Promise<void>): Promise<void> {
    this.busy = true;
    this.host.mark("queueBusy", "1");
    try {
      await work();
    } catch (error) {
      this.host.say(describe(error), true);
      const session = this.host.session();
      if (session) this.imageShown(session.image);
    } finally {
      this.busy = false;
      this.host.mark("queueBusy", "0");
    }
  }

  private show(item: WorkItem): void {
    this.item = item;
    this.render(item.image);
  }

  private render(imageId: number): void {
    const { position, state, bar } = this.elements;
    const item = this.item?.image === imageId ? this.item : null;
    position.textContent = this.placed?.imageId === imageId ? this.placed.text : "";
    state.textContent = item ? stateText(item, this.user) : "";
    bar.dataset["state"] = item?.state ?? "";
    bar.dataset["held"] = item && holds(item, this.user) ? "1" : "0";
  }
}
