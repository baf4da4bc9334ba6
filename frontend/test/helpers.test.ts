import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";

import { float16ToFloat32 } from "../src/lib/float16";
import { maskBounds, resizeBilinear, threshold, upscaleLogits } from "../src/lib/mask";
import { packPrompt } from "../src/lib/prompts";
import { decodeRle, decompressCounts, encodeRle } from "../src/lib/rle";
import { ResizeTransform } from "../src/lib/transform";

/** Numbers made by the Python side (scripts/frontend_vectors.py). */
interface Vectors {
  image_size: number;
  transforms: { size: [number, number]; resized: [number, number]; points: [number, number][]; model: [number, number][] }[];
  prompts: {
    size: [number, number];
    points: [number, number][];
    positive: boolean[];
    box: [number, number, number, number] | null;
    coords: number[];
    labels: number[];
  }[];
  upscales: { size: [number, number]; mask_counts: string; logits_sample: number[] }[];
  rles: { size: [number, number]; kind: string; counts: string; area: number }[];
}

const vectors = JSON.parse(
  readFileSync(new URL("./vectors.json", import.meta.url), "utf8"),
) as Vectors;
const codes = { padding: -1, negative: 0, positive: 1, box_top_left: 2, box_bottom_right: 3 };

function syntheticLogits(): Float32Array {
  const out = new Float32Array(256 * 256);
  for (let i = 0; i < out.length; i++) out[i] = Math.fround((((i * 7919) % 1001) - 500) / 100);
  return out;
}

function syntheticMask(h: number, w: number, kind: string): Uint8Array {
  const m = new Uint8Array(h * w);
  for (let y = 0; y < h; y++) {
    for (let x = 0; x < w; x++) {
      const i = y * w + x;
      let v = false;
      if (kind === "full") v = true;
      else if (kind === "hashed") v = ((i * 2654435761) % 4294967296) % 10 > 5;
      else if (kind === "blob") {
        v = (y - 30) ** 2 + (x - 20) ** 2 < 200 && !(y >= 28 && y < 32 && x >= 18 && x < 22);
      }
      m[i] = v ? 1 : 0;
    }
  }
  return m;
}

describe("coordinate transform", () => {
  it.each(vectors.transforms)("maps $size like the Python side", (v) => {
    const t = new ResizeTransform({ height: v.size[0], width: v.size[1] }, vectors.image_size);
    expect([t.resized.height, t.resized.width]).toEqual(v.resized);
    v.points.forEach((p, i) => {
      const [mx, my] = t.toModel(p);
      const want = v.model[i] as [number, number];
      expect(mx).toBeCloseTo(want[0], 3);
      expect(my).toBeCloseTo(want[1], 3);
      const [ox, oy] = t.toOriginal([mx, my]);
      expect(ox).toBeCloseTo(p[0], 6);
      expect(oy).toBeCloseTo(p[1], 6);
    });
  });
});

describe("prompt packing", () => {
  it.each(vectors.prompts)("packs points and box like the Python side", (v) => {
    const t = new ResizeTransform({ height: v.size[0], width: v.size[1] }, vectors.image_size);
    const packed = packPrompt({ points: v.points, positive: v.positive, box: v.box }, t, codes);
    expect(Array.from(packed.labels)).toEqual(v.labels);
    expect(packed.count).toBe(v.labels.length);
    Array.from(packed.coords).forEach((c, i) => expect(c).toBeCloseTo(v.coords[i] as number, 3));
  });

  it("refuses points without a label each", () => {
    const t = new ResizeTransform({ height: 10, width: 10 }, 1024);
    expect(() => packPrompt({ points: [[1, 1]], positive: [], box: null }, t, codes)).toThrow();
  });
});

describe("mask upscaling", () => {
  it.each(vectors.upscales)("gives the reference mask at $size", (v) => {
    const size = { height: v.size[0], width: v.size[1] };
    const logits = upscaleLogits(syntheticLogits(), 256, size, vectors.image_size);
    v.logits_sample.forEach((want, i) => {
      const y = i % size.height;
      const x = (i * 7) % size.width;
      expect(logits[y * size.width + x]).toBeCloseTo(want, 4);
    });
    // float64 arithmetic here vs float32 in PyTorch: only pixels whose logit is within
    // rounding of the threshold may differ.
    const mask = threshold(logits, 0);
    const want = decodeRle({ size: v.size, counts: v.mask_counts });
    let differing = 0;
    for (let i = 0; i < mask.length; i++) {
      if (mask[i] !== want[i]) {
        differing++;
        expect(Math.abs(logits[i] as number)).toBeLessThan(1e-4);
      }
    }
    expect(differing).toBeLessThanOrEqual(mask.length * 1e-3);
  });
});

