/**
 * Mask algebra for editing: union, difference, filling holes, removing small islands,
 * connected components (split) and stamping a brush stroke.
 *
 * Every mask is row-major 0/1 (``Uint8Array`` of height × width, index y * width + x) in
 * the image's pixels, the frame of ``lib/rle.ts``. Foreground pixels connect to their 8
 * neighbours and background pixels to their 4 (the usual pair, so that a one-pixel
 * diagonal line both joins its pixels and closes a hole). The Python twins, checked on
 * shared vectors, are ``scripts/mask_ops_vectors.py``'s (numpy and scipy.ndimage).
 */

import type { Size } from "./transform";

/** A rectangle of pixels: x, y its top-left pixel, width × height pixels. */
export interface PixelBox {
  readonly x: number;
  readonly y: number;
  readonly width: number;
  readonly height: number;
}

function checkSize(mask: Uint8Array, size: Size): void {
  if (mask.length !== size.width * size.height) throw new Error("mask size does not match");
}

/** Pixels set in ``a`` or ``b`` (a new mask). */
export function union(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new Error("masks differ in size");
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = (a[i] as number) | (b[i] as number) ? 1 : 0;
  return out;
}

/** Pixels set in ``a`` and not in ``b`` (a new mask). */
export function difference(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.length !== b.length) throw new Error("masks differ in size");
  const out = new Uint8Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] && !b[i] ? 1 : 0;
  return out;
}

/** How many pixels are set. */
export function area(mask: Uint8Array): number {
  let n = 0;
  for (let i = 0; i < mask.length; i++) n += mask[i] ? 1 : 0;
  return n;
}

/** Whether two masks set the same pixels. */
export function sameMask(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (!a[i] !== !b[i]) return false;
  return true;
}

/** ``mask`` with its holes filled: every background pixel that no 4-connected path of
 * background pixels joins to the image's border becomes set (a new mask). Equals
 * ``scipy.ndimage.binary_fill_holes``. */
export function fillHoles(mask: Uint8Array, size: Size): Uint8Array {
  checkSize(mask, size);
  const { width, height } = size;
  const outside = new Uint8Array(mask.length); // background reached from the border
  const stack = new Int32Array(mask.length);
  let top = 0;
  const seed = (i: number): void => {
    if (!mask[i] && !outside[i]) {
      outside[i] = 1;
      stack[top++] = i;
    }
  };
  for (let x = 0; x < width; x++) {
    seed(x);
    seed((height - 1) * width + x);
  }
  for (let y = 0; y < height; y++) {
    seed(y * width);
    seed(y * width + width - 1);
  }
  while (top > 0) {
    const i = stack[--top] as number;
    const x = i % width;
    if (x > 0) seed(i - 1);
    if (x < width - 1) seed(i + 1);
    if (i >= width) seed(i - width);
    if (i < mask.length - width) seed(i + width);
  }
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) out[i] = outside[i] ? 0 : 1;
  return out;
}

/** The 8-connected parts of a mask: ``labels`` (row-major, 0 background, parts 1..count
 * numbered in raster order of their first pixel) and each part's pixel count
 * (``areas[label - 1]``) and bounding box. */
export interface Components {
  readonly labels: Int32Array;
  readonly count: number;
  readonly areas: readonly number[];
  readonly boxes: readonly PixelBox[];
}

export function connectedComponents(mask: Uint8Array, size: Size): Components {
  checkSize(mask, size);
  const { width, height } = size;
  const labels = new Int32Array(mask.length);
  const stack = new Int32Array(mask.length);
  const areas: number[] = [];
  const boxes: PixelBox[] = [];
  let count = 0;
  for (let start = 0; start < mask.length; start++) {
    if (!mask[start] || labels[start]) continue;
    const label = ++count;
    let n = 0;
    let x0 = width;
    let y0 = height;
    let x1 = -1;
    let y1 = -1;
    let top = 0;
    labels[start] = label;
    stack[top++] = start;
    while (top > 0) {
      const i = stack[--top] as number;
      const x = i % width;
      const y = (i - x) / width;
      n++;
      if (x < x0) x0 = x;
      if (x > x1) x1 = x;
      if (y < y0) y0 = y;
      if (y > y1) y1 = y;
      for (let dy = -1; dy <= 1; dy++) {
        const ny = y + dy;
        if (ny < 0 || ny >= height) continue;
        for (let dx = -1; dx <= 1; dx++) {
          const nx = x + dx;
          if (nx < 0 || nx >= width) continue;
          const j = ny * width + nx;
          if (mask[j] && !labels[j]) {
            labels[j] = label;
            stack[top++] = j;
          }
        }
      }
    }
    areas.push(n);
    boxes.push({ x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 });
  }
  return { labels, count, areas, boxes };
}

/** The parts of a mask, each as a mask of its own, largest first (equal sizes in raster
 * order of their first pixel). */
