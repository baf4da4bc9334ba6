import { afterAll, beforeAll, describe, expect, it } from "vitest";

import { EditLayer, TILE } from "../src/annotator/edit-layer";

/** A stand-in for the browser's OffscreenCanvas: its pixels, written by putImageData. */
class FakeCanvas {
  readonly data: Uint8ClampedArray;
  puts = 0;

  constructor(
    readonly width: number,
    readonly height: number,
  ) {
    this.data = new Uint8ClampedArray(4 * width * height);
  }

  getContext(): unknown {
    return {
      createImageData: (width: number, height: number) => ({ width, height, data: new Uint8ClampedArray(4 * width * height) }),
      putImageData: (image: { width: number; height: number; data: Uint8ClampedArray }, dx: number, dy: number) => {
        this.puts++;
        for (let y = 0; y < image.height; y++) {
          const from = 4 * y * image.width;
          this.data.set(image.data.subarray(from, from + 4 * image.width), 4 * ((dy + y) * this.width + dx));
        }
      },
    };
  }
}

const saved = (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas;
beforeAll(() => {
  (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas = FakeCanvas;
});
afterAll(() => {
  (globalThis as { OffscreenCanvas?: unknown }).OffscreenCanvas = saved;
});

/** The layer's tiles put together: 1 where a pixel is painted opaque in ``rgb``. */
function shown(layer: EditLayer, width: number, height: number, rgb: number[]): Uint8Array {
  const out = new Uint8Array(width * height);
  let wrong = 0; // pixels neither transparent nor opaque in the colour
  for (const tile of layer.tiles()) {
    const canvas = tile.canvas as unknown as FakeCanvas;
    for (let y = 0; y < canvas.height; y++) {
      for (let x = 0; x < canvas.width; x++) {
        const i = 4 * (y * canvas.width + x);
        const [r, g, b, alpha] = canvas.data.subarray(i, i + 4);
        if (alpha === 255 && r === rgb[0] && g === rgb[1] && b === rgb[2]) out[(tile.y + y) * width + tile.x + x] = 1;
        else if (alpha !== 0) wrong++;
      }
    }
  }
  expect(wrong).toBe(0);
  return out;
}

const differing = (a: Uint8Array, b: Uint8Array) => a.reduce((count, v, i) => count + (v === b[i] ? 0 : 1), 0);

describe("EditLayer", () => {
  const size = { width: TILE * 2 + 37, height: TILE + 5 };
  const n = size.width * size.height;

  it("paints the mask's box in tiles, only the tiles the box crosses", () => {
    const mask = new Uint8Array(n);
    for (let y = 10; y < 20; y++) for (let x = 500; x < 530; x++) mask[y * size.width + x] = 1;
    const layer = new EditLayer(mask, size, "#10a0ff", { x: 500, y: 10, width: 30, height: 10 });
    expect([...layer.tiles()].map((t) => [t.x, t.y])).toEqual([
      [0, 0],
      [TILE, 0],
    ]);
    expect(differing(shown(layer, size.width, size.height, [0x10, 0xa0, 0xff]), mask)).toBe(0);
  });

  it("follows changes box by box, edge tiles cut to the image, erased pixels cleared", () => {
    const mask = new Uint8Array(n);
    const layer = new EditLayer(mask, size, "#000000", null);
    expect([...layer.tiles()]).toEqual([]);
    const set = (x0: number, y0: number, x1: number, y1: number, v: number) => {
      for (let y = y0; y < y1; y++) for (let x = x0; x < x1; x++) mask[y * size.width + x] = v;
      layer.update(mask, { x: x0, y: y0, width: x1 - x0, height: y1 - y0 });
    };
    set(0, 0, size.width, size.height, 1);
    set(TILE - 3, TILE - 3, TILE + 40, size.height, 0);
    set(size.width - 2, 0, size.width, 1, 0);
    expect(differing(shown(layer, size.width, size.height, [0, 0, 0]), mask)).toBe(0);
    const edge = [...layer.tiles()].find((t) => t.x === 2 * TILE && t.y === TILE);
    expect([edge?.canvas.width, edge?.canvas.height]).toEqual([37, 5]);
  });
});
