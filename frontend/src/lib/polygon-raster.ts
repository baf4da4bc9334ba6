/**
 * Polygons -> mask, pixel for pixel as the server rasterises them
 * (``webapp/annotations/rle.py`` ``polygon_to_mask``: each ring filled by Pillow's
 * ``ImageDraw.polygon(ring, fill=1, outline=1)``, rings combined by XOR, so a ring inside
 * another cuts a hole).
 *
 * This is a port of Pillow's C scan-line filler (``src/libImaging/Draw.c``:
 * ``ImagingDrawPolygon`` and ``polygon_generic``, Pillow 12-13): vertices are truncated
 * towards zero to whole pixels, the edges' slopes and crossings are computed in 32-bit
 * floats (``Math.fround`` at every step C rounds), horizontal edges are drawn as lines,
 * and the "connect discontiguous corners" rule is kept, so that the browser's mask of a
 * polygon equals the one the server stores. ``frontend/test/polygon-vectors.json``
 * (made by ``scripts/polygon_vectors.py`` with the server's function) holds both sides
 * to the same pixels.
 */

const f32 = Math.fround;

/** Pillow's edge: integer end points, the slope in x per row as a 32-bit float. */
interface Edge {
  x0: number;
  y0: number;
  xmin: number;
  ymin: number;
  xmax: number;
  ymax: number;
  dx: number;
}

function makeEdge(x0: number, y0: number, x1: number, y1: number): Edge {
  return {
    x0,
    y0,
    xmin: Math.min(x0, x1),
    xmax: Math.max(x0, x1),
    ymin: Math.min(y0, y1),
    ymax: Math.max(y0, y1),
    dx: y0 === y1 ? 0 : f32(f32(x1 - x0) / (y1 - y0)),
  };
}

/** C's ``ROUND_UP`` on a float: half away from zero (the positive branch adds 0.5 in float). */
function roundUp(v: number): number {
  return v >= 0 ? Math.floor(f32(v + 0.5)) : -Math.floor(Math.abs(v) + 0.5);
}

/** C's ``ROUND_DOWN`` on a float: half towards zero. */
function roundDown(v: number): number {
  return v >= 0 ? Math.ceil(f32(v - 0.5)) : -Math.ceil(Math.abs(v) - 0.5);
}

/** C's ``roundf``: half away from zero. */
function roundf(v: number): number {
  return v >= 0 ? Math.floor(v + 0.5) : -Math.floor(-v + 0.5);
}

/** Where ``edge`` crosses row ``y``, as Pillow computes it in floats. */
function crossing(edge: Edge, y: number): number {
  return f32(f32((y - edge.y0) * edge.dx) + edge.x0);
}

/**
 * Rasterise ``rings`` (each flat ``[x0, y0, x1, y1, ...]`` in image pixels, x right, y
 * down) into a (height, width) row-major mask, 1 inside; rings combine by XOR.
 * Rings of fewer than one point are skipped (the server refuses rings of fewer than 3).
 */
export function rasterisePolygons(
  rings: readonly ArrayLike<number>[],
  height: number,
  width: number,
): Uint8Array {
  const mask = new Uint8Array(height * width);
  const row = new Uint8Array(width);
  for (const ring of rings) {
    const drawn = fillRing(ring, height, width);
    for (const [y, spans] of drawn) {
      // One ring's spans may overlap (its horizontal edges are drawn apart from the
      // scan lines), so they are merged on a row before the XOR.
      row.fill(0);
      for (let i = 0; i < spans.length; i += 2) row.fill(1, spans[i] as number, (spans[i + 1] as number) + 1);
      const base = y * width;
      for (let x = 0; x < width; x++) mask[base + x] = (mask[base + x] as number) ^ (row[x] as number);
    }
  }
  return mask;
}

