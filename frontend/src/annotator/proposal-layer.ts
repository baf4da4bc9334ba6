/**
 * The image's proposals on screen: outlined thinly in a neutral colour (faded where a
 * saved annotation already covers them), the one under the cursor filled, the one
 * clicked selected (then Enter or a class's key accepts it, and further clicks refine it
 * with SAM). One layer per image, made fresh with the image's session, like the session.
 */

import { type MaskRuns, cropMask } from "../lib/overlap";
import type { Point } from "../lib/transform";
import type { Annotation } from "./api";
import {
  type KnownProposal,
  type Proposal,
  type ProposalRunState,
  RUN_POLL_MS,
  coveredProposals,
  listProposals,
  onRunState,
  proposalAt,
  proposalRunState,
  runsOf,
  withRuns,
} from "./proposals";
import { PROPOSAL_COLOR, type PaintedMask, type ProposalDrawing, paintMask } from "./view";
/** Proposals painted per turn of the event loop, so that a hundred do not freeze the page. */
const PAINT_BATCH = 16;

/** An image's proposals run to wait for: its state's URL, whether the project has
 * proposals on, and whether the image is encoded yet (the worker asks for the run then). */
export interface RunToFollow {
  readonly statusUrl: string;
  readonly expected: boolean;
  encoded(): boolean;
  readonly pollMs?: number;
}

export class ProposalLayer {
  private known: KnownProposal[] = [];
  private covered = new Set<number>();
  private readonly painted = new Map<number, PaintedMask>();
  private hoveredId: number | null = null;
  private selectedId: number | null = null;
  private closed = false;
  private run: ProposalRunState | null = null;
  /** The saved annotations' masks, as last told. */
  private saved: MaskRuns[] = [];
  /** What the view draws, made again only when something in it changed: the page
   * redraws on every decode, and merging a hundred outlines each time would cost. */
  private cached: ProposalDrawing | null | undefined = undefined;

  /** ``changed`` runs when what is drawn changes (proposals listed or painted, hover,
   * selection). */
  constructor(private readonly onChange: () => void) {}

  private changed(): void {
    this.cached = undefined;
    this.onChange();
  }

  /** Lists the image's proposals from ``url`` (null: the server makes none), then paints
   * them a few at a time. With ``run``, an image with none listed yet waits for its run
   * while the server makes it (``runState`` says how it stands), then lists them. */
  async load(url: string | null, run: RunToFollow | null = null): Promise<void> {
    if (url === null) return;
    let proposals = await listProposals(url);
    if (this.closed) return;
    if (proposals.length === 0 && run !== null) {
      if (!(await this.waitForRun(run))) return;
      proposals = await listProposals(url);
      if (this.closed) return;
    }
    this.known = withRuns(proposals);
    // Annotations saved before the list came (while the run was made, say) cover some.
    this.covered = coveredProposals(this.known, this.saved);
    this.changed();
    for (let i = 0; i < this.known.length; i += PAINT_BATCH) {
      for (const { proposal, runs } of this.known.slice(i, i + PAINT_BATCH)) {
        const [x, y, width, height] = clippedBox(proposal, runs.width, runs.height);
        const crop = paintMask(cropMask(runs, x, y, width, height), { height, width }, PROPOSAL_COLOR);
        const outline = new Path2D();
        outline.addPath(crop.outline, new DOMMatrix().translate(x, y));
        this.painted.set(proposal.id, { ...crop, x: crop.x + x, y: crop.y + y, outline });
      }
      await new Promise((resolve) => setTimeout(resolve, 0));
      if (this.closed) return;
      this.changed();
    }
  }

  close(): void {
    this.closed = true;
  }

  /** The run's state while the page waits for it, or its failure; null otherwise. */
  get runState(): ProposalRunState | null {
    return this.run;
  }

  /** Asks for the run's state until it is done (true: list the proposals) or nothing
   * more is coming (false). */
  private async waitForRun(follow: RunToFollow): Promise<boolean> {
    let nonesAfterEncoded = 0;
    for (;;) {
      const state = await proposalRunState(follow.statusUrl);
      if (this.closed) return false;
      if (state.status === "none" && follow.encoded()) nonesAfterEncoded += 1;
      const next = onRunState(state, follow.expected, nonesAfterEncoded);
      this.run = next === "list" || state.status === "none" ? null : state;
      this.changed();
      if (next !== "wait") return next === "list" && state.proposal_count > 0;
      await new Promise((resolve) => setTimeout(resolve, follow.pollMs ?? RUN_POLL_MS));
      if (this.closed) return false;
    }
  }

  get count(): number {
    return this.known.length;
  }

  /** How many are not yet covered by a saved annotation. */
  get openCount(): number {
    return this.known.length - this.covered.size;
  }

  /** The saved annotations changed: those they cover fade, and cannot be picked. */
  annotationsChanged(annotations: readonly Annotation[]): void {
    this.saved = annotations.map(runsOf);
    const covered = coveredProposals(this.known, this.saved);
    if (this.hoveredId !== null && covered.has(this.hoveredId)) this.hoveredId = null;
    if (this.selectedId !== null && covered.has(this.selectedId)) this.selectedId = null;
    this.covered = covered;
    this.cached = undefined;
  }

  /** The open proposal under ``at`` (image pixels), if any. */
  at(at: Point): Proposal | null {
    return proposalAt(this.known, at, this.covered);
  }

  get hovered(): Proposal | null {
    return this.byId(this.hoveredId);
  }

  get selected(): Proposal | null {
    return this.byId(this.selectedId);
  }

  hover(proposal: Proposal | null): void {
    const id = proposal?.id ?? null;
    if (id === this.hoveredId) return;
    this.hoveredId = id;
    this.changed();
  }

  select(proposal: Proposal | null): void {
    this.selectedId = proposal?.id ?? null;
    if (proposal) this.hoveredId = null;
    this.changed();
  }

  /** What the view draws: null when there are no proposals. */
  drawing(): ProposalDrawing | null {
    if (this.cached === undefined) this.cached = this.makeDrawing();
    return this.cached;
  }

  private makeDrawing(): ProposalDrawing | null {
    if (this.known.length === 0) return null;
    const open = new Path2D();
    const faded = new Path2D();
    for (const { proposal } of this.known) {
      const painted = this.painted.get(proposal.id);
      if (painted) (this.covered.has(proposal.id) ? faded : open).addPath(painted.outline);
    }
    const filledId = this.selectedId ?? this.hoveredId;
    const fill = filledId === null ? null : (this.painted.get(filledId) ?? null);
    return { open, faded, fill, selected: this.selectedId !== null, count: this.known.length - this.covered.size };
  }

  private byId(id: number | null): Proposal | null {
    return id === null ? null : (this.known.find((k) => k.proposal.id === id)?.proposal ?? null);
  }
}

/** ``proposal``'s box, clipped to the image (a server's box may round outwards). */
function clippedBox(proposal: Proposal, width: number, height: number): [number, number, number, number] {
  const [bx, by, bw, bh] = proposal.bbox;
  const x = Math.max(0, Math.min(width - 1, Math.floor(bx)));
  const y = Math.max(0, Math.min(height - 1, Math.floor(by)));
  return [x, y, Math.max(1, Math.min(width - x, Math.ceil(bx + bw) - x)), Math.max(1, Math.min(height - y, Math.ceil(by + bh) - y))];
}
