/**
 * Review issues (webapp/reviews) as pins on the image: an issue pinned to a point is
 * drawn there; one on an annotation, without a point, at the middle of the annotation's
 * box. Pure: positions from the API's answers.
 */

/** An issue as ``GET /api/projects/<p>/issues/`` lists it; x, y in image pixels. */
export interface Issue {
  readonly id: number;
  readonly image: number;
  readonly annotation: number | null;
  readonly x: number | null;
  readonly y: number | null;
  readonly author: string | null;
  readonly status: string;
  readonly text: string;
}

/** A pin: image pixels, and its number in the list of issues (1-based). */
export interface Pin {
  readonly x: number;
  readonly y: number;
  readonly number: number;
}

/** The pins of ``issues``; ``boxes`` maps annotation ids to [x, y, width, height]. An
 * issue with neither a point nor a listed annotation gets no pin (it is still listed). */
export function pinsOf(issues: readonly Issue[], boxes: ReadonlyMap<number, readonly number[]>): Pin[] {
  const pins: Pin[] = [];
  issues.forEach((issue, index) => {
    const number = index + 1;
    if (issue.x !== null && issue.y !== null) return void pins.push({ x: issue.x, y: issue.y, number });
    const box = issue.annotation === null ? undefined : boxes.get(issue.annotation);
    if (box && box.length === 4) {
      const [x, y, width, height] = box as [number, number, number, number];
      pins.push({ x: x + width / 2, y: y + height / 2, number });
    }
  });
  return pins;
}

/** "1. rita on #12: the ears are missing" */
export function issueText(issue: Issue, number: number): string {
  const on = issue.annotation !== null ? ` on #${issue.annotation}` : "";
  return `${number}. ${issue.author ?? "someone"}${on}: ${issue.text}`;
}
