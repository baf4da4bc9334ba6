/**
 * Packing prompts into the decoder's inputs, as `export_onnx/runtime.py` does:
 * points in the model frame, a padding point (0, 0) labelled -1 when there is no box,
 * box corners labelled 2 and 3. Label codes come from the manifest.
 */

import type { Point, ResizeTransform } from "./transform";

export interface PointLabels {
  readonly padding: number;
  readonly negative: number;
  readonly positive: number;
  readonly box_top_left: number;
  readonly box_bottom_right: number;
}

export interface Prompt {
  readonly points: readonly Point[]; // original pixels
  readonly positive: readonly boolean[]; // one per point
  readonly box: readonly [number, number, number, number] | null; // x0 y0 x1 y1
}

export interface PackedPrompt {
  readonly coords: Float32Array; // (1, n, 2)
  readonly labels: Float32Array; // (1, n)
  readonly count: number;
}

export function packPrompt(
  prompt: Prompt,
  transform: ResizeTransform,
  codes: PointLabels,
): PackedPrompt {
  if (prompt.points.length !== prompt.positive.length) {
    throw new Error(`${prompt.points.length} points but ${prompt.positive.length} labels`);
  }
  const coords: number[] = [];
  const labels: number[] = [];
  prompt.points.forEach((point, i) => {
    coords.push(...transform.toModel(point));
    labels.push(prompt.positive[i] ? codes.positive : codes.negative);
  });
  if (prompt.box) {
    const [x0, y0, x1, y1] = prompt.box;
    coords.push(...transform.toModel([x0, y0]), ...transform.toModel([x1, y1]));
    labels.push(codes.box_top_left, codes.box_bottom_right);
  } else {
    coords.push(0, 0);
    labels.push(codes.padding);
  }
  return { coords: Float32Array.from(coords), labels: Float32Array.from(labels), count: labels.length };
}