/** The rows one ring fills: row -> spans [x0, x1, ...] (inclusive, clipped to the image). */
function fillRing(ring: ArrayLike<number>, height: number, width: number): Map<number, number[]> {
  const drawn = new Map<number, number[]>();
  const hline = (x0: number, y: number, x1: number): void => {
    if (y < 0 || y >= height) return;
    if (x0 < 0) x0 = 0;
    else if (x0 >= width) return;
    if (x1 < 0) return;
    if (x1 >= width) x1 = width - 1;
    if (x0 > x1) return;
    const spans = drawn.get(y);
    if (spans) spans.push(x0, x1);
    else drawn.set(y, [x0, x1]);
  };
  const count = Math.floor(ring.length / 2);
  if (count <= 0) return drawn;
  // Python's float -> C int: truncation towards zero.
  const xy = new Int32Array(count * 2);
  for (let i = 0; i < count * 2; i++) xy[i] = Math.trunc(ring[i] as number);
  const at = (i: number): number => xy[i] as number;

  // ImagingDrawPolygon: the edge list, a horizontal edge that goes on in the same
  // direction as the horizontal edge before it extending that one.
  const edges: Edge[] = [];
  let i = 0;
  for (; i < count - 1; i++) {
    const x0 = at(i * 2);
    const y0 = at(i * 2 + 1);
    const x1 = at(i * 2 + 2);
    const y1 = at(i * 2 + 3);
    if (y0 === y1 && i !== 0 && y0 === at(i * 2 - 1)) {
      const last = edges[edges.length - 1] as Edge;
      if (x1 > x0 && x0 > at(i * 2 - 2)) {
        last.xmax = x1;
        continue;
      } else if (x1 < x0 && x0 < at(i * 2 - 2)) {
        last.xmin = x1;
        continue;
      }
    }
    edges.push(makeEdge(x0, y0, x1, y1));
  }
  if (at(i * 2) !== at(0) || at(i * 2 + 1) !== at(1)) edges.push(makeEdge(at(i * 2), at(i * 2 + 1), at(0), at(1)));

  // polygon_generic: horizontal edges drawn as lines, the others scanned row by row.
  let ymin = height - 1;
  let ymax = 0;
  const table: Edge[] = [];
  for (const e of edges) {
    if (ymin > e.ymin) ymin = e.ymin;
    if (ymax < e.ymax) ymax = e.ymax;
    if (e.ymin === e.ymax) {
      hline(e.xmin, e.ymin, e.xmax);
      continue;
    }
    table.push(e);
  }
  if (ymin < 0) ymin = 0;
  if (ymax > height) ymax = height;
  const xx = new Float32Array(table.length * 2);
  // Only the edges that span a row can cross it: they are kept in a list in the table's
  // order (Pillow's corner rule looks at earlier edges first), added when the scan
  // reaches their top row and dropped after their bottom one.
  const order = table.map((_, t) => t).sort((a, b) => (table[a] as Edge).ymin - (table[b] as Edge).ymin);
  let next = 0;
  let active: number[] = [];
  for (let y = ymin; y <= ymax; y++) {
    while (next < order.length && (table[order[next] as number] as Edge).ymin <= y) {
      const t = order[next++] as number;
      let at = active.length;
      while (at > 0 && (active[at - 1] as number) > t) at--;
      active.splice(at, 0, t);
    }
    if (active.some((t) => (table[t] as Edge).ymax < y)) active = active.filter((t) => (table[t] as Edge).ymax >= y);
    let j = 0;
    for (let a = 0; a < active.length; a++) {
      const current = table[active[a] as number] as Edge;
      xx[j++] = crossing(current, y);
      if (y === current.ymax && y < ymax) {
        // Pillow: "needed to draw consistent polygons".
        xx[j] = xx[j - 1] as number;
        j++;
      } else if ((y === current.ymin || y === current.ymax) && current.dx !== 0) {
        // Pillow: "connect discontiguous corners", with the earlier edges on this row.
        for (let b = 0; b < a; b++) {
          const other = table[active[b] as number] as Edge;
          if ((y !== other.ymin && y !== other.ymax) || other.dx === 0) continue;
          if (roundf(xx[j - 1] as number) !== roundf(crossing(other, y))) continue;
          const offset = y === current.ymax ? -1 : 1;
          const adjacent = crossing(current, y + offset);
          if (y + offset < other.ymin || y + offset > other.ymax) continue;
          const adjacentOther = crossing(other, y + offset);
          const x = xx[j - 1] as number;
          if (x > f32(adjacent + 1) && x > f32(adjacentOther + 1)) {
            xx[j - 1] = roundf(Math.max(adjacent, adjacentOther)) + 1;
          } else if (x < f32(adjacent - 1) && x < f32(adjacentOther - 1)) {
            xx[j - 1] = roundf(Math.min(adjacent, adjacentOther)) - 1;
          }
          break;
        }
      }
    }
    const crossings = xx.subarray(0, j).sort();
    for (let c = 1; c < j; c += 2) hline(roundUp(crossings[c - 1] as number), y, roundDown(crossings[c] as number));
  }
  return drawn;
}
