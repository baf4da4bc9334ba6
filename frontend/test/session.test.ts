import { afterEach, describe, expect, it, vi } from "vitest";

import type { Annotation, AnnotationStore, LabelClass } from "../src/annotator/api";
import type { ImageConfig } from "../src/annotator/config";
import { DecoderClient } from "../src/annotator/decoder-client";
import type { AnnotationPayload } from "../src/annotator/history";
import type { DecodeRequest } from "../src/annotator/protocol";
import { ImageSession, REFINE_AFTER_MS, type SessionContext } from "../src/annotator/session";
import { FakeWorker } from "./fake-worker";

const CELLS = 4 * 4; // the low-res masks in these tests are 4 x 4

const image: ImageConfig = {
  imageId: 1,
  imageName: "cup.png",
  projectName: "Kitchen",
  pageUrl: "/p/1/",
  configUrl: "/p/1/config.json",
  imageUrl: "/i/1.png",
  imageStatusUrl: "/api/i/1/",
  embeddingUrl: "/api/i/1/embedding",
  manifestUrl: "/m.json",
  decoderBaseUrl: "/d/",
  annotationsUrl: "/api/i/1/annotations/",
  annotationUrlTemplate: "/api/i/1/annotations/0/",
  labelClassesUrl: "/api/l/",
  previousUrl: null,
  nextUrl: null,
  previousConfigUrl: null,
  nextConfigUrl: null,
  prefetchEmbeddingUrls: [],
  embeddingSha256s: { "/api/i/1/embedding": "abc" },
  width: 8,
  height: 6,
};

const thing: LabelClass = { id: 7, name: "thing", color: "#00a0ff", shortcut: "t" };

/** Masks with the given predicted IoUs, token t's logits all t + 1 (every pixel set). */
function masks(iou: number[]) {
  const lowRes = new Float32Array(4 * CELLS);
  for (let t = 0; t < 4; t++) lowRes.fill(t + 1, t * CELLS, (t + 1) * CELLS);
  return { iou: Float32Array.from(iou), lowRes };
}

class FakeStore implements AnnotationStore {
  listed: Annotation[] = [];
  readonly created: Annotation[] = [];
  readonly deleted: string[] = [];
  readonly edited: Pick<AnnotationPayload, "rle" | "prompts">[] = [];
  private nextId = 1;

  async list(): Promise<Annotation[]> {
    return this.listed;
  }

  async create(_url: string, payload: AnnotationPayload): Promise<Annotation> {
    const annotation = { ...payload, id: this.nextId++, version: 1, area: 48 };
    this.created.push(annotation);
    return annotation;
  }

  async remove(url: string): Promise<void> {
    this.deleted.push(url);
  }

  async relabel(_url: string, version: number, labelClass: number): Promise<Annotation> {
    const annotation = this.created[0] as Annotation;
    return { ...annotation, label_class: labelClass, version: version + 1 };
  }

  async editMask(_url: string, version: number, changes: Pick<AnnotationPayload, "rle" | "prompts">): Promise<Annotation> {
    const annotation = this.created[0] as Annotation;
    this.edited.push(changes);
    return { ...annotation, ...changes, version: version + 1 };
  }

  async imageStatus() {
    return { status: "ready", failure_reason: "" };
  }
}

/** Lets pending promise callbacks run. */
async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await Promise.resolve();
}

