/**
 * The decoder in a Web Worker, so that the page never freezes: onnxruntime-web (wasm)
 * runs the project's decoder on the current image's embedding.
 *
 * A split decoder (see export_onnx/split_decoder.py) has a second, small graph that
 * runs once per image: its outputs replace the embedding as the per-click graph's
 * image inputs. It runs when the embedding arrives, which for a prefetched image is
 * before the user gets there.
 */

import * as ort from "onnxruntime-web/wasm";

import { fetchImmutable } from "./cache";
import { type DecodeRequest, type InitRequest, KEPT_EMBEDDINGS, type WorkerReply, type WorkerRequest } from "./protocol";

type Feeds = Record<string, ort.Tensor>;

const EMBEDDING_SHAPE = [1, 256, 64, 64];
let session: ort.InferenceSession | null = null;
let imageStage: ort.InferenceSession | null = null;
let inputNames: readonly string[] = [];
let imageInputs = 1; // how many of inputNames are per-image inputs
/** Per-image inputs by embedding key, least recently used first. */
const images = new Map<string, Promise<Feeds>>();
const noMask = new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]);
// Embeddings may arrive while the sessions are still being created.
let sessionsCreated: () => void = () => undefined;
const created = new Promise<void>((resolve) => (sessionsCreated = resolve));

// onnxruntime-web runs one graph at a time: runs (image stage, decodes) wait in turn.
let queue: Promise<unknown> = Promise.resolve();
function exclusive<T>(work: () => Promise<T>): Promise<T> {
  const result = queue.then(work);
  queue = result.catch(() => undefined);
  return result;
}

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(message, transfer);
}

async function createSession(
  url: string,
  sha256: string,
  level: InitRequest["graphOptimization"],
): Promise<ort.InferenceSession> {
  const bytes = await (await fetchImmutable(url, sha256)).arrayBuffer();
  return ort.InferenceSession.create(new Uint8Array(bytes), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: level,
  });
}

async function init(request: InitRequest): Promise<void> {
  ort.env.wasm.wasmPaths = request.wasmPaths;
  ort.env.wasm.numThreads = request.threads;
  const stage = request.imageStage;
  const t0 = performance.now();
  // One after the other, for the timings: the first includes starting onnxruntime's wasm.
  imageStage = stage ? await createSession(stage.url, stage.sha256, request.graphOptimization) : null;
  const t1 = performance.now();
  session = await createSession(request.decoderUrl, request.decoderSha256, request.graphOptimization);
  const t2 = performance.now();
  inputNames = request.inputNames;
  imageInputs = imageStage ? imageStage.outputNames.length : 1;
  sessionsCreated();
  // The first run of a session allocates and plans; do it now rather than on the user's
  // first click. On the page's first embedding when it is already here (the page sends
  // it while onnxruntime starts): its image stage is then both warm-up and real work.
  const ready = [...images.keys()].pop();
  const key = ready ?? "warm-up";
  if (!ready) keep(key, new Float32Array(256 * 64 * 64));
  await decode({
    type: "decode",
    id: -1,
    key,
    coords: new Float32Array(4),
    labels: Float32Array.of(1, -1),
    maskInput: null,
    origSize: [64, 64],
  }, false);
  if (!ready) images.delete(key);
  reply({ type: "ready", timings: { firstSessionMs: t1 - t0, decoderSessionMs: t2 - t1, warmUpMs: performance.now() - t2 } });
}

/** The per-image inputs of the decoder for an embedding (1, 256, 64, 64). */
async function prepare(data: Float32Array): Promise<Feeds> {
  await created;
  const embedding = new ort.Tensor("float32", data, EMBEDDING_SHAPE);
  const stage = imageStage;
  if (!stage) return { [inputNames[0] as string]: embedding };
  return exclusive(() => stage.run({ [stage.inputNames[0] as string]: embedding }));
}

/** Keeps the last KEPT_EMBEDDINGS images (least recently used goes first), the same
 * rule as the page's DecoderClient, so memory stays flat. */
function keep(key: string, data: Float32Array | null): void {
  const feeds = data ? prepare(data) : images.get(key);
  if (!feeds) throw new Error(`no embedding ${key}`);
  feeds.catch(() => undefined); // reported by the decode that needs it
  images.delete(key);
  images.set(key, feeds);
  for (const old of images.keys()) {
    if (images.size <= KEPT_EMBEDDINGS) break;
    images.delete(old);
  }
}

async function decode(request: DecodeRequest, answer = true): Promise<void> {
  const image = images.get(request.key);
  if (!session || !image) throw new Error("the decoder or the embedding is not loaded");
  const imageFeeds = await image;
  const n = request.labels.length;
  const [coords, labels, mask, hasMask, origSize] = inputNames.slice(imageInputs);
  const feeds: Feeds = {
    ...imageFeeds,
    [coords as string]: new ort.Tensor("float32", request.coords, [1, n, 2]),
    [labels as string]: new ort.Tensor("float32", request.labels, [1, n]),
    [mask as string]: request.maskInput
      ? new ort.Tensor("float32", request.maskInput, [1, 1, 256, 256])
      : noMask,
    [hasMask as string]: new ort.Tensor("float32", Float32Array.of(request.maskInput ? 1 : 0), [1]),
  };
  // SAM's standard decoder also takes the original size and upsamples to it.
  if (origSize) feeds[origSize] = new ort.Tensor("float32", Float32Array.from(request.origSize), [2]);
  const decoder = session;
  const { out, ms } = await exclusive(async () => {
    const start = performance.now();
    const result = await decoder.run(feeds);
    return { out: result, ms: performance.now() - start };
  });
  const iou = (out["iou_predictions"] as ort.Tensor).data as Float32Array;
  const lowRes = (out["low_res_masks"] as ort.Tensor).data as Float32Array;
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
