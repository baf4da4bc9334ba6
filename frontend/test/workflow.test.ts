import { describe, expect, it } from "vitest";

import { ActiveTimeCounter, MAX_REPORT_SECONDS } from "../src/lib/active-time";
import { InputHandler, type Intents, type Verdict, keyHelp } from "../src/annotator/input";
import { type Issue, issueText, pinsOf } from "../src/annotator/issues";
import { authorship, origin } from "../src/annotator/panel";
import { ReviewVerdicts } from "../src/annotator/review";
import { type WorkItem, endOfProjectText, holds, imageUrl, queuePositionText, stateText } from "../src/annotator/work";

describe("ActiveTimeCounter", () => {
  it("counts the time between interactions and leaves out a stretch longer than a minute", () => {
    const clock = new ActiveTimeCounter(60_000);
    clock.touch(0);
    clock.touch(30_000); // 30 s active
    clock.touch(50_000); // 20 s active
    clock.touch(50_000 + 61_000); // idle: nothing, not even the first minute
    clock.touch(50_000 + 61_000 + 10_500); // 10.5 s active
    expect(clock.take()).toBe(60);
    expect(clock.pending).toBe(500); // the half second waits for the next report
    expect(clock.take()).toBe(0);
  });

  it("counts nothing for a single interaction, and the last stretch only when the page is left", () => {
    const clock = new ActiveTimeCounter(60_000);
    clock.touch(1_000);
    expect(clock.take()).toBe(0);
    clock.end(21_000); // left 20 s after the last click
    expect(clock.take()).toBe(20);
    clock.touch(500_000); // back much later: a fresh start, no stretch counted
    clock.end(700_000); // left after 200 s with no interaction: idle
    expect(clock.take()).toBe(0);
  });

  it("says whether the person was active within the last minute", () => {
    const clock = new ActiveTimeCounter(60_000);
    expect(clock.activeAt(0)).toBe(false);
    clock.touch(10_000);
    expect(clock.activeAt(70_000)).toBe(true);
    expect(clock.activeAt(70_001)).toBe(false);
  });

  it("hands out at most the server's limit per report", () => {
    const clock = new ActiveTimeCounter(60_000);
    for (let t = 0; t <= 400_000; t += 50_000) clock.touch(t);
    expect(clock.take()).toBe(MAX_REPORT_SECONDS);
    expect(clock.take()).toBe(100);
  });

  it("ignores an event stamped before the last one", () => {
    const clock = new ActiveTimeCounter(60_000);
    clock.touch(10_000);
    clock.touch(5_000);
    clock.touch(20_000);
    expect(clock.take()).toBe(10);
  });
});

const item = (fields: Partial<WorkItem>): WorkItem => ({
  image: 7,
  image_name: "cup.png",
  state: "new",
  annotator: null,
  reviewer: null,
  assignee: null,
  review_assignee: null,
  lease_expires_at: null,
  reason: "",
  version: 1,
  description: "",
  ...fields,
});

