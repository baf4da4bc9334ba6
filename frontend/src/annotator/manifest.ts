/**
 * The decoder manifest (written by the ONNX build) and the decoders the page runs: the
 * manifest's browser decoder for clicks and its exact decoder to refine them, unless the
 * page's query asks for others (``?decoder=NAME&threads=N&refine=0``, for benchmarks).
 */

import type { PointLabels } from "../lib/prompts";
import type { DecoderInit } from "./decoder-client";
import type { DecoderSpec } from "./protocol";
import type { ModelFrame } from "./session";

interface DecoderFile {
  readonly file: string;
  readonly sha256: string;
  readonly inputs: readonly { name: string }[];
}

/** A decoder of the manifest; a split one has a graph to run once per image. */
interface DecoderEntry extends DecoderFile {
  readonly image_stage?: DecoderFile;
  readonly graph_optimization?: "disabled" | "basic" | "extended" | "all";
  readonly upsampled?: boolean;
}

export interface Manifest {
  readonly image_size: number;
  readonly exact_decoder?: string;
  readonly low_res_mask_size: number;
  readonly mask_threshold: number;
  readonly point_labels: PointLabels;
  readonly browser_decoder: string;
  readonly decoders: Record<string, DecoderEntry>;
}

export function modelFrame(manifest: Manifest): ModelFrame {
  return {
    imageSize: manifest.image_size,
    lowResMaskSize: manifest.low_res_mask_size,
    maskThreshold: manifest.mask_threshold,
    pointLabels: manifest.point_labels,
  };
}

/** What the worker loads, and how the page uses it. */
export interface DecoderChoice {
  readonly init: DecoderInit;
  /** Clicks are decoded again with the exact decoder. */
  readonly refining: boolean;
  /** The click decoder is itself the exact one. */
  readonly fastIsExact: boolean;
}

export function chooseDecoders(
  manifest: Manifest,
  query: URLSearchParams,
  baseUrl: string,
  wasmPaths: string,
  crossOriginIsolated: boolean,
  cores: number,
): DecoderChoice {
  const decoderName = query.get("decoder") ?? manifest.browser_decoder;
  const decoder = manifest.decoders[decoderName];
  if (!decoder) throw new Error(`the manifest has no decoder ${decoderName}`);
  const threads = Number(query.get("threads")) || (crossOriginIsolated ? Math.min(2, cores || 1) : 1);
  const exactName = query.get("refine") === "0" ? undefined : manifest.exact_decoder;
  const exact = exactName !== undefined && exactName !== decoderName ? manifest.decoders[exactName] : undefined;
  const refining = exact !== undefined && !decoder.upsampled;
  const spec = (entry: DecoderEntry): DecoderSpec => ({
    url: baseUrl + entry.file,
    sha256: entry.sha256,
    inputNames: entry.inputs.map((i) => i.name),
    imageStage: entry.image_stage ? { url: baseUrl + entry.image_stage.file, sha256: entry.image_stage.sha256 } : null,
    graphOptimization: entry.graph_optimization ?? "all",
  });
  return {
    init: { wasmPaths, threads, decoder: spec(decoder), exact: refining && exact ? spec(exact) : null },
    refining,
    fastIsExact: decoderName === manifest.exact_decoder,
  };
}
