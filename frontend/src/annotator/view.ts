/**
 * The drawing surface: the image, saved masks in their class colours, the live mask,
 * and the prompts, with wheel zoom and pan. Everything is drawn in image pixels under
 * one transform (screen = image × scale + offset), so masks stay aligned at every zoom.
 */

import { maskBounds } from "../lib/mask";
import type { Prompt } from "../lib/prompts";
import type { Size } from "../lib/transform";

/** A mask painted on a canvas that covers its bounding box, whose top-left corner is
 * image pixel (x, y): memory grows with the objects' size, not the image's. */
export interface PaintedMask {
  readonly canvas: OffscreenCanvas;
  readonly x: number;
  readonly y: number;
}

export interface Layer extends PaintedMask {
  readonly visible: boolean;
  readonly highlighted: boolean;
}

export class View {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private scale = 1;
  private offsetX = 0;
  private offsetY = 0;
  private imageSize: Size;
  image: ImageBitmap | null = null;
  private savedLayers: Layer[] = [];
  /** The visible saved layers composited, in image pixels: drawn with one call, so that a
   * click's redraw costs the same with 3 saved masks or 300. Null: none is visible;
   * undefined: to be made again. */
  private composite: OffscreenCanvas | null | undefined = undefined;
  /** The live mask: the top-left ``width`` × ``height`` of ``canvas`` covers the image. */
  live: LiveMask | null = null;
  prompt: Prompt | null = null;
  dragBox: readonly [number, number, number, number] | null = null;

  constructor(
    readonly container: HTMLElement,
    size: Size,
  ) {
    this.imageSize = size;
    this.canvas = document.createElement("canvas");
    this.canvas.className = "annotator-canvas";
    container.append(this.canvas);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) throw new Error("this browser cannot draw on a canvas");
    this.ctx = ctx;
    new ResizeObserver(() => this.resize()).observe(container);
    this.resize();
    this.fit();
  }

  /** The saved masks, in drawing order. */
  get layers(): Layer[] {
    return this.savedLayers;
  }

  set layers(layers: Layer[]) {
    this.savedLayers = layers;
    this.composite = undefined;
  }

  /** The image's size in pixels, the frame of everything drawn. */
  get size(): Size {
    return this.imageSize;
  }

  /** Shows another image (``size`` in its pixels) with nothing over it, fitted to the
   * stage: zoom and pan start again. */
  show(image: ImageBitmap | null, size: Size): void {
    this.image = image;
    this.imageSize = size;
    this.layers = [];
    this.live = null;
    this.prompt = null;
    this.dragBox = null;
    this.fit();
  }

  resize(): void {
    const { clientWidth, clientHeight } = this.container;
    this.canvas.width = Math.max(1, clientWidth);
    this.canvas.height = Math.max(1, clientHeight);
    this.draw();
  }

  fit(): void {
    this.scale = Math.min(this.canvas.width / this.size.width, this.canvas.height / this.size.height);
    this.offsetX = (this.canvas.width - this.size.width * this.scale) / 2;
    this.offsetY = (this.canvas.height - this.size.height * this.scale) / 2;
    this.draw();
  }

  /** Screen (client) coordinates -> image pixels, x then y. */
  toImage(clientX: number, clientY: number): [number, number] {
    const rect = this.canvas.getBoundingClientRect();
    return [
      (clientX - rect.left - this.offsetX) / this.scale,
      (clientY - rect.top - this.offsetY) / this.scale,
    ];
  }

  inside([x, y]: readonly [number, number]): boolean {
    return x >= 0 && y >= 0 && x < this.size.width && y < this.size.height;
  }

  zoomAt(clientX: number, clientY: number, factor: number): void {
    const [x, y] = this.toImage(clientX, clientY);
    this.scale = Math.min(Math.max(this.scale * factor, 0.02), 64);
    const rect = this.canvas.getBoundingClientRect();
    this.offsetX = clientX - rect.left - x * this.scale;
    this.offsetY = clientY - rect.top - y * this.scale;
    this.draw();
  }

  panBy(dx: number, dy: number): void {
    this.offsetX += dx;
    this.offsetY += dy;
    this.draw();
  }

  draw(): void {
    const { ctx } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    ctx.setTransform(this.scale, 0, 0, this.scale, this.offsetX, this.offsetY);
    ctx.imageSmoothingEnabled = this.scale < 1;
    if (this.image) ctx.drawImage(this.image, 0, 0, this.size.width, this.size.height);
    ctx.imageSmoothingEnabled = false;
    const saved = this.savedComposite();
    if (saved) ctx.drawImage(saved, 0, 0, this.size.width, this.size.height);
    ctx.globalAlpha = 0.55;
    if (this.live) {
      const { canvas, width, height } = this.live;
      ctx.drawImage(canvas, 0, 0, width, height, 0, 0, this.size.width, this.size.height);
    }
    ctx.globalAlpha = 1;
    this.drawPrompt();
  }

  /** The visible layers drawn over each other, each with its own opacity; null when none
   * is visible. Drawing this at full opacity equals drawing the layers one by one
   * (source-over compositing is associative). */
  private savedComposite(): OffscreenCanvas | null {
    if (this.composite !== undefined) return this.composite;
    const visible = this.savedLayers.filter((layer) => layer.visible);
    if (visible.length === 0) return (this.composite = null);
    const composite = new OffscreenCanvas(this.size.width, this.size.height);
    const ctx = composite.getContext("2d");
    if (!ctx) throw new Error("this browser cannot draw on a canvas");
    ctx.imageSmoothingEnabled = false;
    for (const layer of visible) {
      ctx.globalAlpha = layer.highlighted ? 0.75 : 0.45;
      ctx.drawImage(layer.canvas, layer.x, layer.y);
    }
    return (this.composite = composite);
  }

  private drawPrompt(): void {
    const { ctx } = this;
    const r = 5 / this.scale;
    ctx.lineWidth = 2 / this.scale;
    const box = this.dragBox ?? this.prompt?.box ?? null;
    if (box) {
      ctx.strokeStyle = "#ffd400";
      ctx.strokeRect(box[0], box[1], box[2] - box[0], box[3] - box[1]);
    }
    this.prompt?.points.forEach(([x, y], i) => {
      ctx.beginPath();
      ctx.arc(x, y, r, 0, 2 * Math.PI);
      ctx.fillStyle = this.prompt?.positive[i] ? "#1fd655" : "#ff3b30";
      ctx.fill();
      ctx.strokeStyle = "#fff";
      ctx.stroke();
    });
  }
}