describe("workflow words", () => {
  it("says where the image is in my queue", () => {
    expect(queuePositionText(12, 40, "annotate")).toBe("image 12 of 40 in my queue");
    expect(queuePositionText(1, 1, "review")).toBe("image 1 of 1 in my review queue");
    expect(queuePositionText(null, 3, "annotate")).toBe("3 images in my queue");
  });

  it("says the state and who holds the image, me as 'you'", () => {
    expect(stateText(item({ state: "annotating", annotator: "ann" }), "ann")).toBe("being labelled by you");
    expect(stateText(item({ state: "in_review", annotator: "ann", reviewer: "rev" }), "ann")).toBe("in review by rev");
    expect(stateText(item({ state: "submitted", annotator: "ann" }), "rev")).toBe("submitted (labelled by ann)");
    expect(stateText(item({ state: "rejected", annotator: "ann", reviewer: "rev", reason: "cup missing" }), "ann")).toBe(
      "rejected by rev: cup missing",
    );
    expect(stateText(item({ state: "new", assignee: "ann" }), "ann")).toBe("new, given to you");
    expect(stateText(item({ state: "accepted", reviewer: "rev" }), "ann")).toBe("accepted by rev");
  });

  it("knows who holds an image", () => {
    expect(holds(item({ state: "annotating", annotator: "ann" }), "ann")).toBe(true);
    expect(holds(item({ state: "submitted", annotator: "ann" }), "ann")).toBe(false);
    expect(holds(item({ state: "in_review", annotator: "ann", reviewer: "rev" }), "ann")).toBe(false);
    expect(holds(item({ state: "in_review", reviewer: "rev" }), "rev")).toBe(true);
  });

  it("says so at either end of the project, with the queue's key", () => {
    expect(endOfProjectText("next", "Kitchen", null)).toBe("Last image of Kitchen.");
    expect(endOfProjectText("previous", "Kitchen", null)).toBe("First image of Kitchen.");
    expect(endOfProjectText("next", "Kitchen", "annotate")).toContain("Ctrl+Enter submits");
  });

  it("fills an image id into a URL template", () => {
    expect(imageUrl("/projects/10/images/0/annotate/config.json", 42)).toBe("/projects/10/images/42/annotate/config.json");
    expect(imageUrl("/api/projects/0/images/0/work/", 5)).toBe("/api/projects/0/images/5/work/");
  });

  it("names the author and the last editor", () => {
    expect(authorship("ann", null)).toBe("by ann");
    expect(authorship("ann", "ann")).toBe("by ann");
    expect(authorship("ann", "rev")).toBe("by ann, edited by rev");
    expect(authorship(undefined, undefined)).toBe("");
  });

  it("says what of an annotation a machine made", () => {
    expect(origin({ source: "manual", class_suggested: false })).toBe("");
    expect(origin({ source: "proposal", class_suggested: false })).toBe("proposal");
    expect(origin({ source: "proposal", class_suggested: true })).toBe("proposal, class suggested");
    expect(origin({})).toBe("");
  });
});

describe("ReviewVerdicts", () => {
  it("moves to the next annotation without a verdict, wrapping round", () => {
    const verdicts = new ReviewVerdicts();
    const ids = [3, 5, 9];
    expect(verdicts.nextUndecided(ids, null)).toBe(3);
    verdicts.set(5, "accept");
    expect(verdicts.nextUndecided(ids, 3)).toBe(9);
    verdicts.set(9, "accept");
    expect(verdicts.nextUndecided(ids, 9)).toBe(3);
    verdicts.set(3, "accept");
    expect(verdicts.nextUndecided(ids, 3)).toBeNull();
  });

  it("accepts the image when every annotation is accepted", () => {
    const verdicts = new ReviewVerdicts();
    verdicts.set(3, "accept");
    expect(verdicts.summary([3, 5])).toBeNull(); // #5 has no verdict yet
    verdicts.set(5, "accept");
    expect(verdicts.summary([3, 5])).toEqual({ action: "accept" });
  });

  it("rejects the image with the rejected annotations' comments as the reason", () => {
    const verdicts = new ReviewVerdicts();
    verdicts.set(3, "reject", " edge cuts the handle ");
    verdicts.set(5, "accept");
    verdicts.set(9, "reject", "");
    verdicts.set(11, "reject", "deleted since"); // no longer listed: left out
    expect(verdicts.summary([3, 5, 9])).toEqual({
      action: "reject",
      reason: "Rejected annotations #3: edge cuts the handle; #9",
    });
  });
});

