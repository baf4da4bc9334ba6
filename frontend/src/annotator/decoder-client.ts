/**
 * The page's side of the decoder worker. At most one decode runs at a time and at
 * most one waits: a newer request replaces the waiting one, so hovering never queues
 * up work and the newest prompt is always the next to run.
 */

import {
  type DecodeReply,
  type DecodeRequest,
  type EmbeddingRequest,
  KEPT_EMBEDDINGS,
  type WorkerReply,
  type WorkerTimings,
} from "./protocol";

export interface DecodeInput {
  readonly coords: Float32Array;
  readonly labels: Float32Array;
  readonly maskInput: Float32Array | null;
  readonly origSize: readonly [number, number];
}

interface Waiting {
  readonly input: DecodeInput;
  readonly resolve: (reply: DecodeReply | null) => void;
}

export class DecoderClient {
  private nextId = 1;
  private running: { id: number; resolve: (reply: DecodeReply | null) => void } | null = null;
  private waiting: Waiting | null = null;
  private embeddingKey = "";
  private known: string[] = []; // the worker's embeddings, least recently used first
  private readyPromise: Promise<WorkerTimings>;

  constructor(
    private readonly worker: Worker,
    init: {
      decoderUrl: string;
      decoderSha256: string;
      wasmPaths: string;
      threads: number;
      inputNames: readonly string[];
      imageStage: { url: string; sha256: string } | null;
      graphOptimization: "disabled" | "basic" | "extended" | "all";
    },
  ) {
    this.readyPromise = new Promise((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<WorkerReply>) => {
        const message = event.data;
        if (message.type === "ready") resolve(message.timings);
        else if (message.type === "error" && message.id === null) reject(new Error(message.message));
        else this.finish(message);
      };
      worker.onerror = (event) =>
        reject(new Error(event.message || `the decoder worker could not start (${event.filename || "unknown script"})`));
    });
    worker.postMessage({ type: "init", ...init });
  }

  ready(): Promise<WorkerTimings> {
    return this.readyPromise;
  }

  /** Makes ``key`` the current image; ``data`` may be null when it was preloaded. */
  setEmbedding(key: string, data: Float32Array | null): void {
    if (!data && !this.has(key)) throw new Error(`no embedding ${key} in the decoder worker`);
    this.embeddingKey = key;
    this.waiting?.resolve(null);
    this.waiting = null;
    this.remember(key);
    this.send(key, data);
  }

  /** Hands the worker a prefetched image's embedding, so that switching to that image
   * later (``setEmbedding(key, null)``) costs no transfer and no preparation. */
  preload(key: string, data: Float32Array): void {
    this.remember(key);
    this.send(key, data);
  }

  /** Copied, not transferred: the page's EmbeddingLoader may hand the same array to
   * ``preload`` and ``setEmbedding``. */
  private send(key: string, data: Float32Array | null): void {
    const message: EmbeddingRequest = { type: "embedding", key, data };
    this.worker.postMessage(message);
  }

  /** Whether the worker holds ``key`` (it keeps the last KEPT_EMBEDDINGS). */
  has(key: string): boolean {
    return this.known.includes(key);
  }

  private remember(key: string): void {
    this.known = [...this.known.filter((k) => k !== key), key].slice(-KEPT_EMBEDDINGS);
  }

  /** Resolves with the result, or null when a newer request superseded this one. */
  decode(input: DecodeInput): Promise<DecodeReply | null> {
    return new Promise((resolve) => {
      if (this.running) {
        this.waiting?.resolve(null);
        this.waiting = { input, resolve };
      } else this.start(input, resolve);
    });
  }

  private start(input: DecodeInput, resolve: (reply: DecodeReply | null) => void): void {
    const id = this.nextId++;
    this.running = { id, resolve };
    const request: DecodeRequest = { type: "decode", id, key: this.embeddingKey, ...input };
    this.worker.postMessage(request);
  }

  private finish(message: DecodeReply | Extract<WorkerReply, { type: "error" }>): void {
    const running = this.running;
    if (!running || message.id !== running.id) return;
    this.running = null;
    if (message.type === "error") {
      console.error("decode failed:", message.message);
      running.resolve(null);
    } else running.resolve(message);
    const next = this.waiting;
    this.waiting = null;
    if (next) this.start(next.input, next.resolve);
  }
}
