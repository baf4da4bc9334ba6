import { describe, expect, it } from "vitest";

import {
  OUTLINE_DASH_PX,
  type OutlineContext,
  drawCropOutline,
  outlineOnScreen,
  outlinedBox,
} from "../src/annotator/crop-outline";

const box = [1024, 512, 2048, 1536] as const;

describe("the crop's outline", () => {
  it("is drawn while a crop is encoded, loaded or in use, never for the whole image", () => {
    expect(outlinedBox("encoding", box)).toBe(box);
    expect(outlinedBox("loading", box)).toBe(box);
    expect(outlinedBox("crop", box)).toBe(box);
    for (const state of ["", "whole", "failed"]) expect(outlinedBox(state, box)).toBeNull();
    expect(outlinedBox("encoding", null)).toBeNull(); // the server has not answered yet
  });

  it("follows the view's zoom and pan, on whole canvas pixels inside the box's edges", () => {
    expect(outlineOnScreen(box, { scale: 1, offsetX: 0, offsetY: 0 })).toEqual([1024, 512, 2047, 1535]);
    // screen = image × 0.25 + offset: the edges at 206, 78 and 462, 334.
    expect(outlineOnScreen(box, { scale: 0.25, offsetX: -50, offsetY: -50 })).toEqual([206, 78, 461, 333]);
    expect(outlineOnScreen(box, { scale: 0.3, offsetX: 10.4, offsetY: 0 })).toEqual([318, 154, 624, 460]);
    // Zoomed far out, it is still one pixel.
    expect(outlineOnScreen([0, 0, 1, 1], { scale: 0.01, offsetX: 3, offsetY: 4 })).toEqual([3, 4, 3, 4]);
  });

  it("strokes a one-pixel rectangle white, then dashed black, in screen pixels, and restores the context", () => {
    const calls: string[] = [];
    const ctx: { lineWidth: number; strokeStyle: string; lineDashOffset: number; [call: string]: unknown } = {
      lineWidth: 3,
      strokeStyle: "#123456",
      lineDashOffset: 0,
      save: () => calls.push("save"),
      restore: () => calls.push("restore"),
      setTransform: (...m: number[]) => calls.push(`transform ${m.join(" ")}`),
      setLineDash: (dash: number[]) => calls.push(`dash ${dash.join(" ")}`),
      strokeRect: (x: number, y: number, w: number, h: number) =>
        calls.push(`rect ${x} ${y} ${w} ${h} ${ctx.strokeStyle} ${ctx.lineWidth}`),
    };
    drawCropOutline(ctx as unknown as OutlineContext, box, { scale: 0.25, offsetX: -50, offsetY: -50 });
    expect(calls).toEqual([
      "save",
      "transform 1 0 0 1 0 0",
      "dash ",
      "rect 206.5 78.5 255 255 #fff 1",
      `dash ${OUTLINE_DASH_PX} ${OUTLINE_DASH_PX}`,
      "rect 206.5 78.5 255 255 #000 1",
      "restore",
    ]);
  });
});
