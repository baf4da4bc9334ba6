/**
 * Original-image pixels <-> SAM's model frame, the same rule as
 * `inference/transforms.py` (SAM's ResizeLongestSide):
 *
 *   resized side = floor(side * imageSize / longest + 0.5)
 *   x_model = x_orig * resizedWidth / width,  y_model = y_orig * resizedHeight / height
 *
 * Points are [x, y] in pixels; the image size comes from the decoder manifest.
 */

export interface Size {
  readonly height: number;
  readonly width: number;
}

export type Point = readonly [number, number];

export function resizedShape(size: Size, longSide: number): Size {
  const scale = longSide / Math.max(size.height, size.width);
  return {
    height: Math.floor(size.height * scale + 0.5),
    width: Math.floor(size.width * scale + 0.5),
  };
}

export class ResizeTransform {
  readonly resized: Size;

  constructor(
    readonly original: Size,
    readonly longSide: number,
  ) {
    this.resized = resizedShape(original, longSide);
  }

  toModel([x, y]: Point): [number, number] {
    return [
      (x * this.resized.width) / this.original.width,
      (y * this.resized.height) / this.original.height,
    ];
  }

  toOriginal([x, y]: Point): [number, number] {
    return [
      (x * this.original.width) / this.resized.width,
      (y * this.original.height) / this.resized.height,
    ];
  }
}
