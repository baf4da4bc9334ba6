import { describe, expect, it } from "vitest";

import type { Annotation, AnnotationStore } from "../src/annotator/api";
import type { ImageConfig } from "../src/annotator/config";
import type { CropFrame } from "../src/annotator/crop-frame";
import { DecoderClient } from "../src/annotator/decoder-client";
import type { AnnotationPayload } from "../src/annotator/history";
import type { DecodeRequest } from "../src/annotator/protocol";
import { ImageSession, type SessionContext } from "../src/annotator/session";
import { decodeRle } from "../src/lib/rle";
import { FakeWorker } from "./fake-worker";

// An 8 x 6 image and a model frame of 16: the whole image's scale is 2, a 4 x 4 crop's 4.
const image = {
  imageId: 1,
  imageStatusUrl: "/api/i/1/",
  embeddingUrl: "/api/i/1/embedding",
  annotationsUrl: "/api/i/1/annotations/",
  annotationUrlTemplate: "/api/i/1/annotations/0/",
  embeddingSha256s: { "/api/i/1/embedding": "abc" },
  width: 8,
  height: 6,
} as unknown as ImageConfig;
const crop: CropFrame = { key: "/api/i/1/crops/5/embedding", box: [4, 2, 8, 6] };
const everywhere = { iou: Float32Array.of(0.9, 0.1, 0.1, 0.1), lowRes: new Float32Array(4 * 16).fill(1) };

class Store implements AnnotationStore {
  readonly created: AnnotationPayload[] = [];
  async list(): Promise<Annotation[]> {
    return [];
  }
  async create(_url: string, payload: AnnotationPayload): Promise<Annotation> {
    this.created.push(payload);
    return { ...payload, id: this.created.length, version: 1, area: 0 } as Annotation;
  }
  async remove(): Promise<void> {}
  async relabel(): Promise<Annotation> {
    throw new Error("not used");
  }
  async editMask(): Promise<Annotation> {
    throw new Error("not used");
  }
  async imageStatus() {
    return { status: "ready", failure_reason: "" };
  }
}

async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

async function setup(refining = false) {
  const worker = new FakeWorker();
  const spec = { url: "d.onnx", sha256: "0", inputNames: [], imageStage: null, graphOptimization: "all" as const };
  const client = new DecoderClient(worker, { wasmPaths: "/", threads: 1, decoder: spec, exact: spec });
  const store = new Store();
  const ctx: SessionContext = {
    decoder: client,
    embeddings: {
      async activate(url) {
        client.setEmbedding(url, new Float32Array(1));
        return true;
      },
    },
    store,
    classes: { current: { id: 7, name: "thing", color: "#00a0ff", shortcut: "t" }, ready: Promise.resolve() },
    writes: { run: (work) => work() },
    model: {
      imageSize: 16,
      lowResMaskSize: 4,
      maskThreshold: 0,
      pointLabels: { padding: -1, negative: 0, positive: 1, box_top_left: 2, box_bottom_right: 3 },
    },
    refining,
    fastIsExact: false,
    events: { say: () => undefined, live: () => undefined, annotations: () => undefined, decoded: () => undefined, count: () => undefined },
  };
  const session = new ImageSession(image, ctx);
  await session.open();
  const last = () => worker.decodes().at(-1) as DecodeRequest;
  return { worker, store, session, last };
}

