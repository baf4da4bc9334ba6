/**
 * The decoders in a Web Worker, so that the page never freezes: onnxruntime-web (wasm)
 * runs the project's decoder on the current image's embedding.
 *
 * Two decoders may live here: the fast one every click runs, and the exact one (its
 * masks equal PyTorch's), which the page asks for when the user is idle and before it
 * saves. The exact one's file downloads once the worker is ready, its session starts on
 * the first exact decode, and its image stage runs for an image only when that image
 * gets an exact decode: prefetched images cost it nothing.
 *
 * A split decoder (see export_onnx/split_decoder.py) has a second, small graph that
 * runs once per image: its outputs replace the embedding as the per-click graph's
 * image inputs. The fast decoder's runs when the embedding arrives, which for a
 * prefetched image is before the user gets there.
 */

import * as ort from "onnxruntime-web/wasm";

import { fetchImmutable } from "./cache";
import {
  type DecodeRequest,
  type DecoderSpec,
  type InitRequest,
  KEPT_EMBEDDINGS,
  type WorkerReply,
  type WorkerRequest,
} from "./protocol";

type Feeds = Record<string, ort.Tensor>;

const EMBEDDING_SHAPE = [1, 256, 64, 64];
const noMask = new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]);

/** One decoder's sessions, and its per-image inputs for the embeddings kept. Its runs
 * must be made inside ``exclusive``. */
class Decoder {
  private readonly images = new Map<string, Promise<Feeds>>();

  constructor(
    private readonly session: ort.InferenceSession,
    private readonly imageStage: ort.InferenceSession | null,
    private readonly inputNames: readonly string[],
  ) {}

  /** The per-image inputs for ``key``: the embedding (1, 256, 64, 64) itself, or the
   * image stage's outputs, computed the first time. */
  imageFeeds(key: string, data: Float32Array): Promise<Feeds> {
    let feeds = this.images.get(key);
    if (!feeds) {
      const embedding = new ort.Tensor("float32", data, EMBEDDING_SHAPE);
      const stage = this.imageStage;
      feeds = stage
        ? stage.run({ [stage.inputNames[0] as string]: embedding })
        : Promise.resolve({ [this.inputNames[0] as string]: embedding });
      this.images.set(key, feeds);
      feeds.catch(() => this.images.delete(key)); // reported by the decode that needs it
    }
    return feeds;
  }

  forget(key: string): void {
    this.images.delete(key);
  }

  /** One decode: ``iou_predictions`` (4,) and ``low_res_masks`` (4, 256, 256). */
  async run(image: Feeds, request: DecodeRequest): Promise<{ iou: Float32Array; lowRes: Float32Array }> {
    const imageInputs = this.imageStage ? this.imageStage.outputNames.length : 1;
    const [coords, labels, mask, hasMask, origSize] = this.inputNames.slice(imageInputs);
    const n = request.labels.length;
    const feeds: Feeds = {
      ...image,
      [coords as string]: new ort.Tensor("float32", request.coords, [1, n, 2]),
      [labels as string]: new ort.Tensor("float32", request.labels, [1, n]),
      [mask as string]: request.maskInput
        ? new ort.Tensor("float32", request.maskInput, [1, 1, 256, 256])
        : noMask,
      [hasMask as string]: new ort.Tensor("float32", Float32Array.of(request.maskInput ? 1 : 0), [1]),
    };
    // SAM's standard decoder also takes the original size and upsamples to it.
    if (origSize) feeds[origSize] = new ort.Tensor("float32", Float32Array.from(request.origSize), [2]);
    const out = await this.session.run(feeds);
    return {
      iou: (out["iou_predictions"] as ort.Tensor).data as Float32Array,
      lowRes: (out["low_res_masks"] as ort.Tensor).data as Float32Array,
    };
  }
}

let fast: Decoder | null = null;
let exactSpec: DecoderSpec | null = null;
let exactFiles: Promise<[Uint8Array, Uint8Array | null]> | null = null; // downloaded after ready
let exact: Promise<Decoder> | null = null; // started on the first exact decode
/** The embeddings kept (least recently used first): the current image and prefetched ones. */
const embeddings = new Map<string, Float32Array>();
// Embeddings may arrive while the sessions are still being created.
let sessionsCreated: () => void = () => undefined;
const created = new Promise<void>((resolve) => (sessionsCreated = resolve));

// onnxruntime-web runs one graph at a time: runs (image stages, decodes) wait in turn.
let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const result = queue.then(work);
  queue = result.catch(() => undefined);
  return result;
}

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(message, transfer);
}

async function download(url: string, sha256: string): Promise<Uint8Array> {
  return new Uint8Array(await (await fetchImmutable(url, sha256)).arrayBuffer());
}

