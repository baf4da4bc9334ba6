/**
 * The mask under edit painted for the edit overlay (edit-overlay.ts): square tiles of
 * the image, made where the mask has set pixels or was changed, in the annotation's
 * colour (transparent elsewhere). An edit repaints only the box it changed, in the
 * tiles it crosses, so that the end of a brush stroke costs the stroke's size, not the
 * image's: a 24-megapixel mask took 50-100 ms to paint whole (#16), and one canvas over
 * the mask's box took as long to grow when a stroke left it. No outline is made: the
 * overlay draws none.
 */

import type { PixelBox } from "../lib/mask-ops";
import type { Size } from "../lib/transform";
import type { PaintedMask } from "./view";

/** One tile: ``canvas`` with its top-left at image pixel (x, y). */
export interface Tile {
  readonly canvas: OffscreenCanvas;
  readonly ctx: OffscreenCanvasRenderingContext2D;
  readonly x: number;
  readonly y: number;
}

/** What the overlay draws: tiles of the mask, in ``color``. */
export interface PaintedTiles {
  readonly color: string;
  tiles(): Iterable<Tile>;
}

/** A tile's side, image pixels. */
export const TILE = 512;

export class EditLayer implements PaintedTiles {
  private readonly made = new Map<number, Tile>();
  private readonly rgb: readonly [number, number, number];
  private readonly columns: number;

  /** ``mask`` (row-major, ``size``) painted over ``box``, which must hold all its set
   * pixels (the annotation's bounding box; null: the mask has none). */
  constructor(
    mask: Uint8Array,
    private readonly size: Size,
    readonly color: string,
    box: PixelBox | null,
  ) {
    this.rgb = [1, 3, 5].map((at) => Number.parseInt(color.slice(at, at + 2), 16)) as [number, number, number];
    this.columns = Math.ceil(size.width / TILE);
    if (box) this.update(mask, box);
  }

  tiles(): Iterable<Tile> {
    return this.made.values();
  }

  /** Paints ``mask``'s pixels in ``changed`` (image pixels, within the image) again: the
   * only pixels of the mask that changed since the last paint. */
  update(mask: Uint8Array, changed: PixelBox): void {
    if (changed.width <= 0 || changed.height <= 0) return;
    const right = changed.x + changed.width;
    const bottom = changed.y + changed.height;
    for (let ty = Math.floor(changed.y / TILE); ty * TILE < bottom; ty++) {
      for (let tx = Math.floor(changed.x / TILE); tx * TILE < right; tx++) {
        const tile = this.tile(tx, ty);
        const x = Math.max(changed.x, tile.x);
        const y = Math.max(changed.y, tile.y);
        const part = {
          x,
          y,
          width: Math.min(right, tile.x + tile.canvas.width) - x,
          height: Math.min(bottom, tile.y + tile.canvas.height) - y,
        };
        this.paint(mask, tile, part);
      }
    }
  }

  private tile(tx: number, ty: number): Tile {
    const key = ty * this.columns + tx;
    let tile = this.made.get(key);
    if (!tile) {
      const [x, y] = [tx * TILE, ty * TILE];
      const canvas = new OffscreenCanvas(Math.min(TILE, this.size.width - x), Math.min(TILE, this.size.height - y));
      const ctx = canvas.getContext("2d");
      if (!ctx) throw new Error("this browser cannot draw on a canvas");
      tile = { canvas, ctx, x, y };
      this.made.set(key, tile);
    }
    return tile;
  }

  /** Paints ``part`` of ``mask`` (image pixels, within ``tile``) onto ``tile``. */
  private paint(mask: Uint8Array, tile: Tile, part: PixelBox): void {
    const [r, g, b] = this.rgb;
    const pixels = tile.ctx.createImageData(part.width, part.height);
    const data = pixels.data;
    const rowLength = this.size.width;
    for (let y = 0; y < part.height; y++) {
      const from = (part.y + y) * rowLength + part.x;
      for (let x = 0; x < part.width; x++) {
        if (!mask[from + x]) continue;
        const i = 4 * (y * part.width + x);
        data[i] = r;
        data[i + 1] = g;
        data[i + 2] = b;
        data[i + 3] = 255;
      }
    }
    tile.ctx.putImageData(pixels, part.x - tile.x, part.y - tile.y);
  }
}

/** The saved layer of the annotation under edit, which the view does not draw (the
 * overlay shows it): a stand-in painted at no cost, where painting the new version of a
 * 24-megapixel mask after each save took 25-70 ms. */
export function unpaintedLayer(color: string): PaintedMask {
  return { canvas: new OffscreenCanvas(1, 1), x: 0, y: 0, outline: new Path2D(), color };
}
