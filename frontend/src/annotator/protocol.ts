/** Messages between the page and the decoder worker. */

/** How many images' embeddings the worker keeps: the current one and prefetched ones. */
export const KEPT_EMBEDDINGS = 4;

/** A decoder of the manifest, as the worker loads it. */
export interface DecoderSpec {
  readonly url: string;
  readonly sha256: string;
  /** The decoder's inputs in SAM's order: image_embeddings (or, for a split decoder, the
   * image stage's outputs), point_coords, point_labels, mask_input, has_mask_input,
   * and orig_im_size for decoders that upsample. */
  readonly inputNames: readonly string[];
  /** A split decoder's graph to run once per image, on the embedding. */
  readonly imageStage: { readonly url: string; readonly sha256: string } | null;
  /** onnxruntime's graphOptimizationLevel: "basic" for files optimized at build time. */
  readonly graphOptimization: "disabled" | "basic" | "extended" | "all";
}

export interface InitRequest {
  readonly type: "init";
  readonly wasmPaths: string;
  readonly threads: number;
  /** The decoder every click runs. */
  readonly decoder: DecoderSpec;
  /** The decoder whose masks equal PyTorch's, for ``exact`` decodes: downloaded after
   * the worker is ready, started on the first exact decode, and run on an image's
   * embedding only once that image has one. Null: there are no exact decodes. */
  readonly exact: DecoderSpec | null;
}

export interface EmbeddingRequest {
  readonly type: "embedding";
  readonly key: string;
  readonly data: Float32Array | null; // (1, 256, 64, 64); null: the worker already has it
}

export interface DecodeRequest {
  readonly type: "decode";
  readonly id: number;
  readonly key: string; // which embedding
  readonly exact: boolean; // the exact decoder rather than the fast one
  readonly coords: Float32Array; // (1, n, 2) model frame
  readonly labels: Float32Array; // (1, n)
  readonly maskInput: Float32Array | null; // (1, 1, 256, 256) low-res logits
  readonly origSize: readonly [number, number]; // height, width: for decoders that upsample
}

export type WorkerRequest = InitRequest | EmbeddingRequest | DecodeRequest;

export interface ReadyReply {
  readonly type: "ready";
  /** Where the start went, in ms: the first session (with a split decoder the image
   * stage's, which includes starting onnxruntime's wasm), the decoder's session, and the
   * warm-up runs. */
  readonly timings: WorkerTimings;
}

export interface WorkerTimings {
  readonly firstSessionMs: number;
  readonly decoderSessionMs: number;
  readonly warmUpMs: number;
}

export interface DecodeReply {
  readonly type: "result";
  readonly id: number;
  readonly iou: Float32Array; // (4,): token 0 single mask, 1-3 candidates
  readonly lowRes: Float32Array; // (4, 256, 256) logits
  /** Time spent in the worker: session.run, and for an exact decode also what it waited
   * for first (starting the exact session, running its image stage). */
  readonly ms: number;
}

export interface ErrorReply {
  readonly type: "error";
  readonly id: number | null;
  readonly message: string;
}

export type WorkerReply = ReadyReply | DecodeReply | ErrorReply;
