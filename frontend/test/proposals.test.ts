import { afterEach, describe, expect, it, vi } from "vitest";

import { coveredBy, cropMask, intersectionArea, maskRuns, pixelSet } from "../src/lib/overlap";
import { decodeRle, encodeRle } from "../src/lib/rle";
import type { Annotation } from "../src/annotator/api";
import { type EditPort, replayEdit } from "../src/annotator/edit-changes";
import {
  type Proposal,
  type AcceptedAll,
  acceptAllProposals,
  acceptAllStep,
  acceptUrl,
  coveredProposals,
  type ProposalRunState,
  NONE_AFTER_ENCODED,
  describeAcceptAll,
  describeRunState,
  onRunState,
  proposalAt,
  proposalClick,
  withRuns,
} from "../src/annotator/proposals";
import { ProposalLayer } from "../src/annotator/proposal-layer";

const H = 6;
const W = 8;

/** A mask of the image (H × W) with the rectangle [x0, x1) × [y0, y1) set. */
function rect(x0: number, y0: number, x1: number, y1: number) {
  const mask = new Uint8Array(H * W);
  for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask[y * W + x] = 1;
  return mask;
}

function proposal(id: number, x0: number, y0: number, x1: number, y1: number): Proposal {
  return {
    id,
    rle: encodeRle(rect(x0, y0, x1, y1), H, W),
    bbox: [x0, y0, x1 - x0, y1 - y0],
    area: (x1 - x0) * (y1 - y0),
    predicted_iou: 0.9,
    stability: 0.95,
    point: [x0, y0],
  };
}

const runsOf = (x0: number, y0: number, x1: number, y1: number) => maskRuns(encodeRle(rect(x0, y0, x1, y1), H, W));

describe("masks as runs", () => {
  it("share the pixels that both masks set", () => {
    expect(intersectionArea(runsOf(0, 0, 4, 4), runsOf(2, 2, 8, 6))).toBe(4);
    expect(intersectionArea(runsOf(0, 0, 2, 2), runsOf(4, 4, 8, 6))).toBe(0);
    expect(runsOf(1, 1, 4, 3).area).toBe(6);
  });

  it("know which pixels are set", () => {
    const mask = runsOf(2, 1, 5, 3);
    for (let y = 0; y < H; y++) {
      for (let x = 0; x < W; x++) expect(pixelSet(mask, x, y)).toBe(x >= 2 && x < 5 && y >= 1 && y < 3);
    }
    expect(pixelSet(mask, -1, 1)).toBe(false);
    expect(pixelSet(mask, 2, H)).toBe(false);
  });

  it("crop to a box as the decoded mask would", () => {
    const pixels = rect(1, 2, 7, 5);
    pixels[0] = 1; // a stray pixel outside the box
    const mask = maskRuns(encodeRle(pixels, H, W));
    const full = decodeRle(encodeRle(pixels, H, W));
    const crop = cropMask(mask, 2, 1, 4, 3);
    for (let y = 0; y < 3; y++) for (let x = 0; x < 4; x++) expect(crop[y * 4 + x]).toBe(full[(y + 1) * W + x + 2]);
  });

  it("count a mask as covered by one that holds most of it, not by one inside it", () => {
    const big = runsOf(0, 0, 8, 6);
    const small = runsOf(1, 1, 3, 3);
    expect(coveredBy(small, big)).toBe(true);
    expect(coveredBy(big, small)).toBe(false);
    // The same object drawn a little differently: IoU above a half.
    expect(coveredBy(runsOf(0, 0, 4, 4), runsOf(0, 0, 4, 3))).toBe(true);
    expect(coveredBy(runsOf(0, 0, 4, 4), runsOf(3, 0, 8, 6))).toBe(false);
  });
});

describe("proposals", () => {
  const proposals = withRuns([proposal(1, 0, 0, 8, 6), proposal(2, 1, 1, 4, 4), proposal(3, 5, 0, 8, 2)]);

  it("fade where a saved annotation covers them", () => {
    expect(coveredProposals(proposals, [])).toEqual(new Set());
    expect(coveredProposals(proposals, [runsOf(1, 1, 4, 4)])).toEqual(new Set([2]));
    expect(coveredProposals(proposals, [runsOf(0, 0, 8, 6)])).toEqual(new Set([1, 2, 3]));
  });

  it("under the cursor: the smallest that holds the pixel, covered ones left out", () => {
    expect(proposalAt(proposals, [2.5, 2.5])?.id).toBe(2);
    expect(proposalAt(proposals, [6.2, 1.9])?.id).toBe(3);
    expect(proposalAt(proposals, [6, 4])?.id).toBe(1);
    expect(proposalAt(proposals, [2.5, 2.5], new Set([2]))?.id).toBe(1);
    expect(proposalAt(proposals, [2.5, 2.5], new Set([1, 2]))).toBeNull();
    expect(proposalAt(proposals, [9, 9])).toBeNull();
  });

  it("accept at their own URL", () => {
    expect(acceptUrl("/api/projects/3/images/5/proposals/0/accept/", 42)).toBe("/api/projects/3/images/5/proposals/42/accept/");
  });
});

