/**
 * Douglas–Peucker simplification of closed rings, with the tolerance in image pixels:
 * every vertex dropped lies within ``tolerance`` of the simplified outline's segment that
 * replaces it. Rings are flat [x0, y0, x1, y1, ...], first vertex not repeated; kept
 * vertices are a subset of the input's, in order, so whole-pixel vertices stay whole.
 */

/** The simplified ring; at least 3 vertices whenever the input has 3 (a ring smaller than
 * the tolerance keeps its three most distant vertices rather than vanishing). */
export function simplifyRing(ring: readonly number[], tolerance: number): number[] {
  const n = ring.length / 2;
  if (n <= 3 || tolerance <= 0) return ring.slice();
  const x = (i: number): number => ring[(i % n) * 2] as number;
  const y = (i: number): number => ring[(i % n) * 2 + 1] as number;
  // A closed ring has no end points: split it at vertex 0 and the vertex farthest from it,
  // and simplify both halves as open paths (indices past n wrap around).
  let far = 0;
  let farDistance = -1;
  for (let i = 1; i < n; i++) {
    const d = (x(i) - x(0)) ** 2 + (y(i) - y(0)) ** 2;
    if (d > farDistance) [far, farDistance] = [i, d];
  }
  const keep = new Uint8Array(n);
  keep[0] = 1;
  keep[far] = 1;
  const limit = tolerance * tolerance;
  const stack: [number, number][] = [
    [0, far],
    [far, n],
  ];
  while (stack.length > 0) {
    const [a, b] = stack.pop() as [number, number];
    let worst = -1;
    let worstDistance = limit;
    for (let i = a + 1; i < b; i++) {
      const d = segmentDistanceSquared(x(i), y(i), x(a), y(a), x(b), y(b));
      if (d > worstDistance) [worst, worstDistance] = [i, d];
    }
    if (worst < 0) continue;
    keep[worst % n] = 1;
    stack.push([a, worst], [worst, b]);
  }
  let kept = keep.reduce((sum, k) => sum + k, 0);
  if (kept < 3) {
    // The vertex farthest from the chord 0 - far makes a triangle.
    let third = -1;
    let thirdDistance = -1;
    for (let i = 1; i < n; i++) {
      if (keep[i]) continue;
      const d = segmentDistanceSquared(x(i), y(i), x(0), y(0), x(far), y(far));
      if (d > thirdDistance) [third, thirdDistance] = [i, d];
    }
    keep[third] = 1;
    kept++;
  }
  const out: number[] = [];
  for (let i = 0; i < n; i++) if (keep[i]) out.push(x(i), y(i));
  return out;
}

/** Squared distance from (px, py) to the segment (ax, ay)-(bx, by). */
export function segmentDistanceSquared(
  px: number,
  py: number,
  ax: number,
  ay: number,
  bx: number,
  by: number,
): number {
  const dx = bx - ax;
  const dy = by - ay;
  const length = dx * dx + dy * dy;
  const t = length === 0 ? 0 : Math.max(0, Math.min(1, ((px - ax) * dx + (py - ay) * dy) / length));
  const cx = ax + t * dx - px;
  const cy = ay + t * dy - py;
  return cx * cx + cy * cy;
}
