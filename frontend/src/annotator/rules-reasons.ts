/**
 * Quality rules (#17): the reason someone gave for submitting or accepting an image
 * despite its rules' errors, shown in the rules panel to whoever opens the image next (the
 * reviewer reads why the annotator went on; the annotator of a rejected image reads their
 * own). Read from the server's check results of the image
 * (``GET …/images/<id>/rule-checks/``, newest first).
 */

/** One check result, as the server lists it (the fields read here). */
export interface RuleCheckRecord {
  readonly kind: string; // "submit" | "accept" | "project"
  readonly ruleset_version: number;
  readonly errors: number;
  readonly reason: string;
  readonly checked_by: string | null;
}

const VERBS: Readonly<Record<string, string>> = { submit: "Submitted", accept: "Accepted" };

/** The sentence for the newest submit or accept of ``checks`` (newest first) that went on
 * despite errors with a reason; null when the newest such move had no errors (a later
 * clean submit makes an older reason stale) or there is none. */
export function reasonNote(checks: readonly RuleCheckRecord[]): string | null {
  const move = checks.find((c) => c.kind in VERBS);
  if (!move || move.errors === 0 || !move.reason) return null;
  const who = move.checked_by ? ` by ${move.checked_by}` : "";
  const errors = `${move.errors} error${move.errors === 1 ? "" : "s"}`;
  return `${VERBS[move.kind]}${who} despite ${errors} (rules version ${move.ruleset_version}): “${move.reason}”`;
}

/** The image's check results from ``url`` (a list, or a page of one); [] when they
 * cannot be read (the note is a help, never a reason to fail the page). */
export async function fetchRuleChecks(url: string): Promise<RuleCheckRecord[]> {
  try {
    const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
    if (!response.ok) return [];
    const body = (await response.json()) as RuleCheckRecord[] | { results: RuleCheckRecord[] };
    return Array.isArray(body) ? body : body.results;
  } catch {
    return [];
  }
}
