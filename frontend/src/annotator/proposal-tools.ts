/**
 * What the user does with the image's proposals: P shows or hides them; with them shown
 * and no prompt under way, the cursor highlights the proposal under it and a click
 * selects it; then Enter (or a class's key) accepts it as an annotation at once, Esc lets
 * it go, and further clicks refine it with SAM (its point the first click). Shift+click is
 * always a SAM point. The side panel accepts all proposals above a predicted IoU with
 * one class, or each with its suggested class where the server is confident of it. With
 * proposals hidden, clicks work exactly as without them.
 */

import type { Point } from "../lib/transform";
import type { LabelClass } from "./api";
import { describe } from "./errors";
import { ProposalLayer } from "./proposal-layer";
import {
  type Proposal,
  acceptAllProposals,
  acceptAllStep,
  acceptProposal,
  acceptUrl,
  describeAcceptAll,
  describeRunState,
  proposalClick,
} from "./proposals";
import type { ImageSession, WriteGuard } from "./session";
import type { ProposalDrawing } from "./view";

/** What the tools need of the page. */
export interface ProposalToolsPort {
  session(): ImageSession | null;
  /** The class an accept uses. */
  currentClass(): LabelClass | null;
  writes: WriteGuard;
  /** What is drawn changed (``drawing()``). */
  changed(): void;
  /** A proposal was selected (null: none is): its class may be suggested. */
  selected(proposal: Proposal | null): void;
  say(message: string, isError?: boolean): void;
  mark(name: string, value: number | string): void;
}

/** The side panel's part. */
export interface ProposalPanel {
  readonly section: HTMLElement;
  readonly count: HTMLElement;
  readonly minIou: HTMLInputElement;
  readonly acceptAll: HTMLButtonElement;
  /** Accepts all with their suggested classes; shown where the server suggests classes. */
  readonly acceptSuggested: HTMLButtonElement;
}

export class ProposalTools {
  private layer: ProposalLayer | null = null;
  private shown = true;

  constructor(
    private readonly port: ProposalToolsPort,
    private readonly panel: ProposalPanel,
  ) {
    for (const [button, suggested] of [
      [panel.acceptAll, false],
      [panel.acceptSuggested, true],
    ] as const) {
      button.addEventListener("mousedown", (event) => event.preventDefault()); // keeps the keys on the image
      button.addEventListener("click", () => {
        panel.minIou.blur(); // the keys act on the image again
        void this.acceptAll(suggested);
      });
    }
    panel.minIou.addEventListener("change", () => panel.minIou.blur());
  }

  /** A new image's session: its proposals are listed (if the server makes any). */
  imageShown(session: ImageSession): void {
    this.layer?.close();
    const layer = new ProposalLayer(() => this.layerChanged());
    this.layer = layer;
    this.layerChanged();
    const { proposalsStatusUrl, proposalsExpected } = session.image;
    const run = proposalsStatusUrl
      ? { statusUrl: proposalsStatusUrl, expected: proposalsExpected ?? false, encoded: () => session.isClickable }
      : null;
    layer.load(session.image.proposalsUrl ?? null, run).catch((error: unknown) => {
      if (this.layer === layer) this.port.say(`Cannot list the proposals: ${describe(error)}`, true);
    });
  }

  /** The session's saved annotations changed: the proposals they cover fade. */
  annotationsChanged(session: ImageSession): void {
    if (!this.layer) return;
    const before = this.layer.selected;
    this.layer.annotationsChanged(session.annotations.map((entry) => entry.annotation));
    if (before && !this.layer.selected) this.port.selected(null);
    this.layerChanged();
  }

  /** What the view draws; null when hidden or there are none. */
  drawing(): ProposalDrawing | null {
    return this.shown ? (this.layer?.drawing() ?? null) : null;
  }

  get selected(): Proposal | null {
    return this.shown ? (this.layer?.selected ?? null) : null;
  }

  /** P: true when the image has proposals (the key then acts). */
  toggle(): boolean {
    if (!this.layer || this.layer.count === 0) return false;
    this.shown = !this.shown;
    if (!this.shown) this.deselect();
    this.layer.hover(null);
    this.port.say(this.shown ? "Proposals shown (P hides them)." : "Proposals hidden (P shows them).");
    this.layerChanged();
    return true;
  }

  /** The cursor rests at ``at``: true when it is on a proposal (highlighted; no SAM
   * decode then), false when SAM's hover mask should show as ever. */
  hover(at: Point): boolean {
    const session = this.port.session();
    const layer = this.layer;
    if (!this.shown || !layer || !session || session.prompt.points.length > 0 || session.prompt.box) {
      layer?.hover(null);
      return false;
    }
    if (layer.selected) return true; // the selection stays on screen, not the hover
    const under = layer.at(at);
    layer.hover(under);
    return under !== null;
  }

