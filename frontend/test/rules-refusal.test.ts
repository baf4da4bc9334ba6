import { describe, expect, it } from "vitest";

import { HttpError } from "../src/annotator/cache";
import type { RuleProblem } from "../src/rules/protocol";
import { reasonQuestion } from "../src/annotator/rules-panel";
import { rulesRefusal } from "../src/annotator/workflow-api";

const URL = "/api/projects/1/images/2/work/submit/";
const PROBLEM: RuleProblem = { rule: "big cars", severity: "error", message: "car #7 is 9 px", annotation_ids: [7] };

describe("rulesRefusal", () => {
  it("reads the quality rules' 409: sentence, problems and rules version", () => {
    const body = JSON.stringify({ detail: "The quality rules found 1 error", problems: [PROBLEM], rules_version: 3 });
    expect(rulesRefusal(new HttpError(URL, 409, body))).toEqual({
      detail: "The quality rules found 1 error",
      problems: [PROBLEM],
      rulesVersion: 3,
    });
  });

  it("is null for any other failure: another 409, another status, a body that is not JSON or not problems", () => {
    const state = JSON.stringify({ detail: "Cannot submit: it is new." });
    expect(rulesRefusal(new HttpError(URL, 409, state))).toBeNull();
    const problems = JSON.stringify({ detail: "x", problems: [PROBLEM], rules_version: 1 });
    expect(rulesRefusal(new HttpError(URL, 503, problems))).toBeNull();
    expect(rulesRefusal(new HttpError(URL, 409, "<html>"))).toBeNull();
    expect(rulesRefusal(new HttpError(URL, 409, "null"))).toBeNull();
    const odd = JSON.stringify({ detail: "x", problems: [{ rule: "r", severity: "fatal", message: "m", annotation_ids: [] }], rules_version: 1 });
    expect(rulesRefusal(new HttpError(URL, 409, odd))).toBeNull();
    expect(rulesRefusal(new Error("network"))).toBeNull();
  });
});

describe("reasonQuestion", () => {
  it("names the errors and the move", () => {
    const errors: RuleProblem[] = [PROBLEM, { ...PROBLEM, message: "car #8 is 4 px" }];
    expect(reasonQuestion(errors, "submit")).toBe(
      "The quality rules found 2 errors: car #7 is 9 px; car #8 is 4 px. Submit anyway? Say why (the reviewer reads it).",
    );
    expect(reasonQuestion([PROBLEM], "accept")).toContain("found 1 error: car #7 is 9 px. Accept anyway?");
  });
});
