/**
 * The workflow as the annotator shows it (webapp/workflow): an image's state and holder,
 * the member's place in their queue, the end of the queue. Pure: words from the API's
 * answers, no requests and no page.
 */

import type { QueueStage } from "./input";

export type WorkState = "new" | "annotating" | "submitted" | "in_review" | "accepted" | "rejected" | "skipped";

/** An image's workflow state, as ``GET …/images/<id>/work/`` answers it. */
export interface WorkItem {
  readonly image: number;
  readonly image_name: string;
  readonly state: WorkState;
  readonly annotator: string | null;
  readonly reviewer: string | null;
  readonly assignee: string | null;
  readonly review_assignee: string | null;
  readonly lease_expires_at: string | null;
  readonly reason: string;
  readonly version: number;
  /** The server's sentence: its state and who holds it. */
  readonly description: string;
}

/** ``POST …/work/next/``'s answer: the image now held, or null with ``detail`` saying why. */
export interface NextAnswer {
  readonly item: WorkItem | null;
  readonly detail: string;
  readonly position: number | null; // 1-based, in the member's queue
  readonly queue_size: number;
}

const STATE_NAMES: Record<WorkState, string> = {
  new: "new",
  annotating: "being labelled",
  submitted: "submitted",
  in_review: "in review",
  accepted: "accepted",
  rejected: "rejected",
  skipped: "skipped",
};

/** "image 12 of 40 in my queue" (or "in my review queue"). */
export function queuePositionText(position: number | null, size: number, stage: QueueStage): string {
  const queue = stage === "review" ? "my review queue" : "my queue";
  if (position === null) return `${size} image${size === 1 ? "" : "s"} in ${queue}`;
  return `image ${position} of ${size} in ${queue}`;
}

/** Whether ``user`` holds ``item``: labels it, or reviews it, now. */
export function holds(item: WorkItem, user: string): boolean {
  return (
    (item.state === "annotating" && item.annotator === user) || (item.state === "in_review" && item.reviewer === user)
  );
}

/** Who has the image now, seen by ``user``: "you", a name, or null when nobody holds it. */
function holderOf(item: WorkItem, user: string): string | null {
  const holder = item.state === "annotating" ? item.annotator : item.state === "in_review" ? item.reviewer : null;
  if (holder === null) return null;
  return holder === user ? "you" : holder;
}

/** "being labelled by you", "submitted (labelled by ann)", "rejected: the cup is missing". */
export function stateText(item: WorkItem, user: string): string {
  const name = STATE_NAMES[item.state];
  const holder = holderOf(item, user);
  if (holder !== null) return `${name} by ${holder}`;
  const who = (person: string | null): string => (person === user ? "you" : (person ?? "nobody"));
  switch (item.state) {
    case "submitted":
      return `${name} (labelled by ${who(item.annotator)})`;
    case "accepted":
      return item.reviewer ? `${name} by ${who(item.reviewer)}` : name;
    case "rejected":
      return `${name} by ${who(item.reviewer)}${item.reason ? `: ${item.reason}` : ""}`;
    case "skipped":
      return `${name}${item.reason ? `: ${item.reason}` : ""}`;
    default:
      return item.assignee ? `${name}, given to ${who(item.assignee)}` : name;
  }
}

/** What the status line says when ← or → finds no image that way. */
export function endOfProjectText(direction: "next" | "previous", projectName: string, stage: QueueStage | null): string {
  const where = direction === "next" ? "Last" : "First";
  const hint =
    stage === "annotate"
      ? " Ctrl+Enter submits this image and opens the next one in your queue."
      : stage === "review"
        ? " A / R give your verdicts; then the next image in your review queue opens."
        : "";
  return `${where} image of ${projectName}.${hint}`;
}

/** ``template`` (a URL with ``/images/0/`` for the image) for image ``imageId``. */
export function imageUrl(template: string, imageId: number): string {
  return template.replace("/images/0/", `/images/${imageId}/`);
}