  /** A click: true when the proposals took it (selected or refined one). */
  click(at: Point, positive: boolean, shift: boolean): boolean {
    const session = this.port.session();
    const layer = this.layer;
    if (!session || !layer) return false;
    const selected = this.selected;
    const meaning = proposalClick({
      shown: this.shown && layer.count > 0,
      shift,
      positive,
      promptEmpty: session.prompt.points.length === 0 && session.prompt.box === null,
      selected: selected !== null,
      underCursor: layer.at(at) !== null,
    });
    if (meaning === "point") return false;
    if (meaning === "select") {
      const proposal = layer.at(at);
      layer.select(proposal);
      this.port.selected(proposal);
      this.port.say("Proposal selected: Enter or a class's key accepts it; a click refines it; Esc lets it go.");
      return true;
    }
    if (!selected) return false;
    layer.select(null);
    // crop detail (#16): the proposal's box ([x, y, width, height]) decides, with the
    // points, whether the crop in use can refine it.
    const [x, y, width, height] = selected.bbox;
    const extent = [x, y, x + width, y + height] as const;
    session.refineProposal(selected.id, [selected.point[0], selected.point[1]], at, positive, extent);
    return true;
  }

  /** Esc: true when a selected proposal was let go. */
  deselect(): boolean {
    if (!this.layer?.selected) return false;
    this.layer.select(null);
    this.port.selected(null);
    return true;
  }

  /** Enter or a class's key: accepts the selected proposal with the current class; true
   * when one was selected. */
  acceptSelected(): boolean {
    const session = this.port.session();
    const proposal = this.selected;
    const templateUrl = session?.image.proposalAcceptUrlTemplate;
    if (!session || !proposal || !templateUrl) return false;
    const label = this.port.currentClass();
    if (!label) {
      this.port.say("This project has no label classes yet: a manager adds them.", true);
      return true;
    }
    this.layer?.select(null);
    this.port.selected(null);
    this.port.say("Accepting…");
    void this.port.writes.run(async () => {
      try {
        const annotation = await acceptProposal(acceptUrl(templateUrl, proposal.id), label.id);
        session.adopt(annotation);
        if (!session.isClosed) this.port.say(`Proposal accepted as ${label.name}; Ctrl+Z deletes it.`);
      } catch (error) {
        if (!session.isClosed) this.port.say(`Not accepted: ${describe(error)}`, true);
      }
    });
    return true;
  }

  /** The panel's buttons: every open proposal at or above the IoU given, with the
   * current class (or, ``suggested``, each with its suggested class where the server is
   * confident enough to pre-select it); then the image's annotations are listed again,
   * and the annotations made are one step of the image's undo history (Ctrl+Z deletes
   * them all). */
  async acceptAll(suggested = false): Promise<void> {
    const session = this.port.session();
    const url = session?.image.proposalsAcceptAllUrl;
    const label = this.port.currentClass();
    if (!session || !url) return;
    if (!label) return this.port.say("This project has no label classes yet: a manager adds them.", true);
    const minIou = Number(this.panel.minIou.value);
    if (!(minIou >= 0 && minIou <= 1)) return this.port.say("The predicted IoU is a number from 0 to 1.", true);
    this.deselect();
    await this.port.writes.run(async () => {
      try {
        const accepted = await acceptAllProposals(url, suggested ? "suggested" : label.id, minIou);
        await session.loadAnnotations();
        if (session.isClosed) return;
        if (accepted.annotations.length > 0) session.recordEdit(acceptAllStep(accepted.annotations));
        this.port.say(describeAcceptAll(accepted, suggested ? null : label.name));
      } catch (error) {
        if (!session.isClosed) this.port.say(`Not accepted: ${describe(error)}`, true);
      }
    });
  }

  private layerChanged(): void {
    const layer = this.layer;
    const count = layer?.count ?? 0;
    const image = this.port.session()?.image;
    const run = count === 0 ? describeRunState(layer?.runState ?? null) : null;
    this.panel.section.hidden = (count === 0 && run === null) || !image?.proposalsAcceptAllUrl;
    // While the run is under way (or after it failed) the panel says so, with no buttons.
    if (run === null) delete this.panel.section.dataset.run;
    else this.panel.section.dataset.run = layer?.runState?.status ?? "";
    this.panel.acceptSuggested.hidden = !image?.suggestClassUrl;
    this.panel.count.textContent =
      run ??
      (layer ? `${layer.openCount} of ${count} not yet labelled${this.shown ? "" : " (hidden: P shows them)"}` : "");
    this.port.mark("proposalsRun", layer?.runState?.status ?? "");
    this.port.mark("proposalSelected", layer?.selected?.id ?? "");
    this.port.mark("proposalHovered", layer?.hovered?.id ?? "");
    this.port.changed();
  }
}
