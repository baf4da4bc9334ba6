/**
 * Decoding in a crop's frame (crop detail, #16): a large image's crop has an embedding of
 * its own (the server's ``inference/crops.py``), on which clicks are decoded at full
 * detail; the mask is then put back in the image's frame.
 *
 * Frames:
 * - *image*: pixels of the whole image, x to the right, y down (prompts are kept in it);
 * - *crop*: pixels of the crop box, origin at its top-left corner (x0, y0):
 *   ``x_crop = x_image - x0``; the crop is an image of ``box`` height × width pixels;
 * - the crop's *model* frame: the crop resized to ``imageSize`` (1024) on its long side,
 *   by the same ResizeTransform as a whole image.
 *
 * Without a crop (``null``) every function here gives exactly what the whole image's
 * path gives.
 */

import { threshold, upscaleLogits } from "../lib/mask";
import { type PointLabels, type Prompt, packPrompt } from "../lib/prompts";
import { ResizeTransform, type Size } from "../lib/transform";

/** A crop whose embedding the decoder worker holds under ``key``. */
export interface CropFrame {
  /** The crop's embedding URL: its key in the decoder worker. */
  readonly key: string;
  /** x0, y0, x1, y1 in image pixels: columns [x0, x1), rows [y0, y1). */
  readonly box: readonly [number, number, number, number];
}

/** What a decode needs of its frame: the model-frame points and labels, the size the
 * decoder upsamples to, and the embedding (absent: the image's, the worker's current). */
export interface FramedPrompt {
  readonly coords: Float32Array;
  readonly labels: Float32Array;
  readonly origSize: readonly [number, number];
  readonly key?: string;
}

export function cropSize(crop: CropFrame): Size {
  const [x0, y0, x1, y1] = crop.box;
  return { height: y1 - y0, width: x1 - x0 };
}

/** Whether image pixel point (x, y) lies in ``crop``'s box. */
export function cropHolds(crop: CropFrame, [x, y]: readonly [number, number]): boolean {
  const [x0, y0, x1, y1] = crop.box;
  return x >= x0 && y >= y0 && x < x1 && y < y1;
}

/**
 * The frame a new prompt is decoded in: ``crop`` (the crop in use, or null) when its box
 * holds every point of ``prompt``, its box, and ``extent`` when given (image pixels,
 * [x0, y0, x1, y1]: the part of the image the result should cover, such as a proposal's
 * box); the whole image's (null) otherwise. A point outside the crop means nothing in
 * the crop's frame, and a mask decoded there is cut at the crop's edges, so such a
 * prompt falls back to the whole image's embedding.
 */
export function frameFor(
  crop: CropFrame | null,
  prompt: Prompt,
  extent: readonly [number, number, number, number] | null = null,
): CropFrame | null {
  if (!crop) return null;
  const corners: (readonly [number, number])[] = [...prompt.points];
  for (const box of [prompt.box, extent]) {
    // A box's far corner is exclusive (columns [x0, x1)): its last pixel must be inside.
    if (box) corners.push([box[0], box[1]], [Math.max(box[0], box[2] - 1), Math.max(box[1], box[3] - 1)]);
  }
  return corners.every((point) => cropHolds(crop, point)) ? crop : null;
}

/** ``prompt`` (image pixels) in the crop's pixels. */
export function promptInCrop(prompt: Prompt, crop: CropFrame): Prompt {
  const [x0, y0] = crop.box;
  return {
    points: prompt.points.map(([x, y]) => [x - x0, y - y0] as const),
    positive: prompt.positive,
    box: prompt.box ? [prompt.box[0] - x0, prompt.box[1] - y0, prompt.box[2] - x0, prompt.box[3] - y0] : null,
  };
}

/** ``prompt`` packed for the decoder in ``crop``'s model frame, or in the image's
 * (``transform``, ``size``) when ``crop`` is null. */
export function framePrompt(
  prompt: Prompt,
  crop: CropFrame | null,
  transform: ResizeTransform,
  size: Size,
  labels: PointLabels,
): FramedPrompt {
  if (!crop) {
    const packed = packPrompt(prompt, transform, labels);
    return { coords: packed.coords, labels: packed.labels, origSize: [size.height, size.width] };
  }
  const inCrop = cropSize(crop);
  const packed = packPrompt(promptInCrop(prompt, crop), new ResizeTransform(inCrop, transform.longSide), labels);
  return { coords: packed.coords, labels: packed.labels, origSize: [inCrop.height, inCrop.width], key: crop.key };
}

/** A mask in the crop's pixels (row-major 0/1, ``cropSize``) placed in a mask of the
 * whole image (``size``), 0 outside the box. */
export function pasteMask(mask: Uint8Array, crop: CropFrame, size: Size): Uint8Array {
  const [x0, y0] = crop.box;
  const inCrop = cropSize(crop);
  const out = new Uint8Array(size.height * size.width);
  const width = Math.min(inCrop.width, size.width - x0);
  for (let y = 0; y < inCrop.height && y0 + y < size.height; y++) {
    out.set(mask.subarray(y * inCrop.width, y * inCrop.width + width), (y0 + y) * size.width + x0);
  }
  return out;
}

/** Low-res logits (lowResSize square) decoded in ``crop``'s frame, or the image's when
 * null -> the 0/1 mask of the whole image (row-major, ``size``). */
export function frameMask(
  lowRes: Float32Array,
  lowResSize: number,
  imageSize: number,
  at: number,
  crop: CropFrame | null,
  size: Size,
): Uint8Array {
  if (!crop) return threshold(upscaleLogits(lowRes, lowResSize, size, imageSize), at);
  const inCrop = cropSize(crop);
  return pasteMask(threshold(upscaleLogits(lowRes, lowResSize, inCrop, imageSize), at), crop, size);
}
