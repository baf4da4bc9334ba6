/**
 * From the decoder's low-res logits to a full-size mask, exactly as the PyTorch
 * reference (`inference.predict.upscale_masks`) does: bilinear (align_corners=false)
 * to imageSize × imageSize, crop to the resized image, bilinear to the original size,
 * then threshold.
 */

import type { Size } from "./transform";
import { ResizeTransform } from "./transform";

/** Scratch memory for ``reuse`` calls: the live mask is resized on every click, and fresh
 * multi-megabyte arrays each time made the page pause for garbage collection. */
const scratch = { tmp: new Float32Array(0), out: new Float32Array(0) };

function scratchArray(name: "tmp" | "out", length: number): Float32Array {
  if (scratch[name].length < length) scratch[name] = new Float32Array(length);
  return scratch[name].subarray(0, length);
}

/** Bilinear resize of one (sh, sw) channel to (dh, dw), PyTorch's align_corners=false
 * rule; only the top-left (outH, outW) corner of the result is computed and returned
 * (each output pixel depends only on its own position, so a crop costs no more than
 * its own size). With ``reuse`` the result lives in scratch memory, valid until the next
 * ``reuse`` call. */
export function resizeBilinear(
  src: Float32Array,
  sh: number,
  sw: number,
  dh: number,
  dw: number,
  outH = dh,
  outW = dw,
  reuse = false,
): Float32Array {
  const xs = axisWeights(sw, dw);
  const ys = axisWeights(sh, dh);
  // Rows first (sh x outW), then columns: the same arithmetic as a 2-D bilinear.
  const tmp = reuse ? scratchArray("tmp", sh * outW) : new Float32Array(sh * outW);
  for (let y = 0; y < sh; y++) {
    const row = y * sw;
    for (let x = 0; x < outW; x++) {
      const i0 = xs.i0[x] as number;
      const i1 = xs.i1[x] as number;
      const l = xs.lambda[x] as number;
      tmp[y * outW + x] = (1 - l) * (src[row + i0] as number) + l * (src[row + i1] as number);
    }
  }
  const out = reuse ? scratchArray("out", outH * outW) : new Float32Array(outH * outW);
  for (let y = 0; y < outH; y++) {
    const r0 = (ys.i0[y] as number) * outW;
    const r1 = (ys.i1[y] as number) * outW;
    const l = ys.lambda[y] as number;
    for (let x = 0; x < outW; x++) {
      out[y * outW + x] = (1 - l) * (tmp[r0 + x] as number) + l * (tmp[r1 + x] as number);
    }
  }
  return out;
}

function axisWeights(inSize: number, outSize: number) {
  const i0 = new Int32Array(outSize);
  const i1 = new Int32Array(outSize);
  const lambda = new Float32Array(outSize);
  const scale = inSize / outSize;
  for (let d = 0; d < outSize; d++) {
    const s = Math.max((d + 0.5) * scale - 0.5, 0);
    const lo = Math.min(Math.floor(s), inSize - 1);
    i0[d] = lo;
    i1[d] = Math.min(lo + 1, inSize - 1);
    lambda[d] = s - lo;
  }
  return { i0, i1, lambda };
}

/** Low-res logits -> logits in the model frame, cropped to the resized image (in scratch
 * memory with ``reuse``, see ``resizeBilinear``). */
export function modelFrameLogits(
  lowRes: Float32Array,
  lowResSize: number,
  original: Size,
  imageSize: number,
  reuse = false,
): { logits: Float32Array; size: Size } {
  const { resized } = new ResizeTransform(original, imageSize);
  const logits = resizeBilinear(
    lowRes, lowResSize, lowResSize, imageSize, imageSize, resized.height, resized.width, reuse,
  );
  return { logits, size: resized };
}

/** Low-res logits (lowRes × lowRes) -> logits at the original size (H × W). */
export function upscaleLogits(
  lowRes: Float32Array,
  lowResSize: number,
  original: Size,
  imageSize: number,
): Float32Array {
  const { logits, size } = modelFrameLogits(lowRes, lowResSize, original, imageSize);
  return resizeBilinear(logits, size.height, size.width, original.height, original.width);
}

/** Logits -> 0/1 mask (row-major, H × W). */
export function threshold(logits: Float32Array, at: number): Uint8Array {
  const out = new Uint8Array(logits.length);
  for (let i = 0; i < logits.length; i++) out[i] = (logits[i] as number) > at ? 1 : 0;
  return out;
}

/** The smallest rectangle holding every set pixel of a row-major (height, width) mask,
 * in its pixels; null for an empty mask. */
export function maskBounds(
  mask: Uint8Array,
  size: Size,
): { x: number; y: number; width: number; height: number } | null {
  let x0 = size.width;
  let y0 = size.height;
  let x1 = -1;
  let y1 = -1;
  for (let y = 0; y < size.height; y++) {
    const row = y * size.width;
    let first = -1;
    let last = -1;
    for (let x = 0; x < size.width; x++) {
      if (mask[row + x]) {
        if (first < 0) first = x;
        last = x;
      }
    }
    if (first < 0) continue;
    if (y0 > y) y0 = y;
    y1 = y;
    if (x0 > first) x0 = first;
    if (x1 < last) x1 = last;
  }
  return x1 < 0 ? null : { x: x0, y: y0, width: x1 - x0 + 1, height: y1 - y0 + 1 };
}
