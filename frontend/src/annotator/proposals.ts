/**
 * The image's mask proposals (SAM's "segment everything", made on the server), as the
 * annotator uses them: which are already labelled (covered by a saved annotation, so
 * faded), which one is under the cursor, and the proposals API. Pure, apart from the
 * requests at the end.
 */

import { type MaskRuns, coveredBy, maskRuns, pixelSet } from "../lib/overlap";
import type { Rle } from "../lib/rle";
import type { Point } from "../lib/transform";
import { type Annotation, listAll, request } from "./api";
import type { EditAction } from "./edit-changes";
import type { ClassSuggestion } from "./suggestions";

/** A proposal as the list API gives it; ``bbox`` [x, y, width, height] and ``point``
 * [x, y] (the grid point that made it) in image pixels. */
export interface Proposal {
  readonly id: number;
  readonly rle: Rle;
  readonly bbox: readonly [number, number, number, number];
  readonly area: number;
  readonly predicted_iou: number;
  readonly stability: number;
  readonly point: readonly [number, number];
  readonly suggestion?: ClassSuggestion | null;
}

/** A proposal with its runs, made once per image. */
export interface KnownProposal {
  readonly proposal: Proposal;
  readonly runs: MaskRuns;
}

export function withRuns(proposals: readonly Proposal[]): KnownProposal[] {
  return proposals.map((proposal) => ({ proposal, runs: maskRuns(proposal.rle) }));
}

/** How much of a proposal a saved annotation must cover (or their IoU) for the proposal
 * to count as labelled already. */
export const COVERED = 0.5;

/** The ids of the proposals that ``saved`` masks (of the same image) already cover. */
export function coveredProposals(proposals: readonly KnownProposal[], saved: readonly MaskRuns[]): Set<number> {
  const covered = new Set<number>();
  for (const { proposal, runs } of proposals) {
    if (saved.some((mask) => coveredBy(runs, mask, COVERED))) covered.add(proposal.id);
  }
  return covered;
}

/** The proposal under image point ``at`` (pixels, x then y): of those whose mask holds
 * that pixel and that are not ``excluded`` (covered ones), the smallest, as the most
 * specific (a handle rather than the cup around it); null when none. */
export function proposalAt(
  proposals: readonly KnownProposal[],
  at: Point,
  excluded: ReadonlySet<number> = new Set(),
): Proposal | null {
  const x = Math.floor(at[0]);
  const y = Math.floor(at[1]);
  let best: KnownProposal | null = null;
  for (const known of proposals) {
    const [bx, by, bw, bh] = known.proposal.bbox;
    // The box only rules out quickly (with a pixel to spare for the server's rounding).
    if (x < bx - 1 || y < by - 1 || x > bx + bw || y > by + bh) continue;
    if (excluded.has(known.proposal.id) || !pixelSet(known.runs, x, y)) continue;
    if (best === null || known.runs.area < best.runs.area) best = known;
  }
  return best?.proposal ?? null;
}

/** The saved annotations' masks as runs, by annotation (an edited one is a new object). */
const annotationRuns = new WeakMap<Annotation, MaskRuns>();

export function runsOf(annotation: Annotation): MaskRuns {
  let runs = annotationRuns.get(annotation);
  if (!runs) {
    runs = maskRuns(annotation.rle);
    annotationRuns.set(annotation, runs);
  }
  return runs;
}

/** What a click means while the image has proposals. */
export type ProposalClick = "select" | "refine" | "point";

/**
 * A click's meaning: with proposals shown and no prompt under way, a plain click on an
 * open proposal selects it; with one selected, any click refines it (its point the first
 * click); otherwise, and always with Shift or with proposals hidden, a SAM point as ever.
 */
export function proposalClick(state: {
  readonly shown: boolean;
  readonly shift: boolean;
  readonly positive: boolean;
  readonly promptEmpty: boolean;
  readonly selected: boolean;
  readonly underCursor: boolean;
}): ProposalClick {
  if (!state.shown || state.shift) return "point";
  if (state.selected) return "refine";
  return state.positive && state.promptEmpty && state.underCursor ? "select" : "point";
}

// ---------------------------------------------------------------- the API

export function listProposals(url: string): Promise<Proposal[]> {
  return listAll<Proposal>(url);
}

/** The state of an image's proposals run, as ``…/proposals/status/`` says it. */
export interface ProposalRunState {
  readonly status: "none" | "pending" | "running" | "done" | "failed";
  readonly error: string;
  readonly proposal_count: number;
}

export async function proposalRunState(url: string): Promise<ProposalRunState> {
  return (await (await request(url)).json()) as ProposalRunState;
}

/** How often the page asks whether the proposals it waits for are made (a run takes
 * seconds to a minute on a CPU worker, a fraction of a second on a GPU). */
