/**
 * Each prompt's masks, on one image: the fast decoder's, shown at once, and the exact
 * decoder's (equal to PyTorch's), which replaces it when it comes and is what gets saved.
 *
 * A prompt made by adding a point to another feeds that one's chosen low-res mask back
 * to the decoder, as SAM's predictor does when clicks refine an object; so a prompt's
 * exact mask is the end of a chain: its parent's exact mask first, fed back. Prompts are
 * immutable objects and are the keys here, so undo and redo find their masks again.
 *
 * Pure bookkeeping: the page runs the decodes.
 */

import type { Prompt } from "../lib/prompts";
import { usesCandidates } from "./history";

/** A decoder's answer: ``iou`` (4,) for token 0 (single mask) and 1-3 (candidates),
 * ``lowRes`` (4, 256, 256) logits in the same order. */
export interface Masks {
  readonly iou: Float32Array;
  readonly lowRes: Float32Array;
}

/** Runs the exact decoder on ``prompt`` with ``maskInput`` (256, 256) fed back;
 * null when it failed. */
export type ExactRun<M extends Masks> = (prompt: Prompt, maskInput: Float32Array | null) => Promise<M | null>;

/** SAM's choice among the three candidates: the highest predicted IoU. */
export function bestCandidate(iou: Float32Array): number {
  let best = 1;
  for (let i = 2; i < 4; i++) if ((iou[i] as number) > (iou[best] as number)) best = i;
  return best;
}

export class PromptMasks<M extends Masks> {
  private readonly parents = new WeakMap<Prompt, Prompt>();
  private readonly fast = new WeakMap<Prompt, M>();
  private readonly pendingFast = new WeakMap<Prompt, Promise<M | null>>();
  private readonly exact = new WeakMap<Prompt, M>();
  private readonly exactRuns = new WeakMap<Prompt, Promise<M | null>>();
  private readonly picks = new WeakMap<Prompt, number>();

  /** ``cells``: the low-res mask's size, 256 * 256. */
  constructor(private readonly cells: number) {}

  /** ``next`` was made from ``from`` (a point added, a box drawn). */
  follow(next: Prompt, from: Prompt): void {
    if (next !== from && !this.parents.has(next)) this.parents.set(next, from);
  }

  /** The prompt whose mask is fed back with ``prompt``: SAM's predictor feeds the last
   * mask back from the second point on. */
  parentOf(prompt: Prompt): Prompt | null {
    return prompt.points.length > 1 ? (this.parents.get(prompt) ?? null) : null;
  }

  setFast(prompt: Prompt, masks: M): void {
    this.fast.set(prompt, masks);
  }

  /** The fast decode of ``prompt`` is on its way; null if it is superseded or fails. */
  setPending(prompt: Prompt, masks: Promise<M | null>): void {
    this.pendingFast.set(prompt, masks);
  }

  /** The fast decode of ``prompt`` on its way, if any (resolved once it came). */
  pending(prompt: Prompt): Promise<M | null> {
    return this.pendingFast.get(prompt) ?? Promise.resolve(null);
  }

  /** The user chose candidate ``index`` (1-3) for ``prompt``. */
  pick(prompt: Prompt, index: number): void {
    this.picks.set(prompt, index);
  }

  /** The masks to show for ``prompt``: the exact ones once they came, else the fast ones. */
  shown(prompt: Prompt): { masks: M; exact: boolean } | null {
    const exact = this.exact.get(prompt);
    if (exact) return { masks: exact, exact: true };
    const fast = this.fast.get(prompt);
    return fast ? { masks: fast, exact: false } : null;
  }

  hasExact(prompt: Prompt): boolean {
    return this.exact.has(prompt);
  }

  /** Which of the four tokens ``prompt`` uses in ``masks``: after a single click the
   * user's pick, else the best candidate; otherwise token 0, the single mask. */
  candidate(prompt: Prompt, masks: M): number {
    if (!usesCandidates(prompt) || masks.iou.length !== 4) return 0;
    return this.picks.get(prompt) ?? bestCandidate(masks.iou);
  }

  /** The chosen low-res logits (256, 256) of ``masks`` for ``prompt`` (a view). */
  chosen(prompt: Prompt, masks: M): Float32Array {
    const index = this.candidate(prompt, masks);
    return masks.lowRes.subarray(index * this.cells, (index + 1) * this.cells);
  }

  /** What the fast decoder gets fed back with ``prompt``: the parent's chosen mask, exact
   * if it came; if the parent has none yet (its decode was superseded by a quicker
   * click), the nearest ancestor's. A copy, as the worker takes it. */
  fastFeed(prompt: Prompt): Float32Array | null {
    for (let p = this.parentOf(prompt); p; p = this.parents.get(p) ?? null) {
      const shown = this.shown(p);
      if (shown) return Float32Array.from(this.chosen(p, shown.masks));
    }
    return null;
  }

  /** ``prompt``'s exact masks: its parent's first, whose chosen mask is fed back. Each
   * prompt's exact decode runs once; one that failed is tried again next time. */
  exactOf(prompt: Prompt, run: ExactRun<M>): Promise<M | null> {
    const known = this.exactRuns.get(prompt);
    if (known) return known;
    const parent = this.parentOf(prompt);
    const feed: Promise<Float32Array | null | undefined> = parent
      ? this.exactOf(parent, run).then((masks) => (masks ? Float32Array.from(this.chosen(parent, masks)) : undefined))
      : Promise.resolve(null);
    const result = feed.then(async (maskInput) => {
      const masks = maskInput === undefined ? null : await run(prompt, maskInput);
      if (masks) this.exact.set(prompt, masks);
      else this.exactRuns.delete(prompt);
      return masks;
    });
    this.exactRuns.set(prompt, result);
    return result;
  }
}
