/**
 * A mask's outline along pixel edges, for drawing it as a stroke over the fill: a path
 * stroked under the view's transform stays as wide on screen at every zoom, where an
 * outline painted into the mask's pixels would grow with them.
 */

/**
 * The edges between set and unset pixels of a (height, width) mask read from ``cells``
 * (nonzero = set; row y starts at ``y * stride``), as line segments
 * [x0, y0, x1, y1, ...] in the mask's pixels, where pixel (x, y) covers [x, x + 1] ×
 * [y, y + 1]. Pixels outside the mask count as unset. Neighbouring unit edges on one
 * line are merged, so a rectangle is four segments.
 */
export function maskOutline(
  cells: ArrayLike<number>,
  width: number,
  height: number,
  stride: number = width,
): number[] {
  // Row by row, only where pixels change: each row's transitions (the x where a pixel
  // differs from its left neighbour, the outside counting as unset) bound its runs of set
  // pixels. The horizontal edges between two rows are where exactly one of them is set,
  // the sorted merge of both rows' transitions with the common ones cancelled; the
  // vertical edges are the transitions themselves, merged down the rows while the same x
  // stays a transition. The work is one comparison per pixel plus some per transition.
  const segments: number[] = [];
  // The row where the run of vertical edges along line x began, or -1.
  const openSince = new Int32Array(width + 1).fill(-1);
  let above: number[] = [];
  for (let y = 0; y <= height; y++) {
    const here = y < height ? rowTransitions(cells, y * stride, width) : [];
    // Horizontal edges along line y: the symmetric difference of the two rows' runs.
    let i = 0;
    let j = 0;
    let start = -1;
    while (i < above.length || j < here.length) {
      const a = i < above.length ? (above[i] as number) : Infinity;
      const b = j < here.length ? (here[j] as number) : Infinity;
      let x: number;
      if (a === b) {
        i++;
        j++;
        continue;
      } else if (a < b) {
        x = a;
        i++;
      } else {
        x = b;
        j++;
      }
      if (start < 0) start = x;
      else {
        segments.push(start, y, x, y);
        start = -1;
      }
    }
    // Vertical edges: close the runs along lines that stop being transitions, open new ones.
    i = 0;
    j = 0;
    while (i < above.length || j < here.length) {
      const a = i < above.length ? (above[i] as number) : Infinity;
      const b = j < here.length ? (here[j] as number) : Infinity;
      if (a === b) {
        i++;
        j++;
      } else if (a < b) {
        segments.push(a, openSince[a] as number, a, y);
        openSince[a] = -1;
        i++;
      } else {
        openSince[b] = y;
        j++;
      }
    }
    above = here;
  }
  return segments;
}

/** The x (0..width) where the row at ``from`` changes between unset and set, reading
 * left to right from an unset outside; an even number of them. */
function rowTransitions(cells: ArrayLike<number>, from: number, width: number): number[] {
  const out: number[] = [];
  let set = false;
  for (let x = 0; x < width; x++) {
    if ((cells[from + x] !== 0) !== set) {
      set = !set;
      out.push(x);
    }
  }
  if (set) out.push(width);
  return out;
}
