import { describe, expect, it } from "vitest";

import { PolygonEdit } from "../src/annotator/polygon-edit";
import { edgeAt, vertexAt } from "../src/lib/polygon-hit";
import { rasterisePolygons } from "../src/lib/polygon-raster";
import { simplifyRing } from "../src/lib/polygon-simplify";
import { allRings, tracePolygons } from "../src/lib/polygon-trace";

function fromRows(rows: string[]): { mask: Uint8Array; h: number; w: number } {
  const h = rows.length;
  const w = (rows[0] as string).length;
  const mask = new Uint8Array(h * w);
  rows.forEach((row, y) => [...row].forEach((c, x) => (mask[y * w + x] = c === "#" ? 1 : 0)));
  return { mask, h, w };
}

/** A seeded (h × w) noise mask: ``density`` of its pixels set. */
function noise(seed: number, h: number, w: number, density: number): Uint8Array {
  let s = seed;
  const next = (): number => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
  return new Uint8Array(h * w).map(() => (next() < density ? 1 : 0));
}

function disc(h: number, w: number, cx: number, cy: number, r: number, holeR = 0): Uint8Array {
  const mask = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const d = Math.hypot(x - cx, y - cy);
      mask[y * w + x] = d < r && d >= holeR ? 1 : 0;
    }
  }
  return mask;
}

describe("tracing a mask into pixel-centre rings", () => {
  it("gives back the mask when filled as the server fills polygons", () => {
    for (let seed = 1; seed <= 300; seed++) {
      const h = 3 + (seed % 13);
      const w = 3 + ((seed * 7) % 11);
      const mask = noise(seed, h, w, 0.2 + (seed % 7) / 10);
      const back = rasterisePolygons(allRings(tracePolygons(mask, h, w)), h, w);
      expect([...back], `seed ${seed}`).toEqual([...mask]);
    }
  });

  it("keeps a hole as its own ring, and an island inside it", () => {
    const { mask, h, w } = fromRows([
      "#########",
      "#.......#",
      "#..###..#",
      "#..#.#..#",
      "#..###..#",
      "#.......#",
      "#########",
    ]);
    const traced = tracePolygons(mask, h, w);
    expect(traced.outers).toHaveLength(2);
    expect(traced.holes).toHaveLength(2);
    expect([...rasterisePolygons(allRings(traced), h, w)]).toEqual([...mask]);
  });

  it("gives a one-pixel object three points, and one-pixel-wide lines survive", () => {
    const { mask, h, w } = fromRows(["#....", "..#..", "..#..", "..###"]);
    const traced = tracePolygons(mask, h, w);
    // The pixel alone is its point three times; the L runs out along each arm and back.
    expect(traced.outers.map((r) => r.length / 2).sort()).toEqual([3, 5]);
    expect([...rasterisePolygons(allRings(traced), h, w)]).toEqual([...mask]);
  });
});

describe("simplifying a ring", () => {
  it("keeps every vertex within the tolerance of the simplified outline", () => {
    const traced = tracePolygons(disc(80, 80, 40, 40, 30), 80, 80);
    const ring = traced.outers[0] as number[];
    for (const tolerance of [0.5, 1, 2, 4]) {
      const simple = simplifyRing(ring, tolerance);
      expect(simple.length).toBeLessThan(ring.length);
      expect(simple.length).toBeGreaterThanOrEqual(6);
      for (let i = 0; i < ring.length; i += 2) {
        const hit = edgeAt([simple], ring[i] as number, ring[i + 1] as number, tolerance + 1e-9);
        expect(hit, `vertex ${i / 2} at tolerance ${tolerance}`).not.toBeNull();
      }
    }
    expect(simplifyRing(ring, 0)).toEqual(ring);
  });

  it("fewer vertices at a larger tolerance, never fewer than 3", () => {
    const ring = (tracePolygons(disc(80, 80, 40, 40, 30), 80, 80).outers[0] as number[]);
    const counts = [1, 2, 5, 20, 1000].map((t) => simplifyRing(ring, t).length / 2);
    for (let i = 1; i < counts.length; i++) expect(counts[i]).toBeLessThanOrEqual(counts[i - 1] as number);
    expect(counts[counts.length - 1]).toBe(3);
  });
});

