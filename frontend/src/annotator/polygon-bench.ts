/**
 * The page ``benchmarks/polygon_edit.py`` opens in Chromium: the annotator's polygon
 * layer (``PolygonLayer`` on a ``PolygonEdit``, the product's code) over a stand-in for
 * the view, on a mask whose outline simplifies to about ``vertices`` vertices (a wavy
 * disc rasterised as the server does, traced, and simplified to the tolerance that
 * leaves at least that many). Not part of the annotator's bundle.
 *
 * Query: ``?width=W&height=H&vertices=N&zoom=fit|1``. Exposes ``window.polygonBench``:
 * the vertex count, the screen point of the outer ring's first vertex and the time of
 * the trace and of one rasterisation (ms).
 */

import type { Point } from "../lib/transform";
import { rasterisePolygons } from "../lib/polygon-raster";
import { PolygonEdit } from "./polygon-edit";
import { PolygonLayer, type PolygonViewport } from "./polygon-layer";

const query = new URLSearchParams(location.search);
const width = Number(query.get("width") ?? 2000);
const height = Number(query.get("height") ?? 2000);
const wanted = Number(query.get("vertices") ?? 2000);

/** A wavy disc's outline, ``n`` points: radius ``r`` with 40 waves of 6 % (a blob-like
 * object's outline, smooth at every scale but the pixels'). */
function wavyDisc(n: number, cx: number, cy: number, r: number): number[] {
  const ring: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = (2 * Math.PI * i) / n;
    const rr = r * (1 + 0.06 * Math.sin(40 * a));
    ring.push(cx + rr * Math.cos(a), cy + rr * Math.sin(a));
  }
  return ring;
}

const stage = document.getElementById("stage") as HTMLElement;
const base = document.createElement("canvas");
Object.assign(base.style, { position: "absolute", inset: "0" });
stage.append(base);
base.width = stage.clientWidth;
base.height = stage.clientHeight;

const fit = Math.min(base.width / width, base.height / height);
let scale = query.get("zoom") === "1" ? 1 : fit;
// Fitted, the image is centred; at 100 % the disc's right edge is (its outline at
// x = 0.9 of the width, y = half the height).
let offsetX = scale === fit ? (base.width - width * scale) / 2 : base.width / 2 - 0.9 * width * scale;
let offsetY = (base.height - height * scale) / 2;

/** The view's transform as the annotator's View keeps it (screen = image × scale + offset). */
const viewport: PolygonViewport = {
  canvas: base,
  get zoom() {
    return scale;
  },
  toImage(clientX: number, clientY: number): Point {
    const rect = base.getBoundingClientRect();
    return [(clientX - rect.left - offsetX) / scale, (clientY - rect.top - offsetY) / scale];
  },
  zoomAt(clientX: number, clientY: number, factor: number): void {
    const [x, y] = viewport.toImage(clientX, clientY);
    scale *= factor;
    const rect = base.getBoundingClientRect();
    offsetX = clientX - rect.left - x * scale;
    offsetY = clientY - rect.top - y * scale;
  },
  panBy(dx: number, dy: number): void {
    offsetX += dx;
    offsetY += dy;
  },
};

const mask = rasterisePolygons([wavyDisc(4096, width / 2, height / 2, Math.min(width, height) * 0.4)], height, width);
const traceStart = performance.now();
const edit = new PolygonEdit(mask, { height, width }, 1);
const traceMs = performance.now() - traceStart;
// The tolerance that leaves the fewest vertices still at least ``wanted`` (bisection).
let [low, high] = [0, 16];
for (let step = 0; step < 30; step++) {
  const middle = (low + high) / 2;
  edit.setTolerance(middle);
  if (edit.vertexCount >= wanted) low = middle;
  else high = middle;
}
edit.setTolerance(low);
const rasterStart = performance.now();
rasterisePolygons(
  edit.rings.map((r) => r.points),
  height,
  width,
);
const rasteriseMs = performance.now() - rasterStart;
const layer = new PolygonLayer(stage, viewport, edit, "#00a0ff", { stepped: () => undefined, say: () => undefined });

// The vertex nearest the stage's centre on screen (visible at every zoom): drags start there.
const rect = base.getBoundingClientRect();
const screenOf = (x: number, y: number): [number, number] => [
  rect.left + offsetX + (x + 0.5) * scale,
  rect.top + offsetY + (y + 0.5) * scale,
];
const outer = edit.rings[0]?.points ?? [];
let nearest = 0;
let nearestDistance = Infinity;
for (let i = 0; i < outer.length; i += 2) {
  const [sx, sy] = screenOf(outer[i] as number, outer[i + 1] as number);
  const d = Math.hypot(sx - (rect.left + base.width / 2), sy - (rect.top + base.height / 2));
  if (d < nearestDistance) [nearest, nearestDistance] = [i / 2, d];
}
const vx = outer[nearest * 2] as number;
const vy = outer[nearest * 2 + 1] as number;

Object.assign(window, {
  polygonBench: {
    vertices: edit.vertexCount,
    rings: edit.rings.length,
    zoom: scale,
    vertexScreen: screenOf(vx, vy),
    tolerance: edit.tolerance,
    traceMs,
    rasteriseMs,
    draws: () => layer.draws,
  },
});