describe("a click with proposals", () => {
  const base = { shown: true, shift: false, positive: true, promptEmpty: true, selected: false, underCursor: true };

  it("selects the proposal under it when no prompt is under way", () => {
    expect(proposalClick(base)).toBe("select");
  });

  it("is a SAM point with proposals hidden, with Shift, off proposals, mid-prompt or negative", () => {
    expect(proposalClick({ ...base, shown: false })).toBe("point");
    expect(proposalClick({ ...base, shift: true })).toBe("point");
    expect(proposalClick({ ...base, underCursor: false })).toBe("point");
    expect(proposalClick({ ...base, promptEmpty: false })).toBe("point");
    expect(proposalClick({ ...base, positive: false })).toBe("point");
  });

  it("refines the selected proposal, positive or negative, anywhere", () => {
    expect(proposalClick({ ...base, selected: true })).toBe("refine");
    expect(proposalClick({ ...base, selected: true, positive: false, underCursor: false })).toBe("refine");
    expect(proposalClick({ ...base, selected: true, shift: true })).toBe("point");
  });
});

describe("an accept-all as one undo step", () => {
  const made = (id: number, proposalId?: number): Annotation => ({
    id,
    version: 1,
    area: 4,
    label_class: 7,
    rle: encodeRle(rect(0, 0, 2, 2), H, W),
    prompts: { points: [], labels: [], box: null },
    ...(proposalId === undefined ? {} : { proposal_id: proposalId }),
  });

  /** A port that records what the replay asks of the server; new ids from 100. */
  function recordingPort() {
    const calls: string[] = [];
    let next = 100;
    const port: EditPort = {
      setMask: () => Promise.reject(new Error("an accept-all changes no mask")),
      create: (payload) => {
        calls.push(`create proposal ${payload.proposal_id} as ${next}`);
        return Promise.resolve({ ...made(next++), ...payload });
      },
      remove: (id) => {
        calls.push(`remove ${id}`);
        return Promise.resolve();
      },
      renumber: () => undefined,
    };
    return { calls, port };
  }

  it("undo deletes exactly the annotations it made, newest first", async () => {
    const step = acceptAllStep([made(11, 3), made(12, 5), made(13, 4)]);
    expect(step.what).toBe("accept-all of 3 proposals");
    const { calls, port } = recordingPort();
    await replayEdit(step, "undo", port);
    expect(calls).toEqual(["remove 13", "remove 12", "remove 11"]);
  });

  it("redo saves their masks again, each with its class and proposal", async () => {
    const step = acceptAllStep([made(11, 3), made(12, 5)]);
    const { calls, port } = recordingPort();
    await replayEdit(step, "redo", port);
    expect(calls).toEqual(["create proposal 3 as 100", "create proposal 5 as 101"]);
    const change = step.changes[0];
    expect(change?.kind === "create" && change.payload.label_class).toBe(7);
  });

  it("names one proposal in the singular and leaves out a missing proposal id", () => {
    const lone = acceptAllStep([made(11)]);
    expect(lone.what).toBe("accept-all of 1 proposal");
    const change = lone.changes[0];
    expect(change?.kind === "create" && "proposal_id" in change.payload).toBe(false);
  });
});

describe("an accept-all", () => {
  afterEach(() => vi.unstubAllGlobals());

  it("sends one class, or asks for the suggested classes", async () => {
    const bodies: unknown[] = [];
    vi.stubGlobal("document", { cookie: "" });
    vi.stubGlobal("fetch", async (_url: string, init: RequestInit) => {
      bodies.push(JSON.parse(String(init.body)));
      const made: AcceptedAll = {
        created: 0,
        skipped_covered: 0,
        skipped_unsure: 2,
        skipped_whole_image: 0,
        annotations: [],
      };
      return new Response(JSON.stringify(made), { status: 201 });
    });
    await acceptAllProposals("/accept-all/", 7, 0.9);
    const answer = await acceptAllProposals("/accept-all/", "suggested", 0.8);
    expect(bodies).toEqual([
      { label_class: 7, min_iou: 0.9 },
      { suggested: true, min_iou: 0.8 },
    ]);
    expect(answer.skipped_unsure).toBe(2);
  });

  it("says what it made, and what it left open", () => {
    const annotation = { id: 1 } as unknown as Annotation;
    const two = {
      created: 2,
      skipped_covered: 0,
      skipped_unsure: 0,
      skipped_whole_image: 0,
      annotations: [annotation, annotation],
    };
    expect(describeAcceptAll(two, "cup")).toBe("2 proposals accepted as cup; Ctrl+Z deletes them.");
    const one = { created: 1, skipped_covered: 0, skipped_unsure: 3, skipped_whole_image: 0, annotations: [annotation] };
    expect(describeAcceptAll(one, null)).toBe(
      "1 proposal accepted with its suggested class, 3 left open (no confident suggestion); Ctrl+Z deletes it.",
    );
    const none = { created: 0, skipped_covered: 0, skipped_unsure: 1, skipped_whole_image: 0, annotations: [] };
    expect(describeAcceptAll(none, null)).toBe(
      "0 proposals accepted with their suggested classes, 1 left open (no confident suggestion).",
    );
    const frame = { created: 1, skipped_covered: 0, skipped_unsure: 0, skipped_whole_image: 1, annotations: [annotation] };
    expect(describeAcceptAll(frame, "cup")).toBe(
      "1 proposal accepted as cup, 1 of the whole image left open (a click accepts it); Ctrl+Z deletes it.",
    );
  });
});

