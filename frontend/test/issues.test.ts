import { describe, expect, it } from "vitest";

import { keyHelp, KEY_BINDINGS, type Intents, type KeyInput } from "../src/annotator/input";
import {
  type Issue,
  commentText,
  issueText,
  listedIssues,
  openIssuesQuestion,
  pinsOf,
  repliesText,
} from "../src/annotator/issues";
import { type AnnotationHistory, type AnnotationVersion, changeText, reviewText, versionRows } from "../src/annotator/versions";

const issue = (fields: Partial<Issue>): Issue => ({
  id: 1, image: 7, annotation: null, x: null, y: null, author: "rita", status: "open", text: "look", ...fields,
});  // prettier-ignore

describe("issues in the panel", () => {
  it("lists the open issues oldest first, and the resolved ones after them when asked", () => {
    const issues = [
      issue({ id: 9, status: "resolved" }),
      issue({ id: 5 }),
      issue({ id: 2 }),
      issue({ id: 3, status: "resolved" }),
    ];
    expect(listedIssues(issues, false).map((i) => i.id)).toEqual([2, 5]);
    expect(listedIssues(issues, true).map((i) => i.id)).toEqual([2, 5, 3, 9]);
  });

  it("pins a resolved issue dimmed, numbered as listed", () => {
    const pins = pinsOf(listedIssues([issue({ id: 4, x: 1, y: 2, status: "resolved" }), issue({ id: 2, x: 3, y: 4 })], true), new Map());
    expect(pins).toEqual([
      { x: 3, y: 4, number: 1, resolved: false },
      { x: 1, y: 2, number: 2, resolved: true },
    ]);
  });

  it("says where a point's issue is, and who resolved one", () => {
    expect(issueText(issue({ x: 310.4, y: 204.6, text: "a cup is not labelled" }), 2)).toBe(
      "2. rita at (310, 205): a cup is not labelled",
    );
    expect(issueText(issue({ annotation: 12, status: "resolved", resolved_by: "ann" }), 1)).toBe(
      "1. rita on #12: look (resolved by ann)",
    );
  });

  it("counts the replies after the first comment", () => {
    expect(repliesText(issue({ comment_count: 1 }))).toBe("");
    expect(repliesText(issue({ comment_count: 2 }))).toBe("1 reply");
    expect(repliesText(issue({ comment_count: 4 }))).toBe("3 replies");
    expect(commentText({ id: 1, author: "ann", text: "fixed", created_at: "" })).toBe("ann: fixed");
  });

  it("asks before a submit only when issues are still open", () => {
    expect(openIssuesQuestion(0)).toBeNull();
    expect(openIssuesQuestion(1)).toBe("1 issue is still open — submit anyway?");
    expect(openIssuesQuestion(2)).toBe("2 issues are still open — submit anyway?");
  });
});

describe("the issue and mask keys", () => {
  const key = (k: string, mods: Partial<KeyInput> = {}): KeyInput => ({
    key: k, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, timeStamp: 0, ...mods,
  });  // prettier-ignore

  function press(event: KeyInput, intents: Partial<Intents>): string[] {
    const done: string[] = [];
    const all = {
      save: () => done.push("save"),
      chooseClass: (k: string) => (done.push(`class ${k}`), true),
      ...intents,
    } as unknown as Intents;
    for (const binding of KEY_BINDINGS) if (binding.handle(event, all)) break;
    return done;
  }

  it("I arms a pin for a member who may open issues, else it is a class's key", () => {
    expect(press(key("i"), { pinIssue: () => true })).toEqual([]);
    expect(press(key("i"), { pinIssue: () => false })).toEqual(["class i"]);
    expect(press(key("i"), {})).toEqual(["class i"]);
  });

  it("Shift+Enter replaces the selected mask, Enter saves a new one", () => {
    const done: string[] = [];
    const replaceMask = (): boolean => (done.push("replace"), true);
    expect(press(key("Enter", { shiftKey: true }), { replaceMask })).toEqual([]);
    expect(done).toEqual(["replace"]);
    expect(press(key("Enter"), { replaceMask })).toEqual(["save"]);
  });

  it("lists I for reviewers only", () => {
    const keys = (mayReview: boolean): string[] => keyHelp("annotate", mayReview).map((k) => k.keys);
    expect(keys(true)).toContain("I, then a click");
    expect(keys(false)).not.toContain("I, then a click");
    expect(keys(false)).toContain("Shift+Enter");
  });
});

const version = (fields: Partial<AnnotationVersion>): AnnotationVersion => ({
  version: 1, editor: "ann", saved_at: "2026-11-30T10:00:00Z", label_class: 1,
  rle: { size: [10, 10], counts: "abc" }, area: 100, changed_since_review: false, ...fields,
});  // prettier-ignore

describe("annotation history", () => {
  const className = (id: number | null): string => (id === 1 ? "cup" : id === 2 ? "mug" : "no class");

  it("says what each version changed from the one before", () => {
    const first = version({});
    expect(changeText(first, undefined, className)).toBe("created as cup · 100 px");
    expect(changeText(version({ version: 2, area: 1300, rle: { size: [10, 10], counts: "xyz" } }), first, className)).toBe(
      "1,300 px (+1,200) · mask changed",
    );
    expect(changeText(version({ version: 2, label_class: 2 }), first, className)).toBe("class cup → mug · 100 px");
    expect(changeText(version({ version: 2 }), first, className)).toBe("100 px · mask unchanged");
    // A history that starts later (imported) says only the area of its oldest version.
    expect(changeText(version({ version: 3, area: 5 }), undefined, className)).toBe("5 px");
  });

  it("lists the versions newest first, marking the current one and those changed since review", () => {
    const history: AnnotationHistory = {
      annotation: 12,
      version: 2,
      author: "ann",
      last_editor: "ann",
      last_review: { action: "reject", by: "rita", at: "T1" },
      versions: [
        version({ version: 2, area: 90, saved_at: "T2", changed_since_review: true, rle: { size: [10, 10], counts: "q" } }),
        version({ version: 1, saved_at: "T0" }),
      ],
    };
    const rows = versionRows(history, className, (iso) => iso);
    expect(rows).toEqual([
      { version: 2, heading: "v2 · ann · T2", change: "90 px (-10) · mask changed", changedSinceReview: true, current: true },
      { version: 1, heading: "v1 · ann · T0", change: "created as cup · 100 px", changedSinceReview: false, current: false },
    ]);
    expect(reviewText(history.last_review, (iso) => iso)).toBe("last review: rejected by rita (T1)");
    expect(reviewText(null)).toBe("never reviewed");
  });
});
