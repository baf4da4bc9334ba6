import { describe, expect, it } from "vitest";

import { maskToPolygons, type Ring, ringArea } from "../src/lib/polygon";

/** Even-odd fill of the rings at pixel centres: the reference rasteriser. */
function fill(rings: Ring[], height: number, width: number): Uint8Array {
  const mask = new Uint8Array(height * width);
  for (let y = 0; y < height; y++) {
    const cy = y + 0.5;
    for (let x = 0; x < width; x++) {
      const cx = x + 0.5;
      let inside = false;
      for (const ring of rings) {
        const n = ring.length / 2;
        for (let i = 0, j = n - 1; i < n; j = i++) {
          const xi = ring[2 * i] as number;
          const yi = ring[2 * i + 1] as number;
          const xj = ring[2 * j] as number;
          const yj = ring[2 * j + 1] as number;
          if (yi > cy !== yj > cy && cx < ((xj - xi) * (cy - yi)) / (yj - yi) + xi) inside = !inside;
        }
      }
      mask[y * width + x] = inside ? 1 : 0;
    }
  }
  return mask;
}

function fromRows(rows: string[]): { mask: Uint8Array; h: number; w: number } {
  const h = rows.length;
  const w = (rows[0] as string).length;
  const mask = new Uint8Array(h * w);
  rows.forEach((row, y) => [...row].forEach((c, x) => (mask[y * w + x] = c === "#" ? 1 : 0)));
  return { mask, h, w };
}

describe("mask to polygons", () => {
  it("gives one clockwise rectangle for a filled block", () => {
    const { mask, h, w } = fromRows(["....", ".##.", ".##.", "...."]);
    const rings = maskToPolygons(mask, h, w);
    expect(rings).toEqual([[1, 1, 3, 1, 3, 3, 1, 3]]);
    expect(ringArea(rings[0] as Ring)).toBe(4);
  });

  it("keeps a hole as a ring of the other orientation", () => {
    const { mask, h, w } = fromRows(["#####", "#...#", "#.#.#", "#...#", "#####"]);
    const rings = maskToPolygons(mask, h, w);
    const areas = rings.map(ringArea).sort((a, b) => a - b);
    expect(areas).toEqual([-9, 1, 25]); // the hole, the island in it, the outside
    expect(fill(rings, h, w)).toEqual(mask);
  });

  it("separates pixels that touch only at a corner", () => {
    const { mask, h, w } = fromRows(["#.", ".#"]);
    const rings = maskToPolygons(mask, h, w);
    expect(rings).toHaveLength(2);
    expect(fill(rings, h, w)).toEqual(mask);
  });

  it("gives nothing for an empty mask", () => {
    expect(maskToPolygons(new Uint8Array(12), 3, 4)).toEqual([]);
  });

  it("rasterises back to exactly the mask, for random masks", () => {
    let seed = 12345;
    const random = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
    for (const [h, w, density] of [[7, 9, 0.5], [30, 20, 0.3], [25, 40, 0.7], [1, 13, 0.5]] as const) {
      const mask = new Uint8Array(h * w).map(() => (random() < density ? 1 : 0));
      const rings = maskToPolygons(mask, h, w);
      expect(fill(rings, h, w)).toEqual(mask);
      const area = rings.reduce((sum, ring) => sum + ringArea(ring), 0);
      expect(area).toBe(mask.reduce((a, b) => a + b, 0));
    }
  });

  it("refuses a mask of the wrong size", () => {
    expect(() => maskToPolygons(new Uint8Array(5), 2, 2)).toThrow();
  });
});
