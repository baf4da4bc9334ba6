/**
 * A mask's RLE brought up to date after a change confined to a box, at the cost of the
 * box and the runs, not of the image: a brush stroke on a 24-megapixel mask touches a
 * few hundred thousand pixels, and encoding all 24 million again after each stroke
 * blocked the page for tens of milliseconds (mask editing, #16).
 *
 * Runs are COCO's, as in lib/rle.ts: over the mask in column-major order, the first a
 * run of zeros (possibly empty), no empty run after it.
 */

import type { PixelBox } from "./mask-ops";

/** Appends pixels to column-major runs, merging equal neighbours as encodeRle does. */
class RunWriter {
  readonly runs: number[] = [];
  value = 0;
  length = 0;

  /** ``count`` pixels of ``value`` (0 or 1). */
  add(value: number, count: number): void {
    if (count === 0) return;
    if (value === this.value) this.length += count;
    else {
      this.runs.push(this.length);
      this.value = value;
      this.length = count;
    }
  }

  finish(): number[] {
    this.runs.push(this.length);
    return this.runs;
  }
}

/** Reads runs pixel by pixel, a stretch at a time. */
class RunReader {
  private index = 0;
  private left: number;

  constructor(private readonly runs: readonly number[]) {
    this.left = runs[0] ?? 0;
  }

  /** Passes ``count`` pixels to ``out`` (``out`` null: skips them). */
  take(count: number, out: RunWriter | null): void {
    while (count > 0) {
      while (this.left === 0) {
        this.index++;
        if (this.index >= this.runs.length) throw new Error("the runs end before the image does");
        this.left = this.runs[this.index] as number;
      }
      const n = Math.min(count, this.left);
      out?.add(this.index & 1, n);
      this.left -= n;
      count -= n;
    }
  }
}

/** The column-major runs of ``mask`` (row-major ``height`` × ``width``, 0/1, as it is
 * now), given ``runs``, the runs of the mask before a change that touched no pixel
 * outside ``box`` (image pixels, within the image): the columns left and right of the
 * box and each column's rows above and below it come from ``runs``, only the box's own
 * pixels are read from ``mask``. Equals ``decompressCounts(encodeRle(mask).counts)``. */
export function patchRuns(
  runs: readonly number[],
  mask: Uint8Array,
  height: number,
  width: number,
  box: PixelBox,
): number[] {
  if (mask.length !== height * width) throw new Error("mask size does not match");
  const { x, y, width: bw, height: bh } = box;
  if (bw <= 0 || bh <= 0 || x < 0 || y < 0 || x + bw > width || y + bh > height) {
    throw new Error("the box is not within the image");
  }
  let total = 0;
  for (const run of runs) total += run;
  if (total !== height * width) throw new Error("the runs do not cover the image");
  const reader = new RunReader(runs);
  const out = new RunWriter();
  reader.take(x * height, out);
  for (let column = x; column < x + bw; column++) {
    reader.take(y, out);
    reader.take(bh, null);
    // The box's rows of this column, from the mask (inlined RunWriter.add).
    let value = out.value;
    let length = out.length;
    for (let row = y, at = y * width + column; row < y + bh; row++, at += width) {
      const pixel = mask[at] ? 1 : 0;
      if (pixel === value) length++;
      else {
        out.runs.push(length);
        value = pixel;
        length = 1;
      }
    }
    out.value = value;
    out.length = length;
    reader.take(height - y - bh, out);
  }
  reader.take((width - x - bw) * height, out);
  return out.finish();
}

/** The set pixels of a mask given as column-major runs (every second run, from the
 * second). */
export function runsArea(runs: readonly number[]): number {
  let total = 0;
  for (let i = 1; i < runs.length; i += 2) total += runs[i] as number;
  return total;
}

/** The smallest box holding ``a`` and ``b`` (either may be null). */
export function unionBox(a: PixelBox | null, b: PixelBox | null): PixelBox | null {
  if (!a) return b;
  if (!b) return a;
  const x = Math.min(a.x, b.x);
  const y = Math.min(a.y, b.y);
  const right = Math.max(a.x + a.width, b.x + b.width);
  const bottom = Math.max(a.y + a.height, b.y + b.height);
  return { x, y, width: right - x, height: bottom - y };
}