export interface LiveMask {
  readonly canvas: OffscreenCanvas;
  readonly width: number;
  readonly height: number;
}

/**
 * Logits (row-major, ``size``) above ``at`` painted in ``color``, for the live mask: one
 * pass, no intermediate mask, into one canvas kept for the page's life (creating a canvas
 * cost 40-50 ms in Chromium, on the first click of every image of another size). The
 * canvas is ``capacity`` square (the model frame's side, which every size fits in) and
 * only the top-left ``size`` of it is written.
 */
export function paintLogits(
  logits: Float32Array,
  size: Size,
  at: number,
  color: string,
  capacity: number,
): LiveMask {
  if (!livePaint || livePaint.canvas.width < size.width || livePaint.canvas.height < size.height) {
    const side = Math.max(capacity, size.width, size.height);
    const canvas = new OffscreenCanvas(side, side);
    const ctx = canvas.getContext("2d");
    if (!ctx) throw new Error("this browser cannot draw on a canvas");
    const pixels = ctx.createImageData(side, side);
    livePaint = { canvas, ctx, pixels, words: new Uint32Array(pixels.data.buffer) };
  }
  const { canvas, ctx, pixels, words } = livePaint;
  const stride = canvas.width;
  const r = Number.parseInt(color.slice(1, 3), 16);
  const g = Number.parseInt(color.slice(3, 5), 16);
  const b = Number.parseInt(color.slice(5, 7), 16);
  // RGBA bytes as one little-endian word (every browser that runs wasm is little-endian).
  const on = ((255 << 24) | (b << 16) | (g << 8) | r) >>> 0;
  for (let y = 0; y < size.height; y++) {
    const row = y * size.width;
    const to = y * stride;
    for (let x = 0; x < size.width; x++) words[to + x] = (logits[row + x] as number) > at ? on : 0;
  }
  ctx.putImageData(pixels, 0, 0, 0, 0, size.width, size.height);
  return { canvas, width: size.width, height: size.height };
}

let livePaint: {
  canvas: OffscreenCanvas;
  ctx: OffscreenCanvasRenderingContext2D;
  pixels: ImageData;
  words: Uint32Array;
} | null = null;

/** A mask (row-major 0/1, maskSize) painted in ``color`` on a canvas of its bounding
 * box (1 x 1 and clear for an empty mask). */
export function paintMask(mask: Uint8Array, maskSize: Size, color: string): PaintedMask {
  const box = maskBounds(mask, maskSize) ?? { x: 0, y: 0, width: 1, height: 1 };
  const canvas = new OffscreenCanvas(box.width, box.height);
  const ctx = canvas.getContext("2d");
  if (!ctx) throw new Error("this browser cannot draw on a canvas");
  const pixels = ctx.createImageData(box.width, box.height);
  const r = Number.parseInt(color.slice(1, 3), 16);
  const g = Number.parseInt(color.slice(3, 5), 16);
  const b = Number.parseInt(color.slice(5, 7), 16);
  const data = pixels.data;
  for (let y = 0; y < box.height; y++) {
    const from = (box.y + y) * maskSize.width + box.x;
    for (let x = 0; x < box.width; x++) {
      if (!mask[from + x]) continue;
      const i = 4 * (y * box.width + x);
      data[i] = r;
      data[i + 1] = g;
      data[i + 2] = b;
      data[i + 3] = 255;
    }
  }
  ctx.putImageData(pixels, 0, 0);
  return { canvas, x: box.x, y: box.y };
}
