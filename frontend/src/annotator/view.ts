/**
 * The drawing surface: the image, saved masks in their class colours, the live mask,
 * and the prompts, with wheel zoom and pan. Everything is drawn in image pixels under
 * one transform (screen = image × scale + offset), so masks stay aligned at every zoom.
 * Each mask is a fill with an outline in its class colour along its pixels' edges; the
 * outline's width is in screen pixels, so it stays crisp and thin at every zoom.
 */

import { maskBounds, modelFrameLogits } from "../lib/mask";
import { maskOutline } from "../lib/outline";
import type { Prompt } from "../lib/prompts";
import { decodeRle, decompressCounts } from "../lib/rle";
import { decodeRleInBox } from "../lib/mask-ops"; // mask editing (#16)
import type { Point, Size } from "../lib/transform";
import { type Annotation, annotationBox } from "./api";
import type { Box, Viewport } from "./input";
import type { Pin } from "./issues";
import { type CropBox, drawCropOutline } from "./crop-outline"; // crop detail (#16)

/** Outline widths, in screen pixels. */
const OUTLINE_PX = 2;
const HIGHLIGHTED_OUTLINE_PX = 3;

/** A mask painted on a canvas that covers its bounding box, whose top-left corner is
 * image pixel (x, y): memory grows with the objects' size, not the image's. ``outline``
 * is its boundary in image pixels. */
export interface PaintedMask {
  readonly canvas: OffscreenCanvas;
  readonly x: number;
  readonly y: number;
  readonly outline: Path2D;
  readonly color: string;
}

export interface Layer extends PaintedMask {
  readonly visible: boolean;
  readonly highlighted: boolean;
}

/** The image's mask proposals as drawn: thin outlines of the open ones and, fainter, of
 * those a saved annotation covers (image pixels), and the hovered or selected one
 * filled. */
export interface ProposalDrawing {
  readonly open: Path2D;
  readonly faded: Path2D;
  readonly fill: PaintedMask | null;
  /** Whether ``fill`` is the selected proposal (else the hovered one). */
  readonly selected: boolean;
  /** Open proposals, for tests and people. */
  readonly count: number;
}

const PROPOSAL_OUTLINE_PX = 1;
/** Proposals are outlined and filled in this neutral colour, whatever the classes'. */
export const PROPOSAL_COLOR = "#f2f2f2";
const SELECTED_PROPOSAL_COLOR = "#ffd400";

export class View implements Viewport {
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
  /** The visible layers' outlines merged by colour and width, made with ``composite``. */
  private outlines: { color: string; width: number; path: Path2D }[] = [];
  /** The saved masks and their outlines as the screen shows them (the canvas's size, under
   * the transform in ``key``), from ``source``: a redraw for a click or a hover copies it
   * in one call, where stroking the outlines again would cost more with every mask saved.
   * Made again when the layers, the zoom, the pan or the stage's size change. */
  private savedOnScreen: {
    canvas: OffscreenCanvas;
    ctx: OffscreenCanvasRenderingContext2D;
    key: string;
    source: OffscreenCanvas | null;
  } | null = null;
  /** The live mask: the top-left ``width`` × ``height`` of ``canvas`` covers the image. */
  live: LiveMask | null = null;
  prompt: Prompt | null = null;
  dragBox: readonly [number, number, number, number] | null = null;
  /** Review issues, numbered as the side panel lists them. */
  pins: readonly Pin[] = [];
  /** The proposals, shown or not (P toggles). */
  proposals: ProposalDrawing | null = null;
  /** An older version of an annotation (its history), outlined dashed; image pixels. */
  ghost: { readonly outline: Path2D; readonly version: number } | null = null;
  /** Crop detail (#16): the crop box outlined dashed (image pixels); null: none. */
  detailOutline: CropBox | null = null;
  /** Mask editing (#16): called after each draw, for the edit overlay (edit-overlay.ts),
   * which follows the view's zoom and pan. */
  afterDraw: (() => void) | null = null;

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
    // Mask editing (#16): a save of the annotation under edit, which is hidden, leaves
    // the visible layers as they were, and the composite (a full-size canvas, about
    // 100 ms to make on 24 megapixels) is kept.
    if (!sameVisible(this.savedLayers, layers)) this.composite = undefined;
    this.savedLayers = layers;
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
    this.proposals = null;
    this.ghost = null;
    this.live = null;
    this.prompt = null;
    this.dragBox = null;
    this.detailOutline = null;
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

  /** Screen pixels per image pixel. */
  get zoom(): number {
    return this.scale;
  }

