import { readFileSync } from "node:fs";

import { describe, expect, it } from "vitest";

import { rasterisePolygons } from "../src/lib/polygon-raster";
import { encodeRle } from "../src/lib/rle";

/** Polygons and the server's masks of them (scripts/polygon_vectors.py). */
interface PolygonVector {
  readonly name: string;
  readonly size: [number, number];
  readonly rings: number[][];
  readonly counts: string;
  readonly area: number;
}

const vectors = JSON.parse(
  readFileSync(new URL("./polygon-vectors.json", import.meta.url), "utf8"),
) as PolygonVector[];

describe("polygon rasteriser", () => {
  it.each(vectors)("fills $name as the server does", (v) => {
    const [h, w] = v.size;
    const mask = rasterisePolygons(v.rings, h, w);
    expect(mask.reduce((sum, value) => sum + value, 0)).toBe(v.area);
    expect(encodeRle(mask, h, w).counts).toBe(v.counts);
  });

  it("cuts a hole with a ring inside another and fills an island inside the hole", () => {
    const outer = [0, 0, 9, 0, 9, 9, 0, 9];
    const hole = [3, 3, 6, 3, 6, 6, 3, 6];
    const island = [4, 4, 5, 4, 5, 5, 4, 5];
    const holed = rasterisePolygons([outer, hole], 10, 10);
    expect(holed[4 * 10 + 4]).toBe(0);
    expect(holed[1 * 10 + 1]).toBe(1);
    expect(rasterisePolygons([outer, hole, island], 10, 10)[4 * 10 + 4]).toBe(1);
  });
});
