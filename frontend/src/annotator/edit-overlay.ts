/**
 * The mask under edit, drawn on a canvas of its own over the view's: a brush or eraser
 * move adds only its own segment to it (a round-capped line in screen pixels), so a
 * stroke costs the same on a 24-megapixel image as on a small one and nothing else is
 * redrawn while the pointer moves. The whole mask is drawn again only when the view
 * moves or zooms, or an edit is committed.
 */

import type { Point } from "../lib/transform";
import type { PaintedTiles } from "./edit-layer";
import type { View } from "./view";

/** How opaque the mask under edit is drawn (the live mask's opacity). */
const OVERLAY_OPACITY = "0.55";

export class EditOverlay {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private painted: PaintedTiles | null = null;

  constructor(
    container: HTMLElement,
    private readonly view: View,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "annotator-edit-overlay";
    Object.assign(this.canvas.style, {
      position: "absolute",
      left: "0",
      top: "0",
      pointerEvents: "none",
      opacity: OVERLAY_OPACITY,
    });
    container.append(this.canvas);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) throw new Error("this browser cannot draw on a canvas");
    this.ctx = ctx;
  }

  /** The mask to show (painted in tiles, image pixels), or none. */
  show(painted: PaintedTiles | null): void {
    this.painted = painted;
    this.redraw();
  }

  get showing(): boolean {
    return this.painted !== null;
  }

  /** Draws the whole mask again under the view's transform. */
  redraw(): void {
    const { canvas, ctx } = this;
    const source = this.view.canvas;
    if (canvas.width !== source.width || canvas.height !== source.height) {
      canvas.width = source.width;
      canvas.height = source.height;
      canvas.style.width = `${source.clientWidth}px`;
      canvas.style.height = `${source.clientHeight}px`;
    }
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, canvas.width, canvas.height);
    const painted = this.painted;
    if (!painted) return;
    const { scale, offsetX, offsetY } = this.view.transform;
    ctx.setTransform(scale, 0, 0, scale, offsetX, offsetY);
    ctx.imageSmoothingEnabled = false;
    for (const tile of painted.tiles()) ctx.drawImage(tile.canvas, tile.x, tile.y);
  }

  /** Adds one brush (``erase`` false) or eraser move from ``from`` to ``to`` (image
   * pixels) of ``radius`` image pixels, in ``color``. */
  segment(from: Point, to: Point, radius: number, erase: boolean, color: string): void {
    if (!this.painted) return;
    const { ctx } = this;
    const { scale, offsetX, offsetY } = this.view.transform;
    ctx.setTransform(scale, 0, 0, scale, offsetX, offsetY);
    ctx.globalCompositeOperation = erase ? "destination-out" : "source-over";
    ctx.strokeStyle = color;
    ctx.lineWidth = 2 * radius;
    ctx.lineCap = "round";
    ctx.beginPath();
    ctx.moveTo(from[0], from[1]);
    // A zero-length line draws no round cap in every browser: a dot is a circle.
    if (from[0] === to[0] && from[1] === to[1]) {
      ctx.arc(from[0], from[1], radius, 0, 2 * Math.PI);
      ctx.fillStyle = color;
      ctx.fill();
    } else {
      ctx.lineTo(to[0], to[1]);
      ctx.stroke();
    }
    ctx.globalCompositeOperation = "source-over";
  }
}