describe("hit-testing", () => {
  const square = [0, 0, 10, 0, 10, 10, 0, 10];
  it("finds the nearest vertex within the radius", () => {
    expect(vertexAt([square], 9.5, 0.4, 1)).toEqual({ ring: 0, index: 1 });
    expect(vertexAt([square], 5, 5, 1)).toBeNull();
  });
  it("finds the edge and the point on it", () => {
    expect(edgeAt([square], 5, 10.4, 1)).toEqual({ ring: 0, index: 2, x: 5, y: 10 });
    expect(edgeAt([square], 5, 5, 1)).toBeNull();
  });
});

describe("editing a mask as polygons", () => {
  const h = 60;
  const w = 60;
  const holed = disc(h, w, 30, 30, 25, 8);

  it("opens with outer and hole rings that fill back to the mask at tolerance 0", () => {
    const edit = new PolygonEdit(holed, { height: h, width: w }, 0);
    expect(edit.rings.map((r) => r.hole)).toEqual([false, true]);
    expect([...edit.mask()]).toEqual([...holed]);
    expect(edit.dirty).toBe(false);
  });

  it("drags, inserts and deletes vertices, each one undoable step, and the mask follows", () => {
    const edit = new PolygonEdit(holed, { height: h, width: w }, 1);
    const outer = edit.rings[0]?.points as number[];
    const [x0, y0] = [outer[0] as number, outer[1] as number];
    const vertices = edit.vertexCount;
    const before = edit.mask();

    edit.beginDrag(0, 0);
    edit.dragTo(x0 - 3.4, y0 - 20.2);
    edit.dragTo(x0 - 5.2, y0 - 25.6);
    expect(edit.rings[0]?.points.slice(0, 2)).toEqual([Math.round(x0 - 5.2), 0]); // clamped into the image
    edit.endDrag();
    expect(edit.dirty).toBe(true);
    const dragged = edit.mask();
    expect(dragged).not.toEqual(before);
    expect(dragged[0 * w + Math.round(x0 - 5.2)]).toBe(1);

    const at = edit.insert(0, 3, 59, 59);
    expect(at).toBe(4);
    expect(edit.vertexCount).toBe(vertices + 1);
    expect(edit.mask()[59 * w + 59]).toBe(1);

    expect(edit.remove(1, 0)).toBe(true);
    expect(edit.vertexCount).toBe(vertices);

    expect(edit.undo()).toBe(true); // the deletion
    expect(edit.vertexCount).toBe(vertices + 1);
    expect(edit.undo()).toBe(true); // the insertion
    expect(edit.undo()).toBe(true); // the drag
    expect([...edit.mask()]).toEqual([...before]);
    expect(edit.dirty).toBe(false);
    expect(edit.undo()).toBe(false);
    expect(edit.redo()).toBe(true);
    expect([...edit.mask()]).toEqual([...dragged]);
  });

  it("keeps at least 3 vertices in a ring", () => {
    const { mask } = fromRows(["##", "##"]);
    const edit = new PolygonEdit(mask, { height: 2, width: 2 }, 0);
    expect(edit.rings[0]?.points).toHaveLength(8);
    expect(edit.remove(0, 0)).toBe(true);
    expect(edit.remove(0, 0)).toBe(false);
  });

  it("a change of tolerance simplifies the traced rings again, undoably", () => {
    const edit = new PolygonEdit(holed, { height: h, width: w }, 0);
    const full = edit.vertexCount;
    edit.setTolerance(3);
    expect(edit.vertexCount).toBeLessThan(full);
    expect(edit.tolerance).toBe(3);
    edit.undo();
    expect(edit.vertexCount).toBe(full);
    expect(edit.tolerance).toBe(0);
  });

  it("a drag that does not move records nothing", () => {
    const edit = new PolygonEdit(holed, { height: h, width: w });
    edit.beginDrag(0, 1);
    edit.endDrag();
    expect(edit.canUndo).toBe(false);
  });
});
