/**
 * A reviewer's verdicts on one image's annotations, kept in the page: each annotation is
 * accepted or rejected (with a comment), the next one without a verdict comes up, and once
 * every annotation has one the image's own verdict follows from them: accepted when all
 * were, else rejected with the comments as the reason. Pure; one per image reviewed.
 */

import type { Verdict } from "./input";

export interface AnnotationVerdict {
  readonly verdict: Verdict;
  readonly comment: string;
}

/** The image's verdict, from its annotations'. */
export type ImageVerdict = { readonly action: "accept" } | { readonly action: "reject"; readonly reason: string };

export class ReviewVerdicts {
  private readonly verdicts = new Map<number, AnnotationVerdict>();

  set(id: number, verdict: Verdict, comment = ""): void {
    this.verdicts.set(id, { verdict, comment: comment.trim() });
  }

  of(id: number): AnnotationVerdict | undefined {
    return this.verdicts.get(id);
  }

  /** The first annotation of ``ids`` (in list order) after ``after`` without a verdict,
   * wrapping round to the start; null when all have one. ``after`` null: from the start. */
  nextUndecided(ids: readonly number[], after: number | null): number | null {
    const start = after === null ? 0 : ids.indexOf(after) + 1;
    for (let k = 0; k < ids.length; k++) {
      const id = ids[(start + k) % ids.length] as number;
      if (!this.verdicts.has(id)) return id;
    }
    return null;
  }

  /** The image's verdict once each of ``ids`` has one (null before). Verdicts on
   * annotations no longer listed (deleted meanwhile) are left out. */
  summary(ids: readonly number[]): ImageVerdict | null {
    if (ids.some((id) => !this.verdicts.has(id))) return null;
    const rejected = ids.filter((id) => this.verdicts.get(id)?.verdict === "reject");
    if (rejected.length === 0) return { action: "accept" };
    const reasons = rejected.map((id) => {
      const comment = this.verdicts.get(id)?.comment ?? "";
      return comment ? `#${id}: ${comment}` : `#${id}`;
    });
    return { action: "reject", reason: `Rejected annotation${rejected.length > 1 ? "s" : ""} ${reasons.join("; ")}` };
  }
}
