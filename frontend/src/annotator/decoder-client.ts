/**
 * The page's side of the decoder worker, in two lanes:
 *
 * - decodes (clicks, hover): at most one runs and at most one waits; a newer request
 *   replaces the waiting one, so hovering never queues up work and the newest prompt is
 *   always the next to run;
 * - exact decodes: each one asked for runs, in order, one at a time, and only when no
 *   decode runs or waits, so that they take from the user's clicks as little as they can
 *   (a click that comes while one runs waits for that one alone).
 */

import {
  type DecodeReply,
  type DecodeRequest,
  type DecoderSpec,
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
  /** crop detail (#16): the embedding to decode on (a crop's); absent: the current image's. */
  readonly key?: string;
}

type Resolve = (reply: DecodeReply | null) => void;

interface Queued {
  readonly key: string;
  readonly input: DecodeInput;
  readonly resolve: Resolve;
}

/** What the page tells the worker to load; see InitRequest. */
export interface DecoderInit {
  readonly wasmPaths: string;
  readonly threads: number;
  readonly decoder: DecoderSpec;
  readonly exact: DecoderSpec | null;
}

/** The part of a Worker the client uses (a fake one in tests). */
export type WorkerPort = Pick<Worker, "postMessage" | "onmessage" | "onerror">;

export class DecoderClient {
  private nextId = 1;
  private running: { id: number; resolve: Resolve } | null = null;
  private waiting: Queued | null = null;
  private exactRunning: { id: number; resolve: Resolve } | null = null;
  private readonly exactQueue: Queued[] = [];
  private embeddingKey = "";
  private known: string[] = []; // the worker's embeddings, least recently used first
  private readyPromise: Promise<WorkerTimings>;

  constructor(
    private readonly worker: WorkerPort,
    init: DecoderInit,
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

  /** A decode on the current image with the fast decoder. Resolves with the result, or
   * null when a newer request superseded this one or the decode failed. */
  decode(input: DecodeInput): Promise<DecodeReply | null> {
    return new Promise((resolve) => {
      const queued = { key: input.key ?? this.embeddingKey, input, resolve };
      if (this.running) {
        this.waiting?.resolve(null);
        this.waiting = queued;
      } else this.running = this.start(queued, false);
    });
  }

  /** A decode on ``key``'s embedding with the exact decoder, once no decode runs or
   * waits. Resolves with the result, or null when it failed. */
  exact(key: string, input: DecodeInput): Promise<DecodeReply | null> {
    return new Promise((resolve) => {
      this.exactQueue.push({ key, input, resolve });
      this.pump();
    });
  }

  private start(queued: Queued, exact: boolean): { id: number; resolve: Resolve } {
    const id = this.nextId++;
    const request: DecodeRequest = { type: "decode", id, exact, ...queued.input, key: queued.key };
    this.worker.postMessage(request);
    return { id, resolve: queued.resolve };
  }

  private pump(): void {
    if (this.running || this.waiting || this.exactRunning) return;
    const next = this.exactQueue.shift();
    if (next) this.exactRunning = this.start(next, true);
  }

  private finish(message: DecodeReply | Extract<WorkerReply, { type: "error" }>): void {
    let done: Resolve;
    if (this.running?.id === message.id) {
      done = this.running.resolve;
      this.running = null;
      const next = this.waiting;
      this.waiting = null;
      if (next) this.running = this.start(next, false);
    } else if (this.exactRunning?.id === message.id) {
      done = this.exactRunning.resolve;
      this.exactRunning = null;
    } else return;
    if (message.type === "error") {
      console.error("decode failed:", message.message);
      done(null);
    } else done(message);
    this.pump();
  }
}