  /** Mask editing (#16): the view's transform, canvas pixel = image pixel × scale +
   * offset. */
  get transform(): { readonly scale: number; readonly offsetX: number; readonly offsetY: number } {
    return { scale: this.scale, offsetX: this.offsetX, offsetY: this.offsetY };
  }

  showDragBox(box: Box | null): void {
    this.dragBox = box;
    this.draw();
  }

  /** Screen (client) coordinates -> image pixels, x then y. */
  toImage(clientX: number, clientY: number): Point {
    const rect = this.canvas.getBoundingClientRect();
    return [
      (clientX - rect.left - this.offsetX) / this.scale,
      (clientY - rect.top - this.offsetY) / this.scale,
    ];
  }

  inside([x, y]: Point): boolean {
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
    this.drawSaved();
    this.drawProposals();
    if (this.live) {
      const { canvas, width, height, outline, color } = this.live;
      // crop detail (#16): a crop's mask covers its box only.
      const at = this.live.dest ?? { x: 0, y: 0, width: this.size.width, height: this.size.height };
      ctx.globalAlpha = 0.55;
      ctx.drawImage(canvas, 0, 0, width, height, at.x, at.y, at.width, at.height);
      ctx.globalAlpha = 1;
      this.stroke(ctx, outline, color, OUTLINE_PX);
    }
    this.drawGhost();
    if (this.detailOutline) drawCropOutline(ctx, this.detailOutline, this.transform); // crop detail (#16)
    this.drawPrompt();
    this.drawPins();
    // The transform, for tests and people: screen = image × scale + offset.
    const { dataset } = this.container;
    dataset["scale"] = String(this.scale);
    dataset["offsetX"] = String(this.offsetX);
    dataset["offsetY"] = String(this.offsetY);
    dataset["live"] = this.live ? "1" : "0";
    dataset["pins"] = String(this.pins.filter((pin) => !pin.resolved).length);
    dataset["ghost"] = this.ghost ? String(this.ghost.version) : "";
    dataset["proposalsShown"] = this.proposals ? String(this.proposals.count) : "";
    dataset["detailOutline"] = this.detailOutline ? this.detailOutline.join(",") : "";
    this.afterDraw?.(); // mask editing (#16)
  }

  /** Proposals' outlines one screen pixel wide (faded ones fainter), the hovered one
   * filled lightly and the selected one more, outlined in yellow. */
  private drawProposals(): void {
    const drawing = this.proposals;
    if (!drawing) return;
    const { ctx } = this;
    ctx.globalAlpha = 0.25;
    this.stroke(ctx, drawing.faded, PROPOSAL_COLOR, PROPOSAL_OUTLINE_PX);
    ctx.globalAlpha = 0.9;
    this.stroke(ctx, drawing.open, PROPOSAL_COLOR, PROPOSAL_OUTLINE_PX);
    const fill = drawing.fill;
    if (fill) {
      ctx.globalAlpha = drawing.selected ? 0.5 : 0.3;
      ctx.drawImage(fill.canvas, fill.x, fill.y);
      ctx.globalAlpha = 1;
      this.stroke(ctx, fill.outline, drawing.selected ? SELECTED_PROPOSAL_COLOR : PROPOSAL_COLOR, OUTLINE_PX);
    }
    ctx.globalAlpha = 1;
  }

  /** The saved masks with their outlines, from the copy made for the current view (made
   * first if the layers or the view changed). The context is left under the view's
   * transform. */
  private drawSaved(): void {
    const saved = this.savedComposite();
    if (!saved && this.outlines.length === 0) return;
    const { width, height } = this.canvas;
    const key = `${this.scale} ${this.offsetX} ${this.offsetY} ${width} ${height}`;
    let cached = this.savedOnScreen;
    if (!cached || cached.key !== key || cached.source !== saved) {
      if (!cached || cached.canvas.width !== width || cached.canvas.height !== height) {
        const canvas = new OffscreenCanvas(width, height);
        const ctx = canvas.getContext("2d");
        if (!ctx) throw new Error("this browser cannot draw on a canvas");
        cached = { canvas, ctx, key, source: saved };
      }
      const { ctx } = cached;
      ctx.setTransform(1, 0, 0, 1, 0, 0);
      ctx.clearRect(0, 0, width, height);
      ctx.setTransform(this.scale, 0, 0, this.scale, this.offsetX, this.offsetY);
      ctx.imageSmoothingEnabled = false;
      if (saved) ctx.drawImage(saved, 0, 0, this.size.width, this.size.height);
      for (const outline of this.outlines) this.stroke(ctx, outline.path, outline.color, outline.width);
      cached.key = key;
      cached.source = saved;
      this.savedOnScreen = cached;
    }
    const { ctx } = this;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.drawImage(cached.canvas, 0, 0);
    ctx.setTransform(this.scale, 0, 0, this.scale, this.offsetX, this.offsetY);
  }