export function splitParts(mask: Uint8Array, size: Size): Uint8Array[] {
  const { labels, count, areas } = connectedComponents(mask, size);
  const order = Array.from({ length: count }, (_, i) => i + 1).sort(
    (a, b) => (areas[b - 1] as number) - (areas[a - 1] as number) || a - b,
  );
  const rank = new Int32Array(count + 1);
  order.forEach((label, i) => (rank[label] = i));
  const parts = order.map(() => new Uint8Array(mask.length));
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i] as number;
    if (label) (parts[rank[label] as number] as Uint8Array)[i] = 1;
  }
  return parts;
}

/** What removing islands did: the mask kept, and how many parts and pixels went. */
export interface IslandsRemoved {
  readonly mask: Uint8Array;
  readonly removed: number;
  readonly removedPixels: number;
}

/** ``mask`` without its 8-connected parts of fewer than ``minPixels`` pixels (a new
 * mask; a copy when none is that small). */
export function removeIslands(mask: Uint8Array, size: Size, minPixels: number): IslandsRemoved {
  if (minPixels <= 1) return { mask: mask.slice(), removed: 0, removedPixels: 0 };
  const { labels, areas } = connectedComponents(mask, size);
  const small = new Uint8Array(areas.length + 1);
  let removed = 0;
  let removedPixels = 0;
  areas.forEach((n, i) => {
    if (n < minPixels) {
      small[i + 1] = 1;
      removed++;
      removedPixels += n;
    }
  });
  const out = new Uint8Array(mask.length);
  for (let i = 0; i < mask.length; i++) {
    const label = labels[i] as number;
    out[i] = label && !small[label] ? 1 : 0;
  }
  return { mask: out, removed, removedPixels };
}

/**
 * Sets (``value`` 1) or clears (0), in place, every pixel of ``mask`` whose centre
 * (x + 0.5, y + 0.5) lies within ``radius`` of the segment from (x0, y0) to (x1, y1):
 * one brush or eraser move, a disc when both ends are the same point. Coordinates are
 * image pixels (continuous, x then y). Returns the box of pixels it looked at (clipped
 * to the image), null when the stroke misses the image; the work is proportional to
 * that box, never to the image.
 */
export function stampSegment(
  mask: Uint8Array,
  size: Size,
  x0: number,
  y0: number,
  x1: number,
  y1: number,
  radius: number,
  value: 0 | 1,
): PixelBox | null {
  checkSize(mask, size);
  const { width, height } = size;
  const left = Math.max(0, Math.floor(Math.min(x0, x1) - radius - 0.5));
  const right = Math.min(width - 1, Math.ceil(Math.max(x0, x1) + radius - 0.5));
  const top = Math.max(0, Math.floor(Math.min(y0, y1) - radius - 0.5));
  const bottom = Math.min(height - 1, Math.ceil(Math.max(y0, y1) + radius - 0.5));
  if (left > right || top > bottom) return null;
  const dx = x1 - x0;
  const dy = y1 - y0;
  const length2 = dx * dx + dy * dy;
  const r2 = radius * radius;
  for (let y = top; y <= bottom; y++) {
    const py = y + 0.5;
    const row = y * width;
    for (let x = left; x <= right; x++) {
      const px = x + 0.5;
      let t = length2 > 0 ? ((px - x0) * dx + (py - y0) * dy) / length2 : 0;
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const ex = px - (x0 + t * dx);
      const ey = py - (y0 + t * dy);
      if (ex * ex + ey * ey <= r2) mask[row + x] = value;
    }
  }
  return { x: left, y: top, width: right - left + 1, height: bottom - top + 1 };
}

/** The part of a COCO RLE mask (column-major runs, see lib/rle.ts) inside ``box`` (its
 * image's pixels), decoded straight into a row-major box.height × box.width mask: the
 * work is the runs' count plus the box's pixels, never the whole image, so that an
 * image with hundreds of small saved masks opens without decoding each at full size. */
export function decodeRleInBox(runs: readonly number[], imageHeight: number, box: PixelBox): Uint8Array {
  const out = new Uint8Array(box.width * box.height);
  const x1 = box.x + box.width;
  const y1 = box.y + box.height;
  let index = 0;
  for (let r = 0; r < runs.length; r++) {
    const run = runs[r] as number;
    const start = index;
    index += run;
    if (r % 2 === 0 || run === 0) continue; // a run of zeros
    // The run covers flat column-major indices [start, index).
    let x = Math.floor(start / imageHeight);
    let y = start - x * imageHeight;
    let left = run;
    while (left > 0) {
      const inColumn = Math.min(left, imageHeight - y);
      if (x >= box.x && x < x1) {
        const from = Math.max(y, box.y);
        const to = Math.min(y + inColumn, y1);
        for (let yy = from; yy < to; yy++) out[(yy - box.y) * box.width + (x - box.x)] = 1;
      }
      left -= inColumn;
      x++;
      y = 0;
    }
  }
  return out;
}
