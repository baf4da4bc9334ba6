import { describe, expect, it } from "vitest";

import { reasonNote, type RuleCheckRecord } from "../src/annotator/rules-reasons";

const check = (over: Partial<RuleCheckRecord>): RuleCheckRecord => ({
  kind: "submit",
  ruleset_version: 3,
  errors: 2,
  reason: "the cars are far away",
  checked_by: "ann",
  ...over,
});

describe("reasonNote", () => {
  it("says who went on despite how many errors, and why", () => {
    expect(reasonNote([check({})])).toBe("Submitted by ann despite 2 errors (rules version 3): “the cars are far away”");
    expect(reasonNote([check({ kind: "accept", errors: 1, checked_by: null })])).toBe(
      "Accepted despite 1 error (rules version 3): “the cars are far away”",
    );
  });

  it("reads the newest submit or accept, past whole-project checks", () => {
    const project = check({ kind: "project", reason: "", errors: 5 });
    expect(reasonNote([project, check({ reason: "newest" }), check({ reason: "older" })])).toContain("“newest”");
  });

  it("has nothing when the newest move had no errors, even if an older one had a reason", () => {
    expect(reasonNote([check({ errors: 0, reason: "" }), check({})])).toBeNull();
    expect(reasonNote([])).toBeNull();
    expect(reasonNote([check({ kind: "manual" })])).toBeNull();
  });
});