describe("queue keys", () => {
  type Call = [string, ...unknown[]];
  function press(name: string, intents: Partial<Intents>, modifiers: Record<string, boolean> = {}): Call[] {
    const calls: Call[] = [];
    const record = (n: string) => (...args: unknown[]) => void calls.push([n, ...args]);
    const all: Intents = {
      point: record("point"), box: record("box"), hover: record("hover"), clear: record("clear"),
      save: record("save"), undo: record("undo"), redo: record("redo"), nextCandidate: record("nextCandidate"),
      chooseCandidate: () => false, step: record("step"), deleteSelected: record("deleteSelected"),
      chooseClass: (key) => (calls.push(["chooseClass", key]), true),
      ...intents,
    };  // prettier-ignore
    const keys = new EventTarget();
    const viewport = { toImage: () => [0, 0] as const, inside: () => true, zoom: 1, panBy() {}, zoomAt() {}, showDragBox() {} };
    new InputHandler(new EventTarget(), keys, viewport, all);
    const event = new Event("keydown", { cancelable: true });
    const fields = { key: name, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, timeStamp: 1, ...modifiers };
    for (const [field, value] of Object.entries(fields)) Object.defineProperty(event, field, { value });
    keys.dispatchEvent(event);
    return calls;
  }

  it("submits with Ctrl+Enter in a labelling queue, and saves with Enter alone", () => {
    const submit = (): boolean => true;
    const calls: Call[] = [];
    expect(press("Enter", { submit: () => (calls.push(["submit"]), true) }, { ctrlKey: true })).toEqual([]);
    expect(calls).toEqual([["submit"]]);
    expect(press("Enter", { submit })).toEqual([["save"]]);
    // Not in a queue: Ctrl+Enter saves, as it did before queues.
    expect(press("Enter", { submit: () => false }, { ctrlKey: true })).toEqual([["save"]]);
  });

  it("gives verdicts with A / R in review, and leaves the letters to the classes otherwise", () => {
    const verdicts: [Verdict, boolean][] = [];
    const review = (verdict: Verdict, whole: boolean): boolean => (verdicts.push([verdict, whole]), true);
    press("a", { review });
    press("r", { review });
    press("A", { review }, { shiftKey: true });
    press("R", { review }, { shiftKey: true });
    expect(verdicts).toEqual([["accept", false], ["reject", false], ["accept", true], ["reject", true]]);
    expect(press("a", { review: () => false })).toEqual([["chooseClass", "a"]]);
  });

  it("lists the queue's keys only in that queue", () => {
    const plain = keyHelp(null).map((h) => h.keys);
    expect(plain).not.toContain("Ctrl+Enter");
    expect(plain).not.toContain("A / R");
    expect(keyHelp("annotate").map((h) => h.keys)).toContain("Ctrl+Enter");
    const review = keyHelp("review").map((h) => h.keys);
    expect(review).toContain("A / R");
    expect(review).toContain("Shift+A / Shift+R");
    expect(review).not.toContain("Ctrl+Enter");
  });
});

describe("issue pins", () => {
  const issue = (fields: Partial<Issue>): Issue => ({
    id: 1, image: 7, annotation: null, x: null, y: null, author: "rita", status: "open", text: "look", ...fields,
  });  // prettier-ignore

  it("pins an issue at its point, or at the middle of its annotation's box", () => {
    const boxes = new Map([[12, [10, 20, 30, 40]]]);
    const pins = pinsOf(
      [issue({ id: 1, x: 5, y: 6 }), issue({ id: 2, annotation: 12 }), issue({ id: 3, annotation: 99 }), issue({ id: 4, x: 1, y: 2 })],
      boxes,
    );
    // The third (its annotation is gone) has no pin; the numbers stay the list's.
    expect(pins).toEqual([
      { x: 5, y: 6, number: 1, resolved: false },
      { x: 25, y: 40, number: 2, resolved: false },
      { x: 1, y: 2, number: 4, resolved: false },
    ]);
  });

  it("lists an issue with its author and annotation", () => {
    expect(issueText(issue({ annotation: 12, text: "ears missing" }), 2)).toBe("2. rita on #12: ears missing");
    expect(issueText(issue({ author: null }), 1)).toBe("1. someone: look");
  });
});