export const RUN_POLL_MS = 3000;
/** Answers of "none" taken after the image is encoded before the page stops waiting:
 * the worker asks for the run right after storing the embedding, so a run that is not
 * there by then is not coming (proposals were turned on after the image was encoded). */
export const NONE_AFTER_ENCODED = 2;

/** What the page does on a run's state: list the proposals (the run is done), wait and
 * ask again, or stop (nothing is coming, or the run failed). ``expected``: the project
 * has proposals on; ``nonesAfterEncoded``: the "none" answers since the image was
 * encoded, this one included (0 while it is not). */
export function onRunState(
  state: ProposalRunState,
  expected: boolean,
  nonesAfterEncoded: number,
): "list" | "wait" | "stop" {
  switch (state.status) {
    case "done":
      return "list";
    case "pending":
    case "running":
      return "wait";
    case "failed":
      return "stop";
    case "none":
      return expected && nonesAfterEncoded <= NONE_AFTER_ENCODED ? "wait" : "stop";
  }
}

/** What the side panel says of a run not done yet, or failed; null for nothing to say. */
export function describeRunState(state: ProposalRunState | null): string | null {
  switch (state?.status) {
    case "pending":
      return "Proposals: waiting for the worker; they appear here by themselves.";
    case "running":
      return "Proposals: being made by the worker; they appear here by themselves.";
    case "failed":
      return `Proposals could not be made: ${state.error || "the worker failed"}.`;
    default:
      return null;
  }
}

/** ``…/proposals/0/accept/`` with the proposal's id for the 0. */
export function acceptUrl(template: string, id: number): string {
  return template.replace(/\/0\/accept\/$/, `/${id}/accept/`);
}

/** Turns a proposal into an annotation of ``labelClass``; the annotation made. */
export async function acceptProposal(url: string, labelClass: number): Promise<Annotation> {
  const response = await request(url, { method: "POST", body: JSON.stringify({ label_class: labelClass }) });
  return (await response.json()) as Annotation;
}

/** What an accept-all made: the annotations (most confident proposal first), how many
 * proposals it left out as mostly covered already, (with the suggested classes) how
 * many it left open for lack of a confident suggestion, and how many as covering nearly
 * the whole image. */
export interface AcceptedAll {
  readonly created: number;
  readonly skipped_covered: number;
  readonly skipped_unsure: number;
  readonly skipped_whole_image: number;
  readonly annotations: readonly Annotation[];
}

/** Accepts every proposal of the image whose predicted IoU is at least ``minIou`` (and
 * that no annotation covers, as the server decides): all as ``labelClass``, or with
 * "suggested" each as its suggested class where the server is confident enough to
 * pre-select it (the others stay open). */
export async function acceptAllProposals(
  url: string,
  labelClass: number | "suggested",
  minIou: number,
): Promise<AcceptedAll> {
  const choice = labelClass === "suggested" ? { suggested: true } : { label_class: labelClass };
  const response = await request(url, {
    method: "POST",
    body: JSON.stringify({ ...choice, min_iou: minIou }),
  });
  return (await response.json()) as AcceptedAll;
}

/** The status line after an accept-all: "2 proposals accepted as cup; Ctrl+Z deletes
 * them.", or with the suggested classes "3 proposals accepted with their suggested
 * classes, 1 left open (no confident suggestion); Ctrl+Z deletes them." */
export function describeAcceptAll(accepted: AcceptedAll, className: string | null): string {
  const count = accepted.annotations.length;
  const made = `${count} proposal${count === 1 ? "" : "s"} accepted`;
  const how =
    className === null ? ` with ${count === 1 ? "its" : "their"} suggested class${count === 1 ? "" : "es"}` : ` as ${className}`;
  const unsure = accepted.skipped_unsure;
  const open = unsure > 0 ? `, ${unsure} left open (no confident suggestion)` : "";
  const whole = accepted.skipped_whole_image;
  const frame = whole > 0 ? `, ${whole} of the whole image left open (a click accepts ${whole === 1 ? "it" : "one"})` : "";
  const undo = count === 0 ? "" : `; Ctrl+Z deletes ${count === 1 ? "it" : "them"}`;
  return `${made}${how}${open}${frame}${undo}.`;
}

/** An accept-all as one undoable step of creations: undo deletes exactly the
 * annotations it made (through the API, each at its version), redo saves their masks
 * again with the same class and proposal. */
export function acceptAllStep(annotations: readonly Annotation[]): EditAction {
  const count = annotations.length;
  return {
    kind: "edit",
    what: `accept-all of ${count} proposal${count === 1 ? "" : "s"}`,
    changes: annotations.map(({ id, label_class, rle, prompts, proposal_id }) => ({
      kind: "create",
      id,
      payload: { label_class, rle, prompts, ...(proposal_id == null ? {} : { proposal_id }) },
    })),
  };
}
