import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { type PixelBox, stampSegment } from "../src/lib/mask-ops";
import { type Rle, compressCounts, decodeRle, decompressCounts, encodeRle } from "../src/lib/rle";
import { patchRuns, runsArea, unionBox } from "../src/lib/rle-patch";

/** Brush strokes and masks with numpy's answers (scripts/mask_ops_vectors.py). */
interface Vectors {
  singles: { mask: Rle; filled: Rle }[];
  strokes: { size: [number, number]; moves: [number, number, number, number, number, number][]; mask: Rle }[];
}

const vectors = JSON.parse(readFileSync(new URL("./mask-ops-vectors.json", import.meta.url), "utf8")) as Vectors;

const runsOf = (mask: Uint8Array, height: number, width: number) =>
  decompressCounts(encodeRle(mask, height, width).counts);

/** A small deterministic generator (mulberry32), for random masks and boxes. */
function random(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe("patchRuns", () => {
  it("follows numpy's brush strokes move by move as the full encoder does", () => {
    for (const stroke of vectors.strokes) {
      const [height, width] = stroke.size;
      const size = { height, width };
      const mask = new Uint8Array(height * width);
      let runs = runsOf(mask, height, width);
      for (const [x0, y0, x1, y1, r, value] of stroke.moves) {
        const box = stampSegment(mask, size, x0, y0, x1, y1, r, value as 0 | 1);
        if (box) runs = patchRuns(runs, mask, height, width, box);
        expect(runs).toEqual(runsOf(mask, height, width));
      }
      expect(compressCounts(runs)).toBe(stroke.mask.counts);
    }
  });

  it("patches numpy's masks changed in random boxes as the full encoder encodes them", () => {
    const next = random(16);
    for (const single of [...vectors.singles, ...vectors.singles.map((s) => ({ mask: s.filled }))]) {
      const [height, width] = single.mask.size;
      const mask = decodeRle(single.mask);
      let runs = decompressCounts(single.mask.counts);
      for (let k = 0; k < 20; k++) {
        const x = Math.floor(next() * width);
        const y = Math.floor(next() * height);
        const box = {
          x,
          y,
          width: 1 + Math.floor(next() * (width - x)),
          height: 1 + Math.floor(next() * (height - y)),
        };
        const fill = k % 3; // 0, 1: erase or fill the box; 2: noise in it
        for (let row = box.y; row < box.y + box.height; row++) {
          for (let col = box.x; col < box.x + box.width; col++) {
            mask[row * width + col] = fill === 2 ? (next() < 0.5 ? 1 : 0) : fill;
          }
        }
        runs = patchRuns(runs, mask, height, width, box);
        expect(compressCounts(runs)).toBe(encodeRle(mask, height, width).counts);
        expect(runsArea(runs)).toBe(mask.reduce((sum, v) => sum + v, 0));
      }
    }
  });

  it("handles boxes at the image's edges and the whole image", () => {
    const [height, width] = [7, 9];
    const next = random(3);
    const mask = Uint8Array.from({ length: height * width }, () => (next() < 0.4 ? 1 : 0));
    let runs = runsOf(mask, height, width);
    const boxes: PixelBox[] = [
      { x: 0, y: 0, width: 1, height: 1 },
      { x: width - 1, y: height - 1, width: 1, height: 1 },
      { x: 0, y: 0, width, height },
      { x: 0, y: 3, width, height: 1 },
      { x: 4, y: 0, width: 1, height },
    ];
    for (const box of boxes) {
      for (let row = box.y; row < box.y + box.height; row++) {
        for (let col = box.x; col < box.x + box.width; col++) {
          const at = row * width + col;
          mask[at] = mask[at] ? 0 : 1;
        }
      }
      runs = patchRuns(runs, mask, height, width, box);
      expect(runs).toEqual(runsOf(mask, height, width));
    }
    mask.fill(0);
    expect(runsArea(patchRuns(runs, mask, height, width, { x: 0, y: 0, width, height }))).toBe(0);
  });

  it("refuses a box outside the image and runs that do not cover it", () => {
    const mask = new Uint8Array(12);
    const runs = runsOf(mask, 3, 4);
    expect(() => patchRuns(runs, mask, 3, 4, { x: 3, y: 0, width: 2, height: 1 })).toThrow(/within/);
    expect(() => patchRuns([5, 2], mask, 3, 4, { x: 0, y: 0, width: 1, height: 1 })).toThrow(/cover/);
  });
});

describe("unionBox", () => {
  it("is the smallest box holding both, either may be null", () => {
    const a = { x: 2, y: 3, width: 4, height: 5 };
    const b = { x: 0, y: 6, width: 3, height: 10 };
    expect(unionBox(a, b)).toEqual({ x: 0, y: 3, width: 6, height: 13 });
    expect(unionBox(null, b)).toBe(b);
    expect(unionBox(a, null)).toBe(a);
    expect(unionBox(null, null)).toBeNull();
  });
});
