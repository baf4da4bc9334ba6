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
  const segments: number[] = [];
  // For each vertical line x (0..width), the row where the run of edges along it began.
  const openSince = new Int32Array(width + 1).fill(-1);
  for (let y = 0; y <= height; y++) {
    const row = y * stride;
    const above = row - stride;
    let runStart = -1; // the run of edges along the horizontal line y
    let left = false; // pixel (x - 1, y)
    for (let x = 0; x <= width; x++) {
      const inside = x < width;
      const here = inside && y < height && cells[row + x] !== 0;
      const up = inside && y > 0 && cells[above + x] !== 0;
      if (inside && here !== up) {
        if (runStart < 0) runStart = x;
      } else if (runStart >= 0) {
        segments.push(runStart, y, x, y);
        runStart = -1;
      }
      const since = openSince[x] as number;
      if (y < height && here !== left) {
        if (since < 0) openSince[x] = y;
      } else if (since >= 0) {
        segments.push(x, since, x, y);
        openSince[x] = -1;
      }
      left = here;
    }
  }
  return segments;
}
