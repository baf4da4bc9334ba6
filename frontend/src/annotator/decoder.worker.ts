/**
 * The decoder in a Web Worker, so that the page never freezes: onnxruntime-web (wasm)
 * runs the project's low-res decoder on the current image's embedding.
 */

import * as ort from "onnxruntime-web/wasm";

import { fetchImmutable } from "./cache";
import { type DecodeRequest, type InitRequest, KEPT_EMBEDDINGS, type WorkerReply, type WorkerRequest } from "./protocol";

let session: ort.InferenceSession | null = null;
let inputNames: readonly string[] = [];
const embeddings = new Map<string, ort.Tensor>();
const noMask = new ort.Tensor("float32", new Float32Array(256 * 256), [1, 1, 256, 256]);

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  (self as unknown as Worker).postMessage(message, transfer);
}

async function init(request: InitRequest): Promise<void> {
  ort.env.wasm.wasmPaths = request.wasmPaths;
  ort.env.wasm.numThreads = request.threads;
  const bytes = await (await fetchImmutable(request.decoderUrl, request.decoderSha256)).arrayBuffer();
  session = await ort.InferenceSession.create(new Uint8Array(bytes), {
    executionProviders: ["wasm"],
    graphOptimizationLevel: "all",
  });
  inputNames = request.inputNames;
  // The first run of a session allocates and plans; do it now, while the page is still
  // fetching the image and the embedding, rather than on the user's first click.
  embeddings.set("warm-up", new ort.Tensor("float32", new Float32Array(256 * 64 * 64), [1, 256, 64, 64]));
  await decode({
    type: "decode",
    id: -1,
    key: "warm-up",
    coords: new Float32Array(4),
    labels: Float32Array.of(1, -1),
    maskInput: null,
    origSize: [64, 64],
  }, false);
  embeddings.delete("warm-up");
  reply({ type: "ready" });
}

/** Keeps the last KEPT_EMBEDDINGS embeddings (least recently used goes first), the
 * same rule as the page's DecoderClient, so memory stays flat. */
function keep(key: string, data: Float32Array | null): void {
  const tensor = data ? new ort.Tensor("float32", data, [1, 256, 64, 64]) : embeddings.get(key);
  if (!tensor) throw new Error(`no embedding ${key}`);
  embeddings.delete(key);
  embeddings.set(key, tensor);
  for (const old of embeddings.keys()) {
    if (embeddings.size <= KEPT_EMBEDDINGS) break;
    embeddings.delete(old);
  }
}

async function decode(request: DecodeRequest, answer = true): Promise<void> {
  const embedding = embeddings.get(request.key);
  if (!session || !embedding) throw new Error("the decoder or the embedding is not loaded");
  const n = request.labels.length;
  const [emb, coords, labels, mask, hasMask, origSize] = inputNames;
  const feeds: Record<string, ort.Tensor> = {
    [emb as string]: embedding,
    [coords as string]: new ort.Tensor("float32", request.coords, [1, n, 2]),
    [labels as string]: new ort.Tensor("float32", request.labels, [1, n]),
    [mask as string]: request.maskInput
      ? new ort.Tensor("float32", request.maskInput, [1, 1, 256, 256])
      : noMask,
    [hasMask as string]: new ort.Tensor("float32", Float32Array.of(request.maskInput ? 1 : 0), [1]),
  };
  // SAM's standard decoder also takes the original size and upsamples to it.
  if (origSize) feeds[origSize] = new ort.Tensor("float32", Float32Array.from(request.origSize), [2]);
  const start = performance.now();
  const out = await session.run(feeds);
  const ms = performance.now() - start;
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
