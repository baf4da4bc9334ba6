import { describe, expect, it } from "vitest";

import { maskOutline } from "../src/lib/outline";

/** Segments as sorted strings, so that tests do not depend on their order. */
function lines(segments: number[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < segments.length; i += 4) out.push(segments.slice(i, i + 4).join(","));
  return out.sort();
}

describe("mask outline", () => {
  it("outlines a rectangle with four merged segments", () => {
    // 5 x 4 mask with a 3 x 2 block at x 1-3, y 1-2.
    const mask = Uint8Array.from([
      0, 0, 0, 0, 0,
      0, 1, 1, 1, 0,
      0, 1, 1, 1, 0,
      0, 0, 0, 0, 0,
    ]);
    expect(lines(maskOutline(mask, 5, 4))).toEqual(["1,1,1,3", "1,1,4,1", "1,3,4,3", "4,1,4,3"]);
  });

  it("closes shapes that touch the mask's border and outlines holes", () => {
    const mask = Uint8Array.from([
      1, 1, 1,
      1, 0, 1,
      1, 1, 1,
    ]);
    expect(lines(maskOutline(mask, 3, 3))).toEqual([
      "0,0,0,3", "0,0,3,0", "0,3,3,3", "1,1,1,2", "1,1,2,1", "1,2,2,2", "2,1,2,2", "3,0,3,3",
    ]);
  });

  it("reads a sub-rectangle through the stride, and nothing for an empty mask", () => {
    // The right column of this 3 x 2 array is outside the 2 x 2 mask read.
    const cells = Uint32Array.from([0, 7, 9, 0, 7, 9]);
    expect(lines(maskOutline(cells, 2, 2, 3))).toEqual(["1,0,1,2", "1,0,2,0", "1,2,2,2", "2,0,2,2"]);
    expect(maskOutline(new Uint8Array(6), 3, 2)).toEqual([]);
  });

  it("gives the same edges as a pixel-by-pixel walk, on random masks", () => {
    let seed = 12345;
    const random = (): number => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed / 2147483648;
    };
    for (let trial = 0; trial < 200; trial++) {
      const width = 1 + Math.floor(random() * 12);
      const height = 1 + Math.floor(random() * 12);
      const stride = width + Math.floor(random() * 3);
      const density = random();
      const cells = Uint8Array.from({ length: stride * height }, () => (random() < density ? 1 : 0));
      expect(lines(maskOutline(cells, width, height, stride))).toEqual(
        lines(pixelWalk(cells, width, height, stride)),
      );
    }
  });
});

/** The reference: every unit edge between a set and an unset pixel (the outside unset),
 * found pixel by pixel, with neighbouring edges on one line merged. */
function pixelWalk(cells: Uint8Array, width: number, height: number, stride: number): number[] {
  const at = (x: number, y: number): boolean =>
    x >= 0 && y >= 0 && x < width && y < height && cells[y * stride + x] !== 0;
  const segments: number[] = [];
  for (let y = 0; y <= height; y++) {
    let start = -1;
    for (let x = 0; x <= width; x++) {
      const edge = x < width && at(x, y) !== at(x, y - 1);
      if (edge && start < 0) start = x;
      if (!edge && start >= 0) {
        segments.push(start, y, x, y);
        start = -1;
      }
    }
  }
  for (let x = 0; x <= width; x++) {
    let start = -1;
    for (let y = 0; y <= height; y++) {
      const edge = y < height && at(x, y) !== at(x - 1, y);
      if (edge && start < 0) start = y;
      if (!edge && start >= 0) {
        segments.push(x, start, x, y);
        start = -1;
      }
    }
  }
  return segments;
}
