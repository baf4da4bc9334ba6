/**
 * Mask -> polygons that keep holes: the boundaries between inside and outside pixels,
 * traced along pixel edges (vertices at pixel corners, x then y in image pixels).
 *
 * Every ring is closed and simple. Outer boundaries run clockwise on screen (positive
 * shoelace area with y pointing down) and holes counter-clockwise, so filling all rings
 * with the even-odd rule at pixel centres gives back exactly the mask. Pixels that touch
 * only at a corner belong to separate rings (4-connectivity).
 */

export type Ring = number[]; // [x0, y0, x1, y1, ...], first vertex not repeated

// Directions: 0 right, 1 down, 2 left, 3 up (y grows downwards).
const DX = [1, 0, -1, 0];
const DY = [0, 1, 0, -1];

/** mask: row-major (H × W), nonzero = inside. */
export function maskToPolygons(mask: Uint8Array, height: number, width: number): Ring[] {
  if (mask.length !== height * width) throw new Error("mask size does not match");
  const inside = (x: number, y: number) =>
    x >= 0 && y >= 0 && x < width && y < height && mask[y * width + x] !== 0;
  // Directed boundary edges with the inside on their right, keyed by start corner.
  // Corner (x, y) has index y * (width + 1) + x; each corner has at most two out-edges.
  const stride = width + 1;
  const out = new Map<number, number[]>(); // corner -> directions
  const add = (x: number, y: number, dir: number) => {
    const key = y * stride + x;
    const list = out.get(key);
    if (list) list.push(dir);
    else out.set(key, [dir]);
  };
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (!inside(x, y)) continue;
      if (!inside(x, y - 1)) add(x, y, 0); // top edge, going right
      if (!inside(x + 1, y)) add(x + 1, y, 1); // right edge, going down
      if (!inside(x, y + 1)) add(x + 1, y + 1, 2); // bottom edge, going left
      if (!inside(x - 1, y)) add(x, y + 1, 3); // left edge, going up
    }
  }
  const rings: Ring[] = [];
  for (const [startKey, dirs] of out) {
    while (dirs.length > 0) {
      const ring: Ring = [];
      let key = startKey;
      let dir = dirs.pop() as number;
      const startDir = dir;
      for (;;) {
        const x = key % stride;
        const y = (key - x) / stride;
        ring.push(x, y);
        const nx = x + (DX[dir] as number);
        const ny = y + (DY[dir] as number);
        key = ny * stride + nx;
        const next = out.get(key);
        if (!next || next.length === 0) break; // back at the start: the ring is closed
        // Where two rings touch at a corner, turn right: keeps diagonal pixels apart.
        const right = (dir + 1) % 4;
        const index = next.includes(right) ? next.indexOf(right) : 0;
        dir = next.splice(index, 1)[0] as number;
        if (key === startKey && dir === startDir) break;
      }
      rings.push(simplify(ring));
    }
  }
  return rings;
}

/** Drops the vertices where the boundary goes straight on. */
function simplify(ring: Ring): Ring {
  const n = ring.length / 2;
  const out: Ring = [];
  for (let i = 0; i < n; i++) {
    const px = ring[((i - 1 + n) % n) * 2] as number;
    const py = ring[((i - 1 + n) % n) * 2 + 1] as number;
    const x = ring[i * 2] as number;
    const y = ring[i * 2 + 1] as number;
    const nx = ring[((i + 1) % n) * 2] as number;
    const ny = ring[((i + 1) % n) * 2 + 1] as number;
    if ((x - px) * (ny - y) - (y - py) * (nx - x) !== 0) out.push(x, y);
  }
  return out;
}

/** Shoelace area: positive for outer rings, negative for holes. */
export function ringArea(ring: Ring): number {
  let twice = 0;
  const n = ring.length / 2;
  for (let i = 0; i < n; i++) {
    const j = (i + 1) % n;
    twice +=
      (ring[i * 2] as number) * (ring[j * 2 + 1] as number) -
      (ring[j * 2] as number) * (ring[i * 2 + 1] as number);
  }
  return twice / 2;
}
