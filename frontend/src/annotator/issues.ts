/**
 * Review issues (webapp/reviews) as pins on the image and rows of the side panel: an
 * issue pinned to a point is drawn there; one on an annotation, without a point, at the
 * middle of the annotation's box. Pure: positions and words from the API's answers.
 */

/** An issue as ``GET /api/projects/<p>/issues/`` lists it; x, y in image pixels (x
 * right, y down). ``text`` is its first comment. */
export interface Issue {
  readonly id: number;
  readonly image: number;
  readonly annotation: number | null;
  readonly x: number | null;
  readonly y: number | null;
  readonly author: string | null;
  readonly status: string;
  readonly text: string;
  readonly comment_count?: number;
  readonly resolved_by?: string | null;
}

/** One message of an issue's thread. */
export interface Comment {
  readonly id: number;
  readonly author: string | null;
  readonly text: string;
  readonly created_at: string;
}

/** An issue with its whole thread, oldest comment first (``GET …/issues/<id>/``). */
export interface IssueDetail extends Issue {
  readonly comments: readonly Comment[];
}

/** A pin: image pixels, its number in the list of issues (1-based), and whether its
 * issue is resolved (drawn dimmed). */
export interface Pin {
  readonly x: number;
  readonly y: number;
  readonly number: number;
  readonly resolved?: boolean;
}

export const isOpen = (issue: Issue): boolean => issue.status === "open";

/** The issues the panel lists: the open ones, oldest first, then (``withResolved``) the
 * resolved ones. */
export function listedIssues(issues: readonly Issue[], withResolved: boolean): Issue[] {
  const byId = [...issues].sort((a, b) => a.id - b.id);
  const open = byId.filter(isOpen);
  return withResolved ? [...open, ...byId.filter((issue) => !isOpen(issue))] : open;
}

/** The pins of ``issues`` (numbered in their order); ``boxes`` maps annotation ids to
 * [x, y, width, height]. An issue with neither a point nor a listed annotation gets no
 * pin (it is still listed). */
export function pinsOf(issues: readonly Issue[], boxes: ReadonlyMap<number, readonly number[]>): Pin[] {
  const pins: Pin[] = [];
  issues.forEach((issue, index) => {
    const number = index + 1;
    const resolved = !isOpen(issue);
    if (issue.x !== null && issue.y !== null) return void pins.push({ x: issue.x, y: issue.y, number, resolved });
    const box = issue.annotation === null ? undefined : boxes.get(issue.annotation);
    if (box && box.length === 4) {
      const [x, y, width, height] = box as [number, number, number, number];
      pins.push({ x: x + width / 2, y: y + height / 2, number, resolved });
    }
  });
  return pins;
}

/** "1. rita on #12: the ears are missing"; a point's issue says where: "2. rita at
 * (310, 205): a cup is not labelled"; a resolved one ends "(resolved by ann)". */
export function issueText(issue: Issue, number: number): string {
  const on =
    issue.annotation !== null
      ? ` on #${issue.annotation}`
      : issue.x !== null && issue.y !== null
        ? ` at (${Math.round(issue.x)}, ${Math.round(issue.y)})`
        : "";
  const resolved = isOpen(issue) ? "" : ` (resolved${issue.resolved_by ? ` by ${issue.resolved_by}` : ""})`;
  return `${number}. ${issue.author ?? "someone"}${on}: ${issue.text}${resolved}`;
}

/** "2 replies", "1 reply", "" for none: the thread's length after the first comment. */
export function repliesText(issue: Issue): string {
  const replies = Math.max(0, (issue.comment_count ?? 1) - 1);
  return replies === 0 ? "" : `${replies} repl${replies === 1 ? "y" : "ies"}`;
}

/** "ann: fixed the ears" */
export function commentText(comment: Comment): string {
  return `${comment.author ?? "someone"}: ${comment.text}`;
}

/** What a submit asks when issues are still open on the image; null when none is. */
export function openIssuesQuestion(open: number): string | null {
  if (open <= 0) return null;
  return `${open} issue${open === 1 ? " is" : "s are"} still open — submit anyway?`;
}
