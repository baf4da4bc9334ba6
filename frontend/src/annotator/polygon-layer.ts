/**
 * The polygon mode's canvas: a layer over the view's canvas, of the same size and under
 * the same transform (read from the view each frame), that draws the polygon being
 * edited and takes the pointer while polygon mode is on.
 *
 * Drawing a drag costs one path of the rings and one of the vertex handles per frame,
 * drawn at the next animation frame however many pointer moves came; the rings are
 * rasterised (as the server does) only when a step ends (release, insert, delete), and
 * that mask is shown under the outline between drags.
 *
 * Pointer: drag a vertex; press on an edge to add a vertex there (and drag it); Alt+click
 * or right-click on a vertex deletes it; wheel zooms, middle or empty-space drag pans.
 */

import { type EdgeHit, type VertexHit, edgeAt, vertexAt } from "../lib/polygon-hit";
import type { Point } from "../lib/transform";
import type { PolygonEdit } from "./polygon-edit";
import { type PaintedMask, paintMask } from "./view";

/** What the layer needs of the view. */
export interface PolygonViewport {
  readonly canvas: HTMLCanvasElement;
  readonly zoom: number;
  toImage(clientX: number, clientY: number): Point;
  zoomAt(clientX: number, clientY: number, factor: number): void;
  panBy(dx: number, dy: number): void;
}

export interface PolygonLayerEvents {
  /** An edit step ended (the rings changed): counts, saving state. */
  stepped(): void;
  say(message: string, isError?: boolean): void;
}

/** How near (screen pixels) the pointer must be to a vertex or an edge to take it. */
const HIT_PX = 7;
const HANDLE_PX = 5;

export class PolygonLayer {
  readonly canvas: HTMLCanvasElement;
  private readonly ctx: CanvasRenderingContext2D;
  private readonly listeners: [EventTarget, string, EventListener][] = [];
  private hoveredVertex: VertexHit | null = null;
  private hoveredEdge: EdgeHit | null = null;
  /** The vertex last grabbed or hovered: Delete removes it. */
  private lastVertex: VertexHit | null = null;
  private panning: { x: number; y: number } | null = null;
  private painted: PaintedMask | null = null;
  private frame = 0;
  private viewKey = "";
  private dirtyDraw = true;
  private released = false;
  /** Frames drawn, for tests and benchmarks. */
  draws = 0;

  constructor(
    container: HTMLElement,
    private readonly viewport: PolygonViewport,
    private readonly edit: PolygonEdit,
    private readonly color: string,
    private readonly events: PolygonLayerEvents,
  ) {
    this.canvas = document.createElement("canvas");
    this.canvas.className = "polygon-layer";
    Object.assign(this.canvas.style, { position: "absolute", inset: "0", cursor: "default", touchAction: "none" });
    container.append(this.canvas);
    const ctx = this.canvas.getContext("2d");
    if (!ctx) throw new Error("this browser cannot draw on a canvas");
    this.ctx = ctx;
    const on = (type: string, handle: (e: PointerEvent & WheelEvent) => void): void => {
      const listener = (event: Event): void => handle(event as PointerEvent & WheelEvent);
      this.canvas.addEventListener(type, listener, type === "wheel" ? { passive: false } : undefined);
      this.listeners.push([this.canvas, type, listener]);
    };
    on("contextmenu", (e) => e.preventDefault());
    on("pointerdown", (e) => this.down(e));
    on("pointermove", (e) => this.move(e));
    on("pointerup", (e) => this.up(e));
    on("pointercancel", (e) => this.up(e));
    on("wheel", (e) => {
      e.preventDefault();
      this.viewport.zoomAt(e.clientX, e.clientY, Math.exp(-e.deltaY / 500));
    });
    this.rasterised();
    this.loop();
  }

  release(): void {
    this.released = true;
    cancelAnimationFrame(this.frame);
    for (const [target, type, listener] of this.listeners) target.removeEventListener(type, listener);
    this.listeners.length = 0;
    this.canvas.remove();
  }

  /** The rings changed outside a drag (undo, redo, tolerance): rasterise and redraw. */
  changed(): void {
    this.hoveredVertex = null;
    this.hoveredEdge = null;
    this.lastVertex = null;
    this.rasterised();
  }

