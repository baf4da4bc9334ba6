/** Crop detail (#16): the live mask of a crop's decode, painted at the crop's size and
 * placed over the crop's box of the image. */

import type { CropFrame } from "./crop-frame";
import { cropSize } from "./crop-frame";
import { type LiveMask, paintLive } from "./view";

/** Low-res logits decoded in ``crop``'s model frame -> the live mask over the crop's box
 * (``dest`` and ``outline`` in image pixels). */
export function paintCropLive(
  lowRes: Float32Array,
  lowResSize: number,
  crop: CropFrame,
  modelSize: number,
  at: number,
  color: string,
): LiveMask {
  const size = cropSize(crop);
  const live = paintLive(lowRes, lowResSize, size, modelSize, at, color);
  const [x0, y0] = crop.box;
  const outline = new Path2D();
  outline.addPath(live.outline, new DOMMatrix([1, 0, 0, 1, x0, y0]));
  return { ...live, outline, dest: { x: x0, y: y0, width: size.width, height: size.height } };
}