describe("bilinear resize with a crop", () => {
  // Small sizes with SAM's ratios (256 -> 1024, crops of 683 and 600): comparing
  // million-element arrays took seconds on a busy machine, and the arithmetic is the same.
  it("computes exactly the top-left corner of the full resize", () => {
    const src = syntheticLogits().subarray(0, 32 * 32);
    const full = resizeBilinear(src, 32, 32, 128, 128);
    const crop = resizeBilinear(src, 32, 32, 128, 128, 85, 128);
    expect(crop.length).toBe(85 * 128);
    expect(crop).toEqual(full.subarray(0, 85 * 128));
    const narrow = resizeBilinear(src, 32, 32, 128, 128, 128, 75);
    for (const y of [0, 1, 63, 127]) {
      expect(narrow.subarray(y * 75, (y + 1) * 75)).toEqual(full.subarray(y * 128, y * 128 + 75));
    }
  });

  it("gives the same values in scratch memory, whatever size came before", () => {
    const src = syntheticLogits().subarray(0, 32 * 32);
    const big = resizeBilinear(src, 32, 32, 128, 128, 128, 128, true);
    expect(big).toEqual(resizeBilinear(src, 32, 32, 128, 128));
    const small = resizeBilinear(src, 32, 32, 128, 128, 37, 57, true);
    expect(small.length).toBe(37 * 57);
    expect(small).toEqual(resizeBilinear(src, 32, 32, 128, 128, 37, 57));
    // Scratch memory is shared: the earlier result now holds the later one's values.
    expect(big.buffer).toBe(small.buffer);
  });
});

describe("COCO RLE", () => {
  it.each(vectors.rles)("encodes a $kind $size mask as pycocotools does", (v) => {
    const [h, w] = v.size;
    const mask = syntheticMask(h, w, v.kind);
    expect(encodeRle(mask, h, w).counts).toBe(v.counts);
    const back = decodeRle({ size: [h, w], counts: v.counts });
    expect(back).toEqual(mask);
    expect(back.reduce((a, b) => a + b, 0)).toBe(v.area);
  });

  it("refuses counts that do not cover the image", () => {
    expect(() => decodeRle({ size: [4, 4], counts: "0" })).toThrow();
    expect(() => decodeRle({ size: [2, 2], counts: "9" })).toThrow(/fit/);
  });

  it("round-trips large runs", () => {
    const runs = decompressCounts(encodeRle(new Uint8Array(3000 * 4000).fill(1), 3000, 4000).counts);
    expect(runs).toEqual([0, 12_000_000]);
  });
});

describe("float16", () => {
  it("decodes normal, subnormal and special values", () => {
    const bits = Uint16Array.from([0x3c00, 0xc000, 0x0001, 0x7bff, 0x7c00, 0x0000, 0x3555]);
    const out = float16ToFloat32(bits);
    expect(Array.from(out.slice(0, 6))).toEqual([1, -2, 2 ** -24, 65504, Infinity, 0]);
    expect(out[6]).toBeCloseTo(0.33325, 5);
    expect(Number.isNaN(float16ToFloat32(Uint16Array.from([0x7e00]))[0])).toBe(true);
  });
});

describe("maskBounds", () => {
  it("gives the smallest rectangle around the set pixels", () => {
    // 4 rows x 5 columns; set: (row 1, col 3), (row 2, col 1), (row 2, col 2)
    const mask = Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 1, 1, 0, 0, 0, 0, 0, 0, 0]);
    expect(maskBounds(mask, { height: 4, width: 5 })).toEqual({ x: 1, y: 1, width: 3, height: 2 });
  });

  it("covers the whole mask when the corners are set, and is null when nothing is", () => {
    const full = Uint8Array.from([1, 0, 0, 0, 0, 1]);
    expect(maskBounds(full, { height: 2, width: 3 })).toEqual({ x: 0, y: 0, width: 3, height: 2 });
    expect(maskBounds(new Uint8Array(6), { height: 2, width: 3 })).toBeNull();
  });
});
