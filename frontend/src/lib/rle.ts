/**
 * COCO run-length encoding, the same as `webapp/annotations/rle.py` and pycocotools:
 * runs over the mask in column-major order, starting with a run of zeros, written as
 * COCO's compressed string (6 bits a character, offset 48, each run after the second
 * stored as the difference to the run two before).
 */

export interface Rle {
  readonly size: readonly [number, number]; // [height, width]
  readonly counts: string;
}

/** mask: row-major (H × W), nonzero = inside. */
export function encodeRle(mask: Uint8Array, height: number, width: number): Rle {
  if (mask.length !== height * width) throw new Error("mask size does not match");
  const runs: number[] = [];
  let current = 0;
  let length = 0;
  for (let x = 0; x < width; x++) {
    for (let y = 0; y < height; y++) {
      const value = mask[y * width + x] ? 1 : 0;
      if (value !== current) {
        runs.push(length);
        current = value;
        length = 0;
      }
      length++;
    }
  }
  runs.push(length);
  return { size: [height, width], counts: compressCounts(runs) };
}

export function compressCounts(runs: readonly number[]): string {
  let out = "";
  runs.forEach((run, i) => {
    let x = i > 2 ? run - (runs[i - 2] as number) : run;
    let more = true;
    while (more) {
      let c = x & 0x1f;
      x >>= 5;
      more = c & 0x10 ? x !== -1 : x !== 0;
      if (more) c |= 0x20;
      out += String.fromCharCode(c + 48);
    }
  });
  return out;
}

export function decompressCounts(counts: string): number[] {
  const runs: number[] = [];
  let p = 0;
  while (p < counts.length) {
    let x = 0;
    let k = 0;
    let more = true;
    while (more) {
      if (p >= counts.length) throw new Error("RLE counts end in the middle of a number");
      const c = counts.charCodeAt(p) - 48;
      x |= (c & 0x1f) << (5 * k);
      more = (c & 0x20) !== 0;
      p++;
      k++;
      if (k > 6) throw new Error("RLE count too large");
      if (!more && c & 0x10) x |= -1 << (5 * k);
    }
    if (runs.length > 2) x += runs[runs.length - 2] as number;
    runs.push(x);
  }
  return runs;
}

/** Rle -> row-major (H × W) 0/1 mask. */
export function decodeRle(rle: Rle): Uint8Array {
  const [height, width] = rle.size;
  const mask = new Uint8Array(height * width);
  let index = 0;
  let value = 0;
  for (const run of decompressCounts(rle.counts)) {
    if (run < 0 || index + run > height * width) throw new Error("RLE counts do not fit the size");
    for (let j = 0; j < run; j++, index++) {
      if (value) {
        const x = Math.floor(index / height);
        const y = index % height;
        mask[y * width + x] = 1;
      }
    }
    value = 1 - value;
  }
  if (index !== height * width) throw new Error("RLE counts do not cover the image");
  return mask;
}
