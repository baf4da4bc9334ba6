import { describe, expect, it } from "vitest";

import { EMPTY_PROMPT, addPoint } from "../src/annotator/history";
import { type Masks, PromptMasks, bestCandidate } from "../src/annotator/prompt-masks";
import type { Prompt } from "../src/lib/prompts";

const CELLS = 4; // a 2 x 2 "low-res mask" keeps the arithmetic visible

/** Masks whose token t is filled with ``base + t`` and whose IoUs are ``iou``. */
function masksOf(base: number, iou = [0.5, 0.6, 0.9, 0.7]): Masks {
  const lowRes = new Float32Array(4 * CELLS);
  for (let t = 0; t < 4; t++) lowRes.fill(base + t, t * CELLS, (t + 1) * CELLS);
  return { iou: Float32Array.from(iou), lowRes };
}

/** An exact decoder that records what it was asked and answers with masks based on the
 * number of points (10 for one point, 20 for two...). */
function exactDecoder(fail: Set<number> = new Set()) {
  const calls: { points: number; maskInput: number[] | null }[] = [];
  const run = async (prompt: Prompt, maskInput: Float32Array | null) => {
    calls.push({ points: prompt.points.length, maskInput: maskInput ? [...maskInput] : null });
    if (fail.has(prompt.points.length)) return null;
    return masksOf(prompt.points.length * 10);
  };
  return { run, calls };
}

function chain(book: PromptMasks<Masks>, count: number): Prompt[] {
  const prompts: Prompt[] = [];
  let prompt = EMPTY_PROMPT;
  for (let i = 0; i < count; i++) {
    const next = addPoint(prompt, [i * 10, i * 10], i % 2 === 0);
    if (i > 0) book.follow(next, prompt);
    prompts.push(next);
    prompt = next;
  }
  return prompts;
}

describe("bestCandidate", () => {
  it("picks the highest predicted IoU among tokens 1-3, never token 0", () => {
    expect(bestCandidate(Float32Array.of(0.99, 0.2, 0.8, 0.5))).toBe(2);
    expect(bestCandidate(Float32Array.of(0, 0.2, 0.2, 0.9))).toBe(3);
  });
});

describe("PromptMasks", () => {
  it("uses the best candidate after one click, the user's pick if any, token 0 after two", () => {
    const book = new PromptMasks<Masks>(CELLS);
    const [one, two] = chain(book, 2) as [Prompt, Prompt];
    const masks = masksOf(0);
    expect(book.candidate(one, masks)).toBe(2);
    expect([...book.chosen(one, masks)]).toEqual([2, 2, 2, 2]);
    book.pick(one, 3);
    expect(book.candidate(one, masks)).toBe(3);
    expect(book.candidate(two, masks)).toBe(0);
  });

  it("feeds the parent's chosen mask back, exact once it came, and none to a first click", async () => {
    const book = new PromptMasks<Masks>(CELLS);
    const [one, two, three] = chain(book, 3) as [Prompt, Prompt, Prompt];
    expect(book.fastFeed(one)).toBeNull();
    book.setFast(one, masksOf(100));
    expect([...(book.fastFeed(two) ?? [])]).toEqual([102, 102, 102, 102]);
    // The second click's decode never came: the third is fed the first's mask.
    expect([...(book.fastFeed(three) ?? [])]).toEqual([102, 102, 102, 102]);
    await book.exactOf(one, exactDecoder().run);
    expect([...(book.fastFeed(two) ?? [])]).toEqual([12, 12, 12, 12]);
  });

  it("decodes a chain exactly from its first prompt, feeding each exact mask back once", async () => {
    const book = new PromptMasks<Masks>(CELLS);
    const [one, two, three] = chain(book, 3) as [Prompt, Prompt, Prompt];
    book.setFast(one, masksOf(100));
    book.pick(one, 1);
    const { run, calls } = exactDecoder();
    const masks = await book.exactOf(three, run);
    expect(masks?.lowRes[0]).toBe(30);
    expect(calls).toEqual([
      { points: 1, maskInput: null },
      { points: 2, maskInput: [11, 11, 11, 11] }, // the user's pick, token 1
      { points: 3, maskInput: [20, 20, 20, 20] }, // token 0
    ]);
    expect(book.shown(two)).toEqual({ masks: masksOf(20), exact: true });
    expect(book.hasExact(three)).toBe(true);
    // Asking again, or for a prompt of the chain, decodes nothing more.
    await Promise.all([book.exactOf(three, run), book.exactOf(one, run)]);
    expect(calls).toHaveLength(3);
  });

  it("shows the fast masks until the exact ones come", async () => {
    const book = new PromptMasks<Masks>(CELLS);
    const [one] = chain(book, 1) as [Prompt];
    expect(book.shown(one)).toBeNull();
    book.setFast(one, masksOf(100));
    expect(book.shown(one)?.exact).toBe(false);
    await book.exactOf(one, exactDecoder().run);
    expect(book.shown(one)).toEqual({ masks: masksOf(10), exact: true });
  });

  it("gives no exact mask when a link of the chain failed, and tries it again later", async () => {
    const book = new PromptMasks<Masks>(CELLS);
    const [, two] = chain(book, 2) as [Prompt, Prompt];
    const failing = exactDecoder(new Set([1]));
    expect(await book.exactOf(two, failing.run)).toBeNull();
    expect(failing.calls.map((c) => c.points)).toEqual([1]); // the second was not decoded on a wrong feed
    expect(book.hasExact(two)).toBe(false);
    const working = exactDecoder();
    expect((await book.exactOf(two, working.run))?.lowRes[0]).toBe(20);
    expect(working.calls.map((c) => c.points)).toEqual([1, 2]);
  });

  it("keeps the first parent a prompt was made from", () => {
    const book = new PromptMasks<Masks>(CELLS);
    const [one, two] = chain(book, 2) as [Prompt, Prompt];
    book.follow(two, addPoint(one, [5, 5], true));
    book.setFast(one, masksOf(100));
    expect(book.fastFeed(two)?.[0]).toBe(102);
  });
});