  /** Deletes the vertex under the pointer, or the one last grabbed; false if none. */
  deleteVertex(): boolean {
    const target = this.hoveredVertex ?? this.lastVertex;
    if (!target) return false;
    this.removeVertex(target);
    return true;
  }

  // ------------------------------------------------------------ pointer

  /** The pointer in the vertices' frame (vertex (x, y) is pixel (x, y)'s centre). */
  private vertexFrame(e: PointerEvent): Point {
    const [x, y] = this.viewport.toImage(e.clientX, e.clientY);
    return [x - 0.5, y - 0.5];
  }

  private hit(e: PointerEvent): { vertex: VertexHit | null; edge: EdgeHit | null } {
    const [x, y] = this.vertexFrame(e);
    const radius = HIT_PX / this.viewport.zoom;
    const rings = this.edit.rings.map((r) => r.points);
    const vertex = vertexAt(rings, x, y, radius);
    return { vertex, edge: vertex ? null : edgeAt(rings, x, y, radius) };
  }

  private down(e: PointerEvent): void {
    if (this.edit.isDragging) return;
    const { vertex, edge } = this.hit(e);
    if (e.button === 2 || (e.button === 0 && e.altKey)) {
      if (vertex) this.removeVertex(vertex);
      return;
    }
    if (e.button === 1 || (e.button === 0 && !vertex && !edge)) {
      this.panning = { x: e.clientX, y: e.clientY };
      this.canvas.setPointerCapture(e.pointerId);
      return;
    }
    if (e.button !== 0) return;
    let grabbed = vertex;
    if (!grabbed && edge) {
      const index = this.edit.insert(edge.ring, edge.index, edge.x, edge.y);
      grabbed = { ring: edge.ring, index };
      this.events.stepped();
    }
    if (!grabbed) return;
    this.edit.beginDrag(grabbed.ring, grabbed.index);
    this.lastVertex = grabbed;
    this.hoveredVertex = grabbed;
    this.hoveredEdge = null;
    this.canvas.setPointerCapture(e.pointerId);
    this.request();
  }

  private move(e: PointerEvent): void {
    if (this.panning) {
      this.viewport.panBy(e.clientX - this.panning.x, e.clientY - this.panning.y);
      this.panning = { x: e.clientX, y: e.clientY };
      return;
    }
    if (this.edit.isDragging) {
      const [x, y] = this.vertexFrame(e);
      this.edit.dragTo(x, y);
      this.request();
      return;
    }
    const { vertex, edge } = this.hit(e);
    if (!sameVertex(vertex, this.hoveredVertex) || !sameEdge(edge, this.hoveredEdge)) {
      this.hoveredVertex = vertex;
      this.hoveredEdge = edge;
      if (vertex) this.lastVertex = vertex;
      this.canvas.style.cursor = vertex ? "move" : edge ? "copy" : "default";
      this.request();
    }
  }

  private up(e: PointerEvent): void {
    if (this.canvas.hasPointerCapture(e.pointerId)) this.canvas.releasePointerCapture(e.pointerId);
    if (this.panning) {
      this.panning = null;
      return;
    }
    if (!this.edit.isDragging) return;
    this.edit.endDrag();
    this.rasterised();
    this.events.stepped();
  }

  private removeVertex(target: VertexHit): void {
    if (!this.edit.remove(target.ring, target.index)) {
      this.events.say("A ring keeps at least 3 vertices.", true);
      return;
    }
    this.hoveredVertex = null;
    this.lastVertex = null;
    this.rasterised();
    this.events.stepped();
  }

  // ------------------------------------------------------------ drawing

  /** The rings rasterised as the server will: painted once per step, shown between drags. */
  private rasterised(): void {
    const { size } = this.edit;
    this.painted = paintMask(this.edit.mask(), size, this.color);
    this.request();
  }

  private request(): void {
    this.dirtyDraw = true;
  }