  /** Strokes ``path`` (image pixels) ``px`` screen pixels wide on ``ctx``, which is under
   * the view's transform. */
  private stroke(
    ctx: CanvasRenderingContext2D | OffscreenCanvasRenderingContext2D,
    path: Path2D,
    color: string,
    px: number,
  ): void {
    ctx.lineWidth = px / this.scale;
    ctx.lineCap = "square";
    ctx.strokeStyle = color;
    ctx.stroke(path);
  }

  /** The visible layers drawn over each other, each with its own opacity; null when none
   * is visible. Drawing this at full opacity equals drawing the layers one by one
   * (source-over compositing is associative). */
  private savedComposite(): OffscreenCanvas | null {
    if (this.composite !== undefined) return this.composite;
    const visible = this.savedLayers.filter((layer) => layer.visible);
    const outlines = new Map<string, { color: string; width: number; path: Path2D }>();
    for (const layer of visible) {
      const width = layer.highlighted ? HIGHLIGHTED_OUTLINE_PX : OUTLINE_PX;
      const key = `${layer.color} ${width}`;
      const merged = outlines.get(key) ?? { color: layer.color, width, path: new Path2D() };
      merged.path.addPath(layer.outline);
      outlines.set(key, merged);
    }
    this.outlines = [...outlines.values()];
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

  /** The ghost outline, dashed black and white so that it shows on any picture, the same
   * width and dashes at every zoom. */
  private drawGhost(): void {
    if (!this.ghost) return;
    const { ctx } = this;
    const dash = 6 / this.scale;
    ctx.save();
    ctx.lineWidth = 2 / this.scale;
    ctx.lineCap = "butt";
    ctx.setLineDash([dash, dash]);
    ctx.strokeStyle = "#000";
    ctx.stroke(this.ghost.outline);
    ctx.lineDashOffset = dash;
    ctx.strokeStyle = "#fff";
    ctx.stroke(this.ghost.outline);
    ctx.restore();
  }

  /** Numbered pins, the same size at every zoom; a resolved issue's dimmed. */
  private drawPins(): void {
    const { ctx } = this;
    const r = 9 / this.scale;
    ctx.font = `bold ${11 / this.scale}px system-ui, sans-serif`;
    ctx.textAlign = "center";
    ctx.textBaseline = "middle";
    for (const pin of this.pins) {
      ctx.beginPath();
      ctx.arc(pin.x, pin.y, r, 0, 2 * Math.PI);
      ctx.globalAlpha = pin.resolved ? 0.5 : 1;
      ctx.fillStyle = pin.resolved ? "#9a9a9a" : "#ff9500";
      ctx.fill();
      ctx.lineWidth = 2 / this.scale;
      ctx.strokeStyle = "#fff";
      ctx.stroke();
      ctx.fillStyle = "#000";
      ctx.fillText(String(pin.number), pin.x, pin.y);
    }
    ctx.globalAlpha = 1;
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

/** The live mask: the top-left ``width`` × ``height`` of ``canvas`` covers the image;
 * ``outline`` is in image pixels. */
export interface LiveMask {
  readonly canvas: OffscreenCanvas;
  readonly width: number;
  readonly height: number;
  readonly outline: Path2D;
  readonly color: string;
  /** crop detail (#16): the rectangle of the image (its pixels) the canvas covers, when it
   * is a crop's mask; absent: the whole image. */
  readonly dest?: { readonly x: number; readonly y: number; readonly width: number; readonly height: number };
}

/** Segments [x0, y0, x1, y1, ...] as a path, each point scaled by (sx, sy), then moved
 * by (dx, dy). */
function outlinePath(segments: readonly number[], sx: number, sy: number, dx: number, dy: number): Path2D {
  const path = new Path2D();
  for (let i = 0; i + 3 < segments.length; i += 4) {
    path.moveTo((segments[i] as number) * sx + dx, (segments[i + 1] as number) * sy + dy);
    path.lineTo((segments[i + 2] as number) * sx + dx, (segments[i + 3] as number) * sy + dy);
  }
  return path;
}

/** The live mask of low-res logits (lowResSize square) for an image of ``size``: resized
 * to the model frame (in scratch memory: painted at once, then not needed) and painted. */
export function paintLive(
  lowRes: Float32Array,
  lowResSize: number,
  size: Size,
  modelSize: number,
  at: number,
  color: string,
): LiveMask {
  const { logits, size: frame } = modelFrameLogits(lowRes, lowResSize, size, modelSize, true);
  return paintLogits(logits, frame, at, color, modelSize, size);
}

/**
 * Logits (row-major, ``size``) above ``at`` painted in ``color``, for the live mask: one
 * pass, no intermediate mask, into one canvas kept for the page's life (creating a canvas
 * cost 40-50 ms in Chromium, on the first click of every image of another size). The
 * canvas is ``capacity`` square (the model frame's side, which every size fits in) and
 * only the top-left ``size`` of it is written. The outline is scaled from ``size`` to
 * ``imageSize``, the image the mask is drawn over.
 */
export function paintLogits(
  logits: Float32Array,
  size: Size,
  at: number,
  color: string,
  capacity: number,
  imageSize: Size = size,
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
  // The first and last rows with a pixel set: the outline is looked for between them.
  let top = -1;
  let bottom = -1;
  for (let y = 0; y < size.height; y++) {
    const row = y * size.width;
    const to = y * stride;
    let any = 0;
    for (let x = 0; x < size.width; x++) {
      const word = (logits[row + x] as number) > at ? on : 0;
      words[to + x] = word;
      any |= word;
    }
    if (any !== 0) {
      if (top < 0) top = y;
      bottom = y;
    }
  }
  ctx.putImageData(pixels, 0, 0, 0, 0, size.width, size.height);
  const segments = top < 0 ? [] : maskOutline(words.subarray(top * stride), size.width, bottom - top + 1, stride);
  const sx = imageSize.width / size.width;
  const sy = imageSize.height / size.height;
  const outline = outlinePath(segments, sx, sy, 0, Math.max(top, 0) * sy);
  return { canvas, width: size.width, height: size.height, outline, color };
}

let livePaint: {
  canvas: OffscreenCanvas;
  ctx: OffscreenCanvasRenderingContext2D;
  pixels: ImageData;
  words: Uint32Array;
} | null = null;

/** A mask (row-major 0/1, maskSize) painted in ``color`` on a canvas of its bounding
 * box (1 x 1 and clear for an empty mask); ``origin``: where the mask's top-left pixel
 * is in the image (a mask decoded within a box). */
export function paintMask(mask: Uint8Array, maskSize: Size, color: string, origin = { x: 0, y: 0 }): PaintedMask {
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
  const start = box.y * maskSize.width + box.x;
  const segments = maskOutline(mask.subarray(start), box.width, box.height, maskSize.width);
  const [x, y] = [box.x + origin.x, box.y + origin.y];
  return { canvas, x, y, outline: outlinePath(segments, 1, 1, x, y), color };
}

/** Whether layers ``a`` and ``b`` show the same: the same visible paintings, in order,
 * each as highlighted. */
function sameVisible(a: readonly Layer[], b: readonly Layer[]): boolean {
  const [shownA, shownB] = [a.filter((l) => l.visible), b.filter((l) => l.visible)];
  return (
    shownA.length === shownB.length &&
    shownA.every((l, i) => {
      const m = shownB[i] as Layer;
      return l.canvas === m.canvas && l.x === m.x && l.y === m.y && l.outline === m.outline && l.color === m.color && l.highlighted === m.highlighted;
    })
  );
}

/** Saved annotations painted, by annotation (a relabelled one is a new object) and
 * colour: a list redrawn, or classes that arrive, paint nothing twice. */
const painted = new WeakMap<Annotation, PaintedMask>();

/** ``annotation``'s mask painted in ``color``. */
export function paintAnnotation(annotation: Annotation, color: string): PaintedMask {
  const known = painted.get(annotation);
  if (known?.color === color) return known;
  const [height, width] = annotation.rle.size;
  // Mask editing (#16, 500 masks): decoded within its box when the server gave one, so
  // that each saved mask costs its own size, not the image's.
  const box = annotationBox(annotation);
  let layer: PaintedMask;
  if (box) {
    const crop = decodeRleInBox(decompressCounts(annotation.rle.counts), height, box);
    layer = paintMask(crop, { height: box.height, width: box.width }, color, box);
  } else layer = paintMask(decodeRle(annotation.rle), { height, width }, color);
  painted.set(annotation, layer);
  return layer;
}