describe("a proposals run not done yet", () => {
  afterEach(() => vi.unstubAllGlobals());
  const state = (status: ProposalRunState["status"], proposal_count = 0, error = ""): ProposalRunState => ({
    status,
    proposal_count,
    error,
  });

  it("is waited for while pending or running, then listed; a failure stops", () => {
    expect(onRunState(state("pending"), true, 0)).toBe("wait");
    expect(onRunState(state("running"), false, 0)).toBe("wait");
    expect(onRunState(state("done", 3), true, 0)).toBe("list");
    expect(onRunState(state("failed"), true, 0)).toBe("stop");
  });

  it("is expected only where the project has proposals on, until shortly after encoding", () => {
    expect(onRunState(state("none"), false, 0)).toBe("stop");
    expect(onRunState(state("none"), true, 0)).toBe("wait"); // still being encoded
    expect(onRunState(state("none"), true, NONE_AFTER_ENCODED)).toBe("wait");
    expect(onRunState(state("none"), true, NONE_AFTER_ENCODED + 1)).toBe("stop");
  });

  it("is described in the panel, a failure with its reason", () => {
    expect(describeRunState(state("pending"))).toContain("waiting for the worker");
    expect(describeRunState(state("running"))).toContain("being made");
    expect(describeRunState(state("failed", 0, "out of memory"))).toBe("Proposals could not be made: out of memory.");
    expect(describeRunState(state("done", 2))).toBeNull();
    expect(describeRunState(null)).toBeNull();
  });

  /** A server whose status endpoint answers ``answers`` in turn (the last one again and
   * again); the list endpoint answers no proposals. The status URLs asked, in order. */
  function server(answers: ProposalRunState[]): string[] {
    const asked: string[] = [];
    vi.stubGlobal("document", { cookie: "" });
    vi.stubGlobal("fetch", async (url: string) => {
      asked.push(url);
      const body = url.endsWith("status/") ? (answers.length > 1 ? answers.shift() : answers[0]) : [];
      return new Response(JSON.stringify(body), { status: 200 });
    });
    return asked;
  }

  it("is followed until done; the layer says how it stands meanwhile", async () => {
    const asked = server([state("pending"), state("running"), state("running"), state("done", 0)]);
    const seen: (string | null)[] = [];
    const layer: ProposalLayer = new ProposalLayer(() => seen.push(layer.runState?.status ?? null));
    const follow = { statusUrl: "/p/status/", expected: true, encoded: () => true, pollMs: 0 };
    await layer.load("/p/", follow);
    expect(seen).toEqual(["pending", "running", "running", null]);
    expect(asked.filter((url) => url === "/p/status/")).toHaveLength(4);
    expect(asked.filter((url) => url === "/p/")).toHaveLength(1); // done with none: not listed again
    expect(layer.count).toBe(0);
  });

  it("keeps a failure for the panel, and stops when no run is coming", async () => {
    server([state("running"), state("failed", 0, "no memory")]);
    const failed = new ProposalLayer(() => undefined);
    await failed.load("/p/", { statusUrl: "/p/status/", expected: true, encoded: () => true, pollMs: 0 });
    expect(failed.runState?.error).toBe("no memory");

    const asked = server([state("none")]);
    let encoded = false;
    const layer = new ProposalLayer(() => undefined);
    const loading = layer.load("/p/", { statusUrl: "/p/status/", expected: true, encoded: () => encoded, pollMs: 1 });
    // Still asking while the image is encoded (the run is asked for after encoding).
    await vi.waitFor(() => expect(asked.length).toBeGreaterThan(3), { timeout: 10_000 });
    const whileEncoding = asked.length;
    encoded = true;
    await loading;
    expect(asked.length - whileEncoding).toBeLessThanOrEqual(NONE_AFTER_ENCODED + 1);
    expect(layer.runState).toBeNull();
  });
});
