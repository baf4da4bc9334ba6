/**
 * One saved annotation's mask being edited as polygons: its traced rings simplified to a
 * tolerance, vertex moves, insertions and deletions, and undo/redo of each step. Pure
 * state (no DOM, no server): the polygon layer draws it and turns the pointer into its
 * calls, the polygon mode saves ``rings`` as a new version of the annotation.
 *
 * Vertices are whole pixel indices (x, y) in the image, pixel (x, y) covering
 * [x, x + 1] × [y, y + 1] (so a vertex is drawn at its pixel's centre); the server
 * truncates vertices to whole pixels, so keeping them whole makes the outline on screen
 * the one that is rasterised. ``mask()`` rasterises the rings as the server does.
 */

import { rasterisePolygons } from "../lib/polygon-raster";
import { simplifyRing } from "../lib/polygon-simplify";
import { type TracedPolygons, tracePolygons } from "../lib/polygon-trace";
import type { Size } from "../lib/transform";

/** The tolerance a polygon opens with, in image pixels. */
export const DEFAULT_TOLERANCE_PX = 1;

export interface PolygonRing {
  /** [x0, y0, x1, y1, ...], whole pixels, first vertex not repeated. */
  readonly points: number[];
  readonly hole: boolean;
}

type Snapshot = readonly PolygonRing[];

export class PolygonEdit {
  private traced: TracedPolygons;
  private current: readonly PolygonRing[] = [];
  private done: { rings: Snapshot; tolerance: number }[] = [];
  private undone: { rings: Snapshot; tolerance: number }[] = [];
  private tol: number;
  /** The rings as last saved (or opened), to tell whether there is anything to save. */
  private savedRings: Snapshot;
  /** The vertex being dragged and its ring's points before the drag. */
  private dragging: { ring: number; index: number; before: Snapshot } | null = null;
  private cachedMask: Uint8Array | null = null;

  /** ``mask``: row-major (height × width), nonzero = inside. */
  constructor(
    mask: Uint8Array,
    readonly size: Size,
    tolerance: number = DEFAULT_TOLERANCE_PX,
  ) {
    this.traced = tracePolygons(mask, size.height, size.width);
    this.tol = tolerance;
    this.current = this.simplified(tolerance);
    this.savedRings = this.current;
  }

  get rings(): readonly PolygonRing[] {
    return this.current;
  }

  get tolerance(): number {
    return this.tol;
  }

  get vertexCount(): number {
    return this.current.reduce((sum, ring) => sum + ring.points.length / 2, 0);
  }

  /** Whether the rings differ from those last saved. */
  get dirty(): boolean {
    return this.current !== this.savedRings;
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }

  /** The rings as the server takes them: flat lists, outers and holes alike. */
  flatRings(): number[][] {
    return this.current.map((ring) => ring.points.slice());
  }

  /** The rings rasterised as the server does: (height × width) row-major, 1 inside. */
  mask(): Uint8Array {
    this.cachedMask ??= rasterisePolygons(
      this.current.map((ring) => ring.points),
      this.size.height,
      this.size.width,
    );
    return this.cachedMask;
  }

  /** The traced rings simplified to ``tolerance`` pixels instead (one undoable step; the
   * vertex edits made since are replaced). */
  setTolerance(tolerance: number): void {
    if (!(tolerance >= 0) || tolerance === this.tol) return;
    this.record();
    this.tol = tolerance;
    this.replace(this.simplified(tolerance));
  }

  /** Starts dragging vertex ``index`` of ring ``ring``. */
  beginDrag(ring: number, index: number): void {
    this.dragging = { ring, index, before: this.current };
  }

  /** Moves the vertex being dragged to pixel (x, y) (rounded, kept in the image). The
   * ring's array is changed in place: a drag's many moves cost no copies. */
  dragTo(x: number, y: number): void {
    const drag = this.dragging;
    if (!drag) return;
    if (this.current === drag.before) {
      // The first move: copy the ring, so the state before the drag stays as it was.
      this.current = this.current.map((r, i) => (i === drag.ring ? { ...r, points: r.points.slice() } : r));
    }
    const points = (this.current[drag.ring] as PolygonRing).points;
    points[drag.index * 2] = this.clampX(x);
    points[drag.index * 2 + 1] = this.clampY(y);
    this.cachedMask = null;
  }

  /** Ends the drag: one undoable step if the vertex moved. */
  endDrag(): void {
    const drag = this.dragging;
    this.dragging = null;
    if (!drag || this.current === drag.before) return;
    this.done.push({ rings: drag.before, tolerance: this.tol });
    this.undone = [];
  }

  get isDragging(): boolean {
    return this.dragging !== null;
  }

  /** Inserts a vertex at pixel (x, y) after vertex ``after`` of ring ``ring``; returns its
   * index. */
  insert(ring: number, after: number, x: number, y: number): number {
    this.record();
    const points = (this.current[ring] as PolygonRing).points.slice();
    points.splice((after + 1) * 2, 0, this.clampX(x), this.clampY(y));
    this.replaceRing(ring, points);
    return after + 1;
  }

  /** Deletes vertex ``index`` of ring ``ring``; a ring keeps at least 3 vertices, so
   * false (nothing changed) when it has only 3. */
  remove(ring: number, index: number): boolean {
    const points = (this.current[ring] as PolygonRing).points;
    if (points.length <= 6) return false;
    this.record();
    const next = points.slice();
    next.splice(index * 2, 2);
    this.replaceRing(ring, next);
    return true;
  }

  undo(): boolean {
    const step = this.done.pop();
    if (!step) return false;
    this.undone.push({ rings: this.current, tolerance: this.tol });
    this.tol = step.tolerance;
    this.replace(step.rings);
    return true;
  }

  redo(): boolean {
    const step = this.undone.pop();
    if (!step) return false;
    this.done.push({ rings: this.current, tolerance: this.tol });
    this.tol = step.tolerance;
    this.replace(step.rings);
    return true;
  }

  /** The rings on screen were saved. */
  markSaved(): void {
    this.savedRings = this.current;
  }

  private simplified(tolerance: number): PolygonRing[] {
    return [
      ...this.traced.outers.map((points) => ({ points: simplifyRing(points, tolerance), hole: false })),
      ...this.traced.holes.map((points) => ({ points: simplifyRing(points, tolerance), hole: true })),
    ];
  }

  private record(): void {
    this.done.push({ rings: this.current, tolerance: this.tol });
    this.undone = [];
  }

  private replace(rings: readonly PolygonRing[]): void {
    this.current = rings;
    this.cachedMask = null;
  }

  private replaceRing(index: number, points: number[]): void {
    this.replace(this.current.map((r, i) => (i === index ? { ...r, points } : r)));
  }

  private clampX(x: number): number {
    return Math.min(this.size.width - 1, Math.max(0, Math.round(x)));
  }

  private clampY(y: number): number {
    return Math.min(this.size.height - 1, Math.max(0, Math.round(y)));
  }
}
