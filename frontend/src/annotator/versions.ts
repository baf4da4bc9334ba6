/**
 * An annotation's history (``GET /api/projects/<p>/annotations/<id>/history/``) in words:
 * each version with who saved it, when, and what it changed from the one before (label
 * class, area, mask), and whether it was saved since the image's last review. Pure.
 */

import type { Rle } from "../lib/rle";

/** One saved state of an annotation; ``rle`` at the image's size, ``area`` in pixels. */
export interface AnnotationVersion {
  readonly version: number;
  readonly editor: string | null;
  readonly saved_at: string; // ISO 8601
  readonly label_class: number | null;
  readonly rle: Rle;
  readonly area: number;
  readonly changed_since_review: boolean;
}

/** The image's last accept or reject. */
export interface LastReview {
  readonly action: string; // "accept" | "reject"
  readonly by: string | null;
  readonly at: string;
}

export interface AnnotationHistory {
  readonly annotation: number;
  readonly version: number;
  readonly author: string | null;
  readonly last_editor: string | null;
  readonly last_review: LastReview | null;
  /** Newest first. */
  readonly versions: readonly AnnotationVersion[];
}

/** A version as the history panel lists it. */
export interface VersionRow {
  readonly version: number;
  /** "v2 · ann · 30/11/2026, 19:30:00" */
  readonly heading: string;
  /** "class thing → cup · 11,200 px (+1,300) · mask changed", or "created · 9,900 px". */
  readonly change: string;
  readonly changedSinceReview: boolean;
  /** The annotation as it is now (its outline is the saved mask on the canvas). */
  readonly current: boolean;
}

const signed = (n: number): string => (n > 0 ? `+${n.toLocaleString("en")}` : n.toLocaleString("en"));

/** What ``version`` changed from ``before`` (the version saved just before it, if kept). */
export function changeText(
  version: AnnotationVersion,
  before: AnnotationVersion | undefined,
  className: (id: number | null) => string,
): string {
  const area = `${version.area.toLocaleString("en")} px`;
  if (!before) return version.version === 1 ? `created as ${className(version.label_class)} · ${area}` : area;
  const parts: string[] = [];
  if (version.label_class !== before.label_class) {
    parts.push(`class ${className(before.label_class)} → ${className(version.label_class)}`);
  }
  const grew = version.area - before.area;
  parts.push(grew === 0 ? area : `${area} (${signed(grew)})`);
  if (version.rle.counts !== before.rle.counts) parts.push("mask changed");
  else if (parts.length === 1) parts.push("mask unchanged");
  return parts.join(" · ");
}

/** The rows of ``history``, newest first. ``when`` formats a time stamp for people. */
export function versionRows(
  history: AnnotationHistory,
  className: (id: number | null) => string,
  when: (iso: string) => string = (iso) => new Date(iso).toLocaleString(),
): VersionRow[] {
  const versions = history.versions;
  return versions.map((version, index) => ({
    version: version.version,
    heading: [`v${version.version}`, version.editor ?? "someone", when(version.saved_at)].join(" · "),
    change: changeText(version, versions[index + 1], className),
    changedSinceReview: version.changed_since_review,
    current: version.version === history.version,
  }));
}

/** "last review: rejected by rita (30/11/2026, 19:30:00)", or "never reviewed". */
export function reviewText(review: LastReview | null, when: (iso: string) => string = (iso) => new Date(iso).toLocaleString()): string {
  if (!review) return "never reviewed";
  const done = review.action === "accept" ? "accepted" : review.action === "reject" ? "rejected" : review.action;
  return `last review: ${done}${review.by ? ` by ${review.by}` : ""} (${when(review.at)})`;
}
