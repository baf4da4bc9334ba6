/**
 * What the pointer is on, among rings of vertices (flat [x0, y0, ...], any one frame:
 * the caller gives the pointer and the radius in that same frame): the nearest vertex,
 * or the nearest point on an edge. A linear scan: a 2,000-vertex polygon costs some
 * microseconds per pointer move.
 */

import { segmentDistanceSquared } from "./polygon-simplify";

export interface VertexHit {
  readonly ring: number;
  readonly index: number;
}

export interface EdgeHit {
  /** The edge from vertex ``index`` to the next one of ring ``ring``. */
  readonly ring: number;
  readonly index: number;
  /** The point of the edge nearest the pointer. */
  readonly x: number;
  readonly y: number;
}

/** The vertex nearest (x, y) within ``radius``; null when none is that close. */
export function vertexAt(rings: readonly (readonly number[])[], x: number, y: number, radius: number): VertexHit | null {
  let best: VertexHit | null = null;
  let bestDistance = radius * radius;
  rings.forEach((ring, r) => {
    for (let i = 0; i < ring.length; i += 2) {
      const d = ((ring[i] as number) - x) ** 2 + ((ring[i + 1] as number) - y) ** 2;
      if (d <= bestDistance) {
        best = { ring: r, index: i / 2 };
        bestDistance = d;
      }
    }
  });
  return best;
}

/** The edge nearest (x, y) within ``radius``, and the point on it; null when none is. */
export function edgeAt(rings: readonly (readonly number[])[], x: number, y: number, radius: number): EdgeHit | null {
  let best: EdgeHit | null = null;
  let bestDistance = radius * radius;
  rings.forEach((ring, r) => {
    const n = ring.length / 2;
    for (let i = 0; i < n; i++) {
      const j = (i + 1) % n;
      const ax = ring[i * 2] as number;
      const ay = ring[i * 2 + 1] as number;
      const bx = ring[j * 2] as number;
      const by = ring[j * 2 + 1] as number;
      const d = segmentDistanceSquared(x, y, ax, ay, bx, by);
      if (d <= bestDistance) {
        const dx = bx - ax;
        const dy = by - ay;
        const length = dx * dx + dy * dy;
        const t = length === 0 ? 0 : Math.max(0, Math.min(1, ((x - ax) * dx + (y - ay) * dy) / length));
        best = { ring: r, index: i, x: ax + t * dx, y: ay + t * dy };
        bestDistance = d;
      }
    }
  });
  return best;
}
