import { describe, expect, it } from "vitest";

import { boxContains, visibleWindow, wantsDetail } from "../src/annotator/crop-detail";
import {
  type CropFrame,
  cropHolds,
  frameFor,
  framePrompt,
  frameMask,
  pasteMask,
  promptInCrop,
} from "../src/annotator/crop-frame";
import { threshold, upscaleLogits } from "../src/lib/mask";
import { packPrompt } from "../src/lib/prompts";
import { ResizeTransform } from "../src/lib/transform";

const labels = { padding: -1, negative: 0, positive: 1, box_top_left: 2, box_bottom_right: 3 };
const size = { height: 4000, width: 6000 };
const crop: CropFrame = { key: "crop-url", box: [2560, 1536, 3584, 2560] };
const prompt = { points: [[3000, 2000] as const], positive: [true], box: [2600, 1600, 3100, 2100] as const };

describe("crop frame", () => {
  it("without a crop packs the prompt exactly as the whole image's path does", () => {
    const transform = new ResizeTransform(size, 1024);
    const framed = framePrompt(prompt, null, transform, size, labels);
    const packed = packPrompt(prompt, transform, labels);
    expect(framed.coords).toEqual(packed.coords);
    expect(framed.labels).toEqual(packed.labels);
    expect(framed.origSize).toEqual([4000, 6000]);
    expect(framed.key).toBeUndefined();
  });

  it("in a crop moves points and boxes to the crop's pixels and its model frame", () => {
    expect(promptInCrop(prompt, crop).points).toEqual([[440, 464]]);
    expect(promptInCrop(prompt, crop).box).toEqual([40, 64, 540, 564]);
    const framed = framePrompt(prompt, crop, new ResizeTransform(size, 1024), size, labels);
    // The crop is 1024 square: its model frame is its own pixels.
    expect(Array.from(framed.coords)).toEqual([440, 464, 40, 64, 540, 564]);
    expect(framed.origSize).toEqual([1024, 1024]);
    expect(framed.key).toBe("crop-url");
  });

  it("pastes a crop's mask at the crop's place in the whole image", () => {
    const small: CropFrame = { key: "k", box: [2, 1, 5, 3] };
    const mask = Uint8Array.from([1, 0, 1, 0, 1, 1]); // 2 rows of 3
    const whole = pasteMask(mask, small, { height: 4, width: 6 });
    expect(Array.from(whole)).toEqual([
      0, 0, 0, 0, 0, 0,
      0, 0, 1, 0, 1, 0,
      0, 0, 0, 1, 1, 0,
      0, 0, 0, 0, 0, 0,
    ]);
  });

  it("turns a crop's logits into a mask of the whole image that is empty outside the crop", () => {
    const image = { height: 600, width: 900 };
    const lowRes = new Float32Array(256 * 256).fill(5); // everything inside
    const box: CropFrame = { key: "k", box: [100, 50, 400, 250] };
    const mask = frameMask(lowRes, 256, 1024, 0, box, image);
    let inside = 0;
    for (let y = 0; y < image.height; y++) {
      for (let x = 0; x < image.width; x++) {
        const set = mask[y * image.width + x] === 1;
        const inBox = x >= 100 && x < 400 && y >= 50 && y < 250;
        if (set !== inBox) throw new Error(`pixel ${x},${y}`);
        inside += set ? 1 : 0;
      }
    }
    expect(inside).toBe(300 * 200);
    const whole = frameMask(lowRes, 256, 1024, 0, null, image);
    const expected = threshold(upscaleLogits(lowRes, 256, image, 1024), 0);
    expect(whole.length).toBe(expected.length);
    expect(whole.every((v, i) => v === expected[i])).toBe(true);
  });
});

describe("which frame a new prompt is decoded in", () => {
  const click = (x: number, y: number) => ({ points: [[x, y] as const], positive: [true], box: null });

  it("takes the crop in use when it holds every point and the box", () => {
    expect(frameFor(crop, click(3000, 2000))).toBe(crop);
    expect(frameFor(crop, prompt)).toBe(crop);
    // The box's far corner is exclusive: a box up to the crop's edge fits.
    expect(frameFor(crop, { ...prompt, box: [2560, 1536, 3584, 2560] })).toBe(crop);
  });

  it("falls back to the whole image for a point or a box outside the crop, or no crop", () => {
    expect(frameFor(null, click(3000, 2000))).toBeNull();
    expect(frameFor(crop, click(3584, 2000))).toBeNull(); // the first column past the box
    expect(frameFor(crop, click(2559.5, 2000))).toBeNull();
    const twoPoints = { points: [[3000, 2000] as const, [100, 100] as const], positive: [true, false], box: null };
    expect(frameFor(crop, twoPoints)).toBeNull();
    expect(frameFor(crop, { ...prompt, box: [2600, 1600, 3600, 2100] })).toBeNull();
  });

  it("falls back when the extent given (a proposal's box) leaves the crop", () => {
    expect(frameFor(crop, click(3000, 2000), [2900, 1900, 3200, 2200])).toBe(crop);
    expect(frameFor(crop, click(3000, 2000), [2900, 1900, 3700, 2200])).toBeNull();
    expect(frameFor(crop, click(3000, 2000), [2500, 1900, 3200, 2200])).toBeNull();
  });

  it("holds a point on its first column and row, not on the last edge", () => {
    expect(cropHolds(crop, [2560, 1536])).toBe(true);
    expect(cropHolds(crop, [3583.9, 2559.9])).toBe(true);
    expect(cropHolds(crop, [3584, 2000])).toBe(false);
    expect(cropHolds(crop, [3000, 2560])).toBe(false);
  });
});

describe("when to ask for a crop", () => {
  it("asks on a large image zoomed in under half its long side, never on a small one", () => {
    expect(wantsDetail([1000, 1000, 3000, 2000], size)).toBe(true);
    expect(wantsDetail([0, 0, 3100, 2000], size)).toBe(false);
    expect(wantsDetail([0, 0, 500, 500], { height: 1500, width: 2000 })).toBe(false);
  });

  it("reads the window on screen from the view's transform, clipped to the image", () => {
    const window = visibleWindow({ scale: 2, offsetX: -1000, offsetY: 100 }, { width: 1200, height: 800 }, size);
    expect(window).toEqual([500, 0, 1100, 350]);
    expect(boxContains([256, 0, 1280, 1024], window)).toBe(true);
    expect(boxContains([768, 0, 1792, 1024], window)).toBe(false);
  });
});