  /** Each frame: redraws if anything changed, the view's pan or zoom included. */
  private loop(): void {
    if (this.released) return;
    this.frame = requestAnimationFrame(() => {
      this.loop();
      const view = this.viewport.canvas;
      const [ox, oy] = this.viewport.toImage(view.getBoundingClientRect().left, view.getBoundingClientRect().top);
      const key = `${view.width}x${view.height}@${this.viewport.zoom},${ox},${oy}`;
      if (key !== this.viewKey) {
        this.viewKey = key;
        this.dirtyDraw = true;
      }
      if (this.dirtyDraw) this.draw();
    });
  }

  private draw(): void {
    const started = performance.now();
    this.dirtyDraw = false;
    const view = this.viewport.canvas;
    if (this.canvas.width !== view.width || this.canvas.height !== view.height) {
      this.canvas.width = view.width;
      this.canvas.height = view.height;
    }
    const { ctx } = this;
    const zoom = this.viewport.zoom;
    const rect = view.getBoundingClientRect();
    const [left, top] = this.viewport.toImage(rect.left, rect.top);
    // Screen = (image - (left, top)) * zoom; a vertex sits at its pixel's centre.
    const sx = (x: number): number => (x + 0.5 - left) * zoom;
    const sy = (y: number): number => (y + 0.5 - top) * zoom;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this.canvas.width, this.canvas.height);
    const dragging = this.edit.isDragging;
    if (this.painted && !dragging) {
      // Between drags: the pixels the server will store.
      ctx.save();
      ctx.setTransform(zoom, 0, 0, zoom, -left * zoom, -top * zoom);
      ctx.imageSmoothingEnabled = false;
      ctx.globalAlpha = 0.45;
      ctx.drawImage(this.painted.canvas, this.painted.x, this.painted.y);
      ctx.restore();
    }
    const outline = new Path2D();
    const handles = new Path2D();
    const half = HANDLE_PX / 2;
    for (const ring of this.edit.rings) {
      const p = ring.points;
      if (p.length < 2) continue;
      outline.moveTo(sx(p[0] as number), sy(p[1] as number));
      for (let i = 2; i < p.length; i += 2) outline.lineTo(sx(p[i] as number), sy(p[i + 1] as number));
      outline.closePath();
      for (let i = 0; i < p.length; i += 2) {
        handles.rect(sx(p[i] as number) - half, sy(p[i + 1] as number) - half, HANDLE_PX, HANDLE_PX);
      }
    }
    if (dragging) {
      // During a drag the rings' own fill stands in for the mask, which is made on release.
      ctx.globalAlpha = 0.35;
      ctx.fillStyle = this.color;
      ctx.fill(outline, "evenodd");
      ctx.globalAlpha = 1;
    }
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = "#ffffff";
    ctx.stroke(outline);
    ctx.fillStyle = this.color;
    ctx.fill(handles);
    ctx.lineWidth = 1;
    ctx.strokeStyle = "#000000";
    ctx.stroke(handles);
    const marked = this.hoveredVertex ?? this.lastVertex;
    const markedPoints = marked ? this.edit.rings[marked.ring]?.points : undefined;
    if (marked && markedPoints && marked.index * 2 < markedPoints.length) {
      ctx.strokeStyle = "#ffd400";
      ctx.lineWidth = 2;
      const x = sx(markedPoints[marked.index * 2] as number);
      const y = sy(markedPoints[marked.index * 2 + 1] as number);
      ctx.strokeRect(x - half - 2, y - half - 2, HANDLE_PX + 4, HANDLE_PX + 4);
    }
    if (this.hoveredEdge && !dragging) {
      ctx.fillStyle = "#ffd400";
      ctx.beginPath();
      ctx.arc(sx(this.hoveredEdge.x), sy(this.hoveredEdge.y), 3.5, 0, 2 * Math.PI);
      ctx.fill();
    }
    this.draws++;
    performance.measure("samlabel:polygon-draw", { start: started, detail: { dragging } });
  }
}

function sameVertex(a: VertexHit | null, b: VertexHit | null): boolean {
  return a === b || (a !== null && b !== null && a.ring === b.ring && a.index === b.index);
}

function sameEdge(a: EdgeHit | null, b: EdgeHit | null): boolean {
  return a === b || (a !== null && b !== null && a.ring === b.ring && a.index === b.index && a.x === b.x && a.y === b.y);
}
