/**
 * Messages between the page and the quality rules' worker (rules.worker.ts).
 *
 * The page sends ``init`` once (where Pyodide and the rules package are, and the
 * project's rule set), then ``check`` for an image; the worker answers ``ready`` (or
 * ``failed``) once, then ``checked`` (or ``failed``) for each check with its ``id``.
 */

/** One annotation as the rules see it: class name, box [x, y, width, height] in image
 * pixels, area in pixels, COCO RLE (column-major counts string, size [height, width]). */
export interface RuleAnnotation {
  readonly id: number;
  readonly label: string;
  readonly box: readonly number[];
  readonly area: number;
  readonly rle: { readonly size: readonly [number, number]; readonly counts: string };
}

/** ``ImageData.to_dict()`` of qualityrules/model.py. */
export interface RuleImage {
  readonly width: number;
  readonly height: number;
  readonly name: string;
  readonly annotations: readonly RuleAnnotation[];
}

/** The project's rule set as the API gives it: ``{"version", "rules": [...]}``. */
export interface RuleSpec {
  readonly version: number;
  readonly rules: readonly unknown[];
}

/** A problem a rule found (qualityrules.model.Problem.to_dict()). */
export interface RuleProblem {
  readonly rule: string;
  readonly severity: "error" | "warning";
  readonly message: string;
  readonly annotation_ids: readonly number[];
}

export type ToRulesWorker =
  | { readonly type: "init"; readonly pyodideUrl: string; readonly packageUrl: string; readonly spec: RuleSpec }
  | { readonly type: "check"; readonly id: number; readonly image: RuleImage };

export type FromRulesWorker =
  | { readonly type: "ready"; readonly startMs: number }
  | { readonly type: "checked"; readonly id: number; readonly problems: readonly RuleProblem[]; readonly ms: number }
  | { readonly type: "failed"; readonly id: number | null; readonly message: string };
