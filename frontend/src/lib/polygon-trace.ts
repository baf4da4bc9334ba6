/**
 * Mask -> editable polygons: outer rings and holes whose vertices are pixel centres, so
 * that filling them as the server does (``polygon-raster.ts``, Pillow's filler, which
 * fills every pixel a ring passes through) gives back the mask.
 *
 * A vertex (x, y) names pixel (x, y), whose centre is at (x + 0.5, y + 0.5) in the frame
 * where pixel (x, y) covers [x, x + 1] × [y, y + 1] (the view's). An outer ring runs
 * through the centres of an object's boundary pixels; a hole's ring runs through the
 * centres of the hole's own boundary pixels (background ones), so that the XOR of the
 * rings' fills removes exactly the hole. Islands inside a hole are outer rings again.
 *
 * The rings follow ``maskToPolygons`` (pixel edges, 4-connected objects), stepping from
 * each boundary edge to the pixel beside it; straight runs are then merged.
 */

import { maskBounds } from "./mask";
import { maskToPolygons, ringArea } from "./polygon";

/** A ring of pixel-centre vertices [x0, y0, x1, y1, ...], each a whole pixel index. */
export type CentreRing = number[];

export interface TracedPolygons {
  /** Outer boundaries of the objects. */
  readonly outers: CentreRing[];
  /** Boundaries of the holes (each inside some outer ring). */
  readonly holes: CentreRing[];
}

// Unit steps along pixel edges: 0 right, 1 down, 2 left, 3 up (y grows downwards).
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];
// The pixel on each side of a unit edge leaving corner (x, y) in direction d, as offsets
// from the corner: the inside (right of the edge) and the outside (left).
const RIGHT = [
  [0, 0],
  [-1, 0],
  [-1, -1],
  [0, -1],
];
const LEFT = [
  [0, -1],
  [0, 0],
  [-1, 0],
  [-1, -1],
];

/** mask: row-major (height × width), nonzero = inside. */
export function tracePolygons(mask: Uint8Array, height: number, width: number): TracedPolygons {
  const outers: CentreRing[] = [];
  const holes: CentreRing[] = [];
  // Only the mask's bounding box is traced: an object is often a small part of its image.
  const box = maskBounds(mask, { height, width });
  if (!box) return { outers, holes };
  const crop = new Uint8Array(box.width * box.height);
  for (let y = 0; y < box.height; y++) {
    const from = (box.y + y) * width + box.x;
    crop.set(mask.subarray(from, from + box.width), y * box.width);
  }
  for (const ring of maskToPolygons(crop, box.height, box.width)) {
    const hole = ringArea(ring) < 0;
    const centres = padToThree(mergeStraightRuns(centresBeside(ring, hole ? LEFT : RIGHT)));
    for (let i = 0; i < centres.length; i += 2) {
      centres[i] = (centres[i] as number) + box.x;
      centres[i + 1] = (centres[i + 1] as number) + box.y;
    }
    (hole ? holes : outers).push(centres);
  }
  return { outers, holes };
}

/** Every ring, outers first: the list the rasteriser and the server take. */
export function allRings(traced: TracedPolygons): CentreRing[] {
  return [...traced.outers, ...traced.holes];
}

/** The pixels beside each unit edge of a pixel-edge ring (corners, closed, straight runs
 * already merged), consecutive repeats dropped. */
function centresBeside(ring: number[], side: number[][]): CentreRing {
  const out: CentreRing = [];
  const n = ring.length / 2;
  const push = (x: number, y: number): void => {
    const k = out.length;
    if (k >= 2 && out[k - 2] === x && out[k - 1] === y) return;
    out.push(x, y);
  };
  for (let i = 0; i < n; i++) {
    let x = ring[i * 2] as number;
    let y = ring[i * 2 + 1] as number;
    const tx = ring[((i + 1) % n) * 2] as number;
    const ty = ring[((i + 1) % n) * 2 + 1] as number;
    const d = tx > x ? 0 : ty > y ? 1 : tx < x ? 2 : 3;
    const offset = side[d] as number[];
    while (x !== tx || y !== ty) {
      push(x + (offset[0] as number), y + (offset[1] as number));
      x += DX[d] as number;
      y += DY[d] as number;
    }
  }
  // The ring is closed: its last pixel may repeat its first.
  while (out.length > 2 && out[0] === out[out.length - 2] && out[1] === out[out.length - 1]) out.length -= 2;
  return out;
}

/** Drops the vertices where the path goes straight on (a turn back, a spike one pixel
 * wide, is kept). */
export function mergeStraightRuns(ring: CentreRing): CentreRing {
  const n = ring.length / 2;
  if (n < 3) return ring.slice();
  const out: CentreRing = [];
  for (let i = 0; i < n; i++) {
    const p = (i - 1 + n) % n;
    const q = (i + 1) % n;
    const ax = (ring[i * 2] as number) - (ring[p * 2] as number);
    const ay = (ring[i * 2 + 1] as number) - (ring[p * 2 + 1] as number);
    const bx = (ring[q * 2] as number) - (ring[i * 2] as number);
    const by = (ring[q * 2 + 1] as number) - (ring[i * 2 + 1] as number);
    if (ax * by - ay * bx === 0 && ax * bx + ay * by > 0) continue;
    out.push(ring[i * 2] as number, ring[i * 2 + 1] as number);
  }
  return out;
}

/** The server takes rings of at least 3 points: a ring of one or two pixels repeats its
 * last, which fills the same pixels. */
function padToThree(ring: CentreRing): CentreRing {
  const out = ring.slice();
  while (out.length < 6) out.push(out[out.length - 2] as number, out[out.length - 1] as number);
  return out;
}