function setup(options: { refining?: boolean; classesReady?: Promise<unknown> } = {}) {
  const worker = new FakeWorker();
  const spec = { url: "d.onnx", sha256: "0", inputNames: [], imageStage: null, graphOptimization: "all" as const };
  const client = new DecoderClient(worker, { wasmPaths: "/", threads: 1, decoder: spec, exact: spec });
  const store = new FakeStore();
  const said: string[] = [];
  const counts = { live: 0, annotations: 0, requests: 0, decodes: 0, refinements: 0 };
  const ctx: SessionContext = {
    decoder: client,
    embeddings: {
      async activate(url, _sha256, stillWanted) {
        if (!stillWanted()) return false;
        client.setEmbedding(url, new Float32Array(1));
        return true;
      },
    },
    store,
    classes: { current: thing, ready: options.classesReady ?? Promise.resolve() },
    writes: { run: (work) => work() },
    model: {
      imageSize: 16,
      lowResMaskSize: 4,
      maskThreshold: 0,
      pointLabels: { padding: -1, negative: 0, positive: 1, box_top_left: 2, box_bottom_right: 3 },
    },
    refining: options.refining ?? false,
    fastIsExact: false,
    events: {
      say: (message) => said.push(message),
      live: () => counts.live++,
      annotations: () => counts.annotations++,
      decoded: () => undefined,
      count: (what) => counts[what]++,
    },
  };
  const session = new ImageSession(image, ctx);
  const lastDecode = () => worker.decodes().at(-1) as DecodeRequest;
  return { worker, store, said, counts, session, lastDecode };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("an image's session", () => {
  it("decodes a click on its image's embedding and shows SAM's best candidate; Tab cycles the three", async () => {
    const t = setup();
    expect(await t.session.open()).toBe(true);
    t.session.click([2, 3], true);
    expect(t.lastDecode().key).toBe(image.embeddingUrl);
    t.worker.answer(t.lastDecode(), false, masks([0.1, 0.5, 0.9, 0.7]));
    await flush();
    expect(t.counts.decodes).toBe(1);
    expect(t.session.candidate).toEqual({ index: 2, count: 3, best: 2 });
    expect(t.session.liveLogits?.[0]).toBe(3); // token 2's logits
    const seen = [1, 2, 3].map(() => (t.session.nextCandidate(), t.session.candidate?.index));
    expect(seen).toEqual([3, 1, 2]);
    // A second point leaves one mask: no candidates to choose.
    t.session.click([5, 3], false);
    t.worker.answer(t.lastDecode(), false, masks([0.8, 0.1, 0.1, 0.1]));
    await flush();
    expect(t.session.candidate).toBeNull();
    expect(t.session.nextCandidate()).toBe(false);
  });

  it("decodes a click made before the embedding arrived once it is there", async () => {
    const t = setup();
    t.session.click([2, 3], true);
    expect(t.worker.decodes()).toHaveLength(0);
    await t.session.open();
    expect(t.worker.decodes()).toHaveLength(1);
  });

  it("shows the mask under a resting cursor, and a click there needs no new decode", async () => {
    const t = setup();
    await t.session.open();
    t.session.hover([2, 3]);
    t.worker.answer(t.lastDecode(), false, masks([0, 0.9, 0.1, 0.1]));
    await flush();
    expect(t.session.liveLogits).not.toBeNull();
    expect(t.counts.decodes).toBe(0); // a hover's mask is not the prompt's
    t.session.click([2.2, 3.1], true);
    expect(t.counts.requests).toBe(1);
    expect(t.counts.decodes).toBe(1);
  });

  it("lets a click wait for the hover decode of the same spot still running", async () => {
    const t = setup();
    await t.session.open();
    t.session.hover([2, 3]);
    t.session.click([2, 3], true);
    expect(t.counts.requests).toBe(1);
    t.worker.answer(t.lastDecode(), false, masks([0, 0.9, 0.1, 0.1]));
    await flush();
    expect(t.counts.decodes).toBe(1);
    expect(t.session.candidate?.index).toBe(1);
  });

  it("saves the mask on screen under the current class; undo deletes it and no longer says saved", async () => {
    const t = setup();
    await t.session.open();
    t.session.click([2, 3], true);
    t.worker.answer(t.lastDecode(), false, masks([0.1, 0.5, 0.9, 0.7]));
    await flush();
    await t.session.save();
    const [saved] = t.store.created;
    expect(saved?.label_class).toBe(thing.id);
    expect(saved?.prompts).toEqual({ points: [[2, 3]], labels: [1], box: null });
    expect(saved?.rle.size).toEqual([6, 8]);
    expect(t.said.at(-1)).toBe("Saved as thing.");
    expect(t.session.annotations.map((a) => a.annotation.id)).toEqual([1]);
    expect(t.session.prompt.points).toHaveLength(0); // the next click starts a new object

    await t.session.undo();
    expect(t.store.deleted).toEqual(["/api/i/1/annotations/1/"]);
    expect(t.session.annotations).toHaveLength(0);
    expect(t.said.at(-1)).not.toMatch(/^Saved as/);
    expect(t.said.at(-1)).toMatch(/undone/);

    await t.session.redo();
    expect(t.store.created).toHaveLength(2);
    expect(t.session.annotations.map((a) => a.annotation.id)).toEqual([2]);
  });

  it("refines a proposal from its point and records it with the save", async () => {
    const t = setup();
    await t.session.open();
    t.session.refineProposal(9, [1, 1], [5, 3], false);
    expect(t.session.proposalId).toBe(9);
    t.worker.answer(t.lastDecode(), false, masks([0.9, 0.1, 0.1, 0.1]));
    await flush();
    expect(t.session.promptMaskOnScreen).toBe(true);
    expect(t.session.promptMaskRle()?.size).toEqual([6, 8]);
    await t.session.save();
    const [saved] = t.store.created;
    expect(saved?.prompts).toEqual({ points: [[1, 1], [5, 3]], labels: [1, 0], box: null });
    expect(saved?.proposal_id).toBe(9);
    expect(t.session.proposalId).toBeNull(); // the next object is the user's own
  });

  it("lists an accepted proposal's annotation as a save: undo deletes it", async () => {
    const t = setup();
    await t.session.open();
    const accepted = {
      id: 31,
      version: 1,
      area: 4,
      label_class: thing.id,
      rle: { size: [6, 8] as const, counts: "0" },
      prompts: { points: [[1, 1] as const], labels: [1], box: null },
    };
    t.session.adopt(accepted);
    t.session.adopt(accepted); // listed once
    expect(t.session.annotations.map((a) => a.annotation.id)).toEqual([31]);
    await t.session.undo();
    expect(t.store.deleted).toEqual(["/api/i/1/annotations/31/"]);
    expect(t.session.annotations).toHaveLength(0);
  });

  it("replaces a saved annotation's mask and prompts with the prompt's, as a new version", async () => {
    const t = setup();
    await t.session.open();
    t.session.click([2, 3], true);
    t.worker.answer(t.lastDecode(), false, masks([0.1, 0.5, 0.9, 0.7]));
    await flush();
    await t.session.save();
    t.session.click([5, 1], true);
    t.worker.answer(t.lastDecode(), false, masks([0.9, 0.1, 0.1, 0.1]));
    await flush();
    await t.session.save(1);
    expect(t.store.created).toHaveLength(1); // no new annotation
    expect(t.store.edited[0]?.prompts).toEqual({ points: [[5, 1]], labels: [1], box: null });
    expect(t.session.annotations.map((a) => [a.annotation.id, a.annotation.version])).toEqual([[1, 2]]);
    expect(t.said.at(-1)).toBe("#1: mask replaced (version 2).");
    expect(t.session.prompt.points).toHaveLength(0);
  });

  it("deletes the selected annotation, and undo brings it back", async () => {
    const t = setup();
    t.store.listed = [{ ...(await t.store.create("", payload())), id: 40 }];
    await t.session.loadAnnotations();
    t.session.deleteSelected(); // nothing selected: nothing happens
    expect(t.store.deleted).toEqual([]);
    t.session.select(40);
    t.session.deleteSelected();
    await flush();
    expect(t.store.deleted).toEqual(["/api/i/1/annotations/40/"]);
    expect(t.session.annotations).toHaveLength(0);
    expect(t.session.selected).toBeNull();
    await t.session.undo();
    expect(t.session.annotations).toHaveLength(1);
  });

  it("lists saved annotations only once the label classes are known", async () => {
    let classesArrive = () => {};
    const t = setup({ classesReady: new Promise<void>((resolve) => (classesArrive = resolve)) });
    t.store.listed = [{ ...payload(), id: 3, version: 1, area: 5 }];
    const loading = t.session.loadAnnotations();
    await flush();
    expect(t.session.annotations).toHaveLength(0);
    expect(t.counts.annotations).toBe(0);
    classesArrive();
    await loading;
    expect(t.session.annotations.map((a) => a.annotation.id)).toEqual([3]);
    expect(t.counts.annotations).toBe(1);
  });

  it("once closed, leaves the screen alone while its work finishes", async () => {
    const t = setup();
    await t.session.open();
    t.session.click([2, 3], true);
    t.worker.answer(t.lastDecode(), false, masks([0.1, 0.5, 0.9, 0.7]));
    await flush();
    t.session.click([5, 3], false);
    const decodesBefore = t.counts.decodes;
    const liveBefore = t.counts.live;
    const saving = t.session.save();
    t.session.close();
    t.worker.answer(t.lastDecode(), false, masks([0.8, 0.1, 0.1, 0.1]));
    await saving;
    expect(t.store.created).toHaveLength(1); // the save still happens
    expect(t.session.annotations).toHaveLength(0);
    expect(t.counts.annotations).toBe(0);
    expect(t.counts.decodes).toBe(decodesBefore);
    expect(t.counts.live).toBe(liveBefore + 1); // the prompt cleared by Enter, before closing
    t.session.hover([1, 1]);
    t.session.click([1, 1], true);
    expect(t.worker.decodes()).toHaveLength(2);
  });

  it("shows the exact decoder's mask a moment after a click", async () => {
    vi.useFakeTimers();
    const t = setup({ refining: true });
    await t.session.open();
    t.session.click([2, 3], true);
    t.worker.answer(t.lastDecode(), false, masks([0.1, 0.5, 0.9, 0.7]));
    await vi.advanceTimersByTimeAsync(REFINE_AFTER_MS - 10);
    expect(t.worker.decodes().filter((d) => d.exact)).toHaveLength(0);
    expect(t.session.exactOnScreen).toBe(false);
    await vi.advanceTimersByTimeAsync(20);
    const exact = t.worker.decodes().filter((d) => d.exact);
    expect(exact).toHaveLength(1);
    t.worker.answer(exact[0] as DecodeRequest, false, masks([0.1, 0.9, 0.5, 0.7]));
    await vi.advanceTimersByTimeAsync(0);
    expect(t.session.exactOnScreen).toBe(true);
    expect(t.counts.refinements).toBe(1);
  });
});

function payload(): AnnotationPayload {
  return { label_class: thing.id, rle: { size: [6, 8], counts: "0" }, prompts: { points: [], labels: [], box: null } };
}