function createSession(bytes: Uint8Array, optimization: DecoderSpec["graphOptimization"]): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ["wasm"], graphOptimizationLevel: optimization });
}

async function init(request: InitRequest): Promise<void> {
  ort.env.wasm.wasmPaths = request.wasmPaths;
  ort.env.wasm.numThreads = request.threads;
  const spec = request.decoder;
  const stage = spec.imageStage;
  const t0 = performance.now();
  // One after the other, for the timings: the first includes starting onnxruntime's wasm.
  const imageStage = stage ? await createSession(await download(stage.url, stage.sha256), spec.graphOptimization) : null;
  const t1 = performance.now();
  const session = await createSession(await download(spec.url, spec.sha256), spec.graphOptimization);
  const t2 = performance.now();
  fast = new Decoder(session, imageStage, spec.inputNames);
  sessionsCreated();
  // The first run of a session allocates and plans; do it now rather than on the user's
  // first click. On the page's first embedding when it is already here (the page sends
  // it while onnxruntime starts): its image stage is then both warm-up and real work.
  const ready = [...embeddings.keys()].pop();
  const key = ready ?? "warm-up";
  if (!ready) embeddings.set(key, new Float32Array(256 * 64 * 64));
  await decode({
    type: "decode",
    id: -1,
    key,
    exact: false,
    coords: new Float32Array(4),
    labels: Float32Array.of(1, -1),
    maskInput: null,
    origSize: [64, 64],
  }, false);
  if (!ready) {
    embeddings.delete(key);
    fast.forget(key);
  }
  reply({ type: "ready", timings: { firstSessionMs: t1 - t0, decoderSessionMs: t2 - t1, warmUpMs: performance.now() - t2 } });
  exactSpec = request.exact;
  if (exactSpec) {
    const { url, sha256, imageStage: exactStage } = exactSpec;
    exactFiles = Promise.all([download(url, sha256), exactStage ? download(exactStage.url, exactStage.sha256) : null]);
    exactFiles.catch(() => undefined); // reported by the exact decodes
  }
}

/** The exact decoder, started the first time (inside ``exclusive``: starting a session
 * occupies the worker as a run does). */
function exactDecoder(): Promise<Decoder> {
  if (!exact) {
    const spec = exactSpec;
    const files = exactFiles;
    if (!spec || !files) return Promise.reject(new Error("this page has no exact decoder"));
    const level = spec.graphOptimization;
    exact = files.then(async ([decoderBytes, stageBytes]) => {
      const imageStage = stageBytes ? await createSession(stageBytes, level) : null;
      return new Decoder(await createSession(decoderBytes, level), imageStage, spec.inputNames);
    });
    exact.catch(() => (exact = null)); // the next exact decode tries again
  }
  return exact;
}

/** Keeps the last KEPT_EMBEDDINGS images (least recently used goes first), the same
 * rule as the page's DecoderClient, so memory stays flat; runs the fast decoder's image
 * stage on a new one at once. */
function keep(key: string, data: Float32Array | null): void {
  const embedding = data ?? embeddings.get(key);
  if (!embedding) throw new Error(`no embedding ${key}`);
  embeddings.delete(key);
  embeddings.set(key, embedding);
  for (const old of embeddings.keys()) {
    if (embeddings.size <= KEPT_EMBEDDINGS) break;
    embeddings.delete(old);
    fast?.forget(old);
    void exact?.then((decoder) => decoder.forget(old), () => undefined);
  }
  if (data) {
    void created
      .then(() => exclusive(() => (fast as Decoder).imageFeeds(key, embedding)))
      .catch(() => undefined); // reported by the decode that needs it
  }
}

async function decode(request: DecodeRequest, answer = true): Promise<void> {
  await created;
  const embedding = embeddings.get(request.key);
  if (!embedding) throw new Error(`the embedding ${request.key} is not loaded`);
  // The exact decoder's files download outside the queue: decodes go on meanwhile.
  if (request.exact) await exactFiles;
  const { iou, lowRes, ms } = await exclusive(async () => {
    const start = performance.now();
    const decoder = request.exact ? await exactDecoder() : (fast as Decoder);
    const out = await decoder.run(await decoder.imageFeeds(request.key, embedding), request);
    return { ...out, ms: performance.now() - start };
  });
  if (answer) reply({ type: "result", id: request.id, iou, lowRes, ms }, [lowRes.buffer]);
}

self.onmessage = (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  const run = async () => {
    if (request.type === "init") await init(request);
    else if (request.type === "embedding") keep(request.key, request.data);
    else await decode(request);
  };
  run().catch((error: unknown) => {
    const id = request.type === "decode" ? request.id : null;
    reply({ type: "error", id, message: error instanceof Error ? error.message : String(error) });
  });
};
