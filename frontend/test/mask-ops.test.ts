import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import {
  area,
  connectedComponents,
  difference,
  fillHoles,
  removeIslands,
  splitParts,
  stampSegment,
  union,
} from "../src/lib/mask-ops";
import { type Rle, decodeRle, encodeRle } from "../src/lib/rle";

/** Masks and numpy's answers (scripts/mask_ops_vectors.py). */
interface Vectors {
  pairs: { a: Rle; b: Rle; union: Rle; difference: Rle }[];
  singles: {
    mask: Rle;
    filled: Rle;
    parts: Rle[];
    islands: Record<string, { mask: Rle; removed: number; removed_pixels: number }>;
  }[];
  strokes: { size: [number, number]; moves: [number, number, number, number, number, number][]; mask: Rle }[];
}

const vectors = JSON.parse(readFileSync(new URL("./mask-ops-vectors.json", import.meta.url), "utf8")) as Vectors;
const sizeOf = (rle: Rle) => ({ height: rle.size[0], width: rle.size[1] });
const counts = (mask: Uint8Array, rle: Rle) => encodeRle(mask, rle.size[0], rle.size[1]).counts;

describe("mask algebra against numpy", () => {
  it("unites and subtracts masks as numpy does", () => {
    for (const pair of vectors.pairs) {
      const [a, b] = [decodeRle(pair.a), decodeRle(pair.b)];
      expect(counts(union(a, b), pair.a)).toBe(pair.union.counts);
      expect(counts(difference(a, b), pair.a)).toBe(pair.difference.counts);
    }
  });

  it("fills holes as scipy's binary_fill_holes does", () => {
    for (const single of vectors.singles) {
      expect(counts(fillHoles(decodeRle(single.mask), sizeOf(single.mask)), single.mask)).toBe(single.filled.counts);
    }
  });

  it("splits a mask into its 8-connected parts, largest first, as scipy's label does", () => {
    for (const single of vectors.singles) {
      const parts = splitParts(decodeRle(single.mask), sizeOf(single.mask));
      expect(parts.map((part) => counts(part, single.mask))).toEqual(single.parts.map((p) => p.counts));
    }
  });

  it("removes islands smaller than N pixels and says how many and how large", () => {
    for (const single of vectors.singles) {
      for (const [n, expected] of Object.entries(single.islands)) {
        const result = removeIslands(decodeRle(single.mask), sizeOf(single.mask), Number(n));
        expect(counts(result.mask, single.mask)).toBe(expected.mask.counts);
        expect([result.removed, result.removedPixels]).toEqual([expected.removed, expected.removed_pixels]);
      }
    }
  });

  it("stamps brush and eraser moves on the same pixels as numpy", () => {
    for (const stroke of vectors.strokes) {
      const size = { height: stroke.size[0], width: stroke.size[1] };
      const mask = new Uint8Array(size.height * size.width);
      for (const [x0, y0, x1, y1, r, value] of stroke.moves) stampSegment(mask, size, x0, y0, x1, y1, r, value as 0 | 1);
      expect(counts(mask, stroke.mask)).toBe(stroke.mask.counts);
    }
  });
});

describe("mask algebra", () => {
  const size = { height: 5, width: 6 };
  const fromRows = (rows: string[]) => Uint8Array.from(rows.join("").split(""), (c) => (c === "#" ? 1 : 0));

  it("fills a hole, even one that meets the outside only at a corner, and leaves an open bay", () => {
    const ring = fromRows(["......", ".###..", ".#.#..", ".###..", "......"]);
    expect(area(fillHoles(ring, size))).toBe(area(ring) + 1);
    const corner = fromRows(["......", ".###..", ".#.#..", ".##...", "......"]);
    expect(area(fillHoles(corner, size))).toBe(area(corner) + 1);
    const bay = fromRows(["......", ".###..", ".#.#..", ".#.#..", "......"]);
    expect(fillHoles(bay, size)).toEqual(bay);
  });

  it("joins diagonal neighbours into one part and numbers parts in raster order", () => {
    const mask = fromRows(["#....#", ".#...#", "......", "...#..", "....#."]);
    const { count, areas, boxes } = connectedComponents(mask, size);
    expect(count).toBe(3);
    expect(areas).toEqual([2, 2, 2]);
    expect(boxes[2]).toEqual({ x: 3, y: 3, width: 2, height: 2 });
  });

  it("stamps only within the stroke's box and ignores a stroke off the image", () => {
    const mask = new Uint8Array(30);
    expect(stampSegment(mask, size, -10, -10, -9, -9, 1, 1)).toBeNull();
    expect(area(mask)).toBe(0);
    const box = stampSegment(mask, size, 2.5, 2.5, 2.5, 2.5, 1, 1);
    expect(box).toEqual({ x: 1, y: 1, width: 3, height: 3 });
    expect(area(mask)).toBe(5); // a plus: the centre and its 4 neighbours at distance 1
    stampSegment(mask, size, 2.5, 2.5, 2.5, 2.5, 0.5, 0);
    expect(area(mask)).toBe(4);
  });

  it("leaves a mask whole when no island is small enough", () => {
    const mask = fromRows(["##....", "##....", "......", "....##", "....##"]);
    const result = removeIslands(mask, size, 4);
    expect(result.removed).toBe(0);
    expect(result.mask).toEqual(mask);
    expect(removeIslands(mask, size, 5).removed).toBe(2);
  });
});

describe("decoding an RLE within a box", () => {
  it("gives the box's part of the fully decoded mask", async () => {
    const { decodeRleInBox } = await import("../src/lib/mask-ops");
    const { decompressCounts } = await import("../src/lib/rle");
    for (const single of vectors.singles) {
      const full = decodeRle(single.mask);
      const [height, width] = single.mask.size;
      for (const box of [
        { x: 0, y: 0, width, height },
        { x: Math.floor(width / 3), y: Math.floor(height / 4), width: Math.ceil(width / 2), height: Math.ceil(height / 2) },
      ]) {
        const crop = decodeRleInBox(decompressCounts(single.mask.counts), height, box);
        const want = new Uint8Array(box.width * box.height);
        for (let y = 0; y < box.height; y++) {
          for (let x = 0; x < box.width; x++) want[y * box.width + x] = full[(box.y + y) * width + box.x + x] as number;
        }
        expect(crop).toEqual(want);
      }
    }
  });
});
