/**
 * Crop detail (#16): the crop's box outlined on the stage, so that the user sees where
 * full detail applies. While a crop is being encoded or downloaded, and while it is in
 * use, its box is drawn as a thin dashed rectangle (one screen pixel, black dashes on
 * white, so that it shows on any picture); nothing is drawn while the whole image is
 * used. The box is kept in image pixels and placed on the screen under the view's
 * transform at every draw, so it follows zoom and pan; its edges are snapped to whole
 * canvas pixels, so the line stays crisp at every zoom.
 *
 * Boxes are [x0, y0, x1, y1] in image pixels (columns [x0, x1), rows [y0, y1)).
 */

export type CropBox = readonly [number, number, number, number];

/** The view's transform: canvas pixel = image pixel × scale + offset. */
export interface ScreenTransform {
  readonly scale: number;
  readonly offsetX: number;
  readonly offsetY: number;
}

/** Dash and gap lengths, screen pixels. */
export const OUTLINE_DASH_PX = 6;

/** The detail states (crop-detail.ts's ``data-detail``) in which the crop is outlined. */
const OUTLINED: ReadonlySet<string> = new Set(["encoding", "loading", "crop"]);

/** The box to outline in detail state ``state`` for crop ``box``; null: none. */
export function outlinedBox(state: string, box: CropBox | null): CropBox | null {
  return box && OUTLINED.has(state) ? box : null;
}

/** The canvas pixels the outline of ``box`` takes under ``transform``: the first and
 * last column and row inside the box's edges, [left, top, right, bottom] (inclusive). */
export function outlineOnScreen(box: CropBox, transform: ScreenTransform): CropBox {
  const { scale, offsetX, offsetY } = transform;
  const left = Math.round(box[0] * scale + offsetX);
  const top = Math.round(box[1] * scale + offsetY);
  // At least one pixel wide and high, however far out the view is zoomed.
  const right = Math.max(left, Math.round(box[2] * scale + offsetX) - 1);
  const bottom = Math.max(top, Math.round(box[3] * scale + offsetY) - 1);
  return [left, top, right, bottom];
}

/** The part of a 2D context the outline uses (a canvas's or an offscreen canvas's). */
export type OutlineContext = Pick<
  CanvasRenderingContext2D,
  "save" | "restore" | "setTransform" | "setLineDash" | "strokeRect" | "lineWidth" | "strokeStyle" | "lineDashOffset"
>;

/** Draws the outline of ``box`` (image pixels) on ``ctx`` under ``transform``; the
 * context's own transform and line settings are left as they were. */
export function drawCropOutline(ctx: OutlineContext, box: CropBox, transform: ScreenTransform): void {
  const [left, top, right, bottom] = outlineOnScreen(box, transform);
  ctx.save();
  ctx.setTransform(1, 0, 0, 1, 0, 0);
  ctx.lineWidth = 1;
  // Half-pixel coordinates: a one-pixel line covers exactly the columns and rows given.
  const rect = [left + 0.5, top + 0.5, right - left, bottom - top] as const;
  ctx.setLineDash([]);
  ctx.strokeStyle = "#fff";
  ctx.strokeRect(...rect);
  ctx.setLineDash([OUTLINE_DASH_PX, OUTLINE_DASH_PX]);
  ctx.lineDashOffset = 0;
  ctx.strokeStyle = "#000";
  ctx.strokeRect(...rect);
  ctx.restore();
}