describe("a session with a crop in use", () => {
  it("decodes a click on the crop's embedding in the crop's frame and saves the mask in place", async () => {
    const t = await setup();
    t.session.setDetail(crop);
    t.session.click([6, 3], true);
    expect(t.last().key).toBe(crop.key);
    expect(Array.from(t.last().coords)).toEqual([8, 4, 0, 0]); // (6 - 4, 3 - 2) × 4, then padding
    expect(t.last().origSize).toEqual([4, 4]);
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    expect(t.session.liveFrame).toBe(crop);
    await t.session.save();
    const rle = t.store.created[0]?.rle;
    expect(rle?.size).toEqual([6, 8]);
    const mask = decodeRle(rle as NonNullable<typeof rle>);
    const set: string[] = [];
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++) if (mask[y * 8 + x]) set.push(`${x},${y}`);
    expect(set).toHaveLength(16);
    expect(set.every((p) => Number(p.split(",")[0]) >= 4 && Number(p.split(",")[1]) >= 2)).toBe(true);
    expect(t.store.created[0]?.prompts.points).toEqual([[6, 3]]); // prompts stay in image pixels
  });

  it("keeps a prompt started on the whole image there; the next object takes the crop", async () => {
    const t = await setup();
    t.session.click([6, 3], true);
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    t.session.setDetail(crop);
    t.session.click([7, 4], false);
    expect(t.last().key).toBe(image.embeddingUrl);
    expect(t.last().origSize).toEqual([6, 8]);
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    expect(t.session.liveFrame).toBeNull();
    t.session.clear();
    t.session.click([6, 3], true);
    expect(t.last().key).toBe(crop.key);
  });

  it("does not reuse a hover's whole-image mask for a click in the crop", async () => {
    const t = await setup();
    t.session.hover([6, 3]);
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    const before = t.worker.decodes().length;
    t.session.setDetail(crop);
    t.session.click([6, 3], true);
    expect(t.worker.decodes()).toHaveLength(before + 1);
    expect(t.last().key).toBe(crop.key);
  });

  it("runs the exact decode of a crop's prompt on the crop's embedding", async () => {
    const t = await setup(true);
    t.session.setDetail(crop);
    t.session.click([6, 3], true);
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    const saving = t.session.save();
    await flush();
    const exact = t.worker.decodes().filter((d) => d.exact);
    expect(exact).toHaveLength(1);
    expect(exact[0]?.key).toBe(crop.key);
    expect(exact[0]?.origSize).toEqual([4, 4]);
    t.worker.answer(exact[0] as DecodeRequest, false, everywhere);
    await saving;
    expect(t.store.created).toHaveLength(1);
  });

  it("decodes SAM's region for an edit on the crop when it holds the point, and places it in the image", async () => {
    const t = await setup();
    t.session.setDetail(crop);
    const region = t.session.pointMask([6, 3]);
    expect(t.last().key).toBe(crop.key);
    expect(Array.from(t.last().coords)).toEqual([8, 4, 0, 0]);
    expect(t.last().origSize).toEqual([4, 4]);
    expect(t.last().maskInput).toBeNull();
    t.worker.answer(t.last(), false, everywhere);
    const answer = await region;
    expect(answer?.frame).toBe(crop);
    const mask = answer?.mask as Uint8Array;
    expect(mask).toHaveLength(48);
    for (let y = 0; y < 6; y++) for (let x = 0; x < 8; x++) expect(mask[y * 8 + x]).toBe(x >= 4 && y >= 2 ? 1 : 0);
  });

  it("decodes SAM's region for an edit on the whole image outside the crop, or with none in use", async () => {
    const t = await setup();
    t.session.setDetail(crop);
    const outside = t.session.pointMask([1, 1]);
    expect(t.last().key).toBe(image.embeddingUrl);
    expect(t.last().origSize).toEqual([6, 8]);
    t.worker.answer(t.last(), false, everywhere);
    const answer = await outside;
    expect(answer?.frame).toBeNull();
    expect(answer?.mask.every((v) => v === 1)).toBe(true);
    t.session.setDetail(null);
    const whole = t.session.pointMask([6, 3]);
    expect(t.last().key).toBe(image.embeddingUrl);
    t.worker.answer(t.last(), false, everywhere);
    expect((await whole)?.frame).toBeNull();
  });

  it("refines a proposal on the crop when the crop holds it, from its clicks only", async () => {
    const t = await setup();
    t.session.setDetail(crop);
    t.session.refineProposal(3, [5, 3], [6, 4], false, [4, 2, 7, 5]);
    expect(t.last().key).toBe(crop.key);
    expect(Array.from(t.last().coords)).toEqual([4, 4, 8, 8, 0, 0]); // (5 - 4, 3 - 2) × 4, (6 - 4, 4 - 2) × 4
    expect(Array.from(t.last().labels)).toEqual([1, 0, -1]);
    expect(t.last().maskInput).toBeNull();
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    expect(t.session.liveFrame).toBe(crop);
    // A further click keeps the crop's frame, feeding back the crop's own mask.
    t.session.click([7, 5], true);
    expect(t.last().key).toBe(crop.key);
    expect(t.last().maskInput).not.toBeNull();
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    await t.session.save();
    expect(t.store.created[0]?.proposal_id).toBe(3);
  });

  it("refines a proposal on the whole image when it reaches past the crop", async () => {
    const t = await setup();
    t.session.setDetail(crop);
    t.session.refineProposal(3, [5, 3], [6, 4], true, [2, 2, 7, 5]);
    expect(t.last().key).toBe(image.embeddingUrl);
    expect(t.last().origSize).toEqual([6, 8]);
    t.session.clear();
    t.session.refineProposal(4, [1, 1], [6, 4], true, [0, 0, 8, 6]);
    expect(t.last().key).toBe(image.embeddingUrl);
    t.worker.answer(t.last(), false, everywhere);
    await flush();
    expect(t.session.liveFrame).toBeNull();
  });
});
