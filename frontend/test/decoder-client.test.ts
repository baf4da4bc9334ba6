import { describe, expect, it } from "vitest";

import { DecoderClient, type DecodeInput } from "../src/annotator/decoder-client";
import type { DecodeRequest } from "../src/annotator/protocol";
import { FakeWorker } from "./fake-worker";

/** A decode input told apart by its first label. */
function input(tag: number): DecodeInput {
  return { coords: new Float32Array(4), labels: Float32Array.of(tag, -1), maskInput: null, origSize: [10, 10] };
}

const spec = { url: "d.onnx", sha256: "0", inputNames: [], imageStage: null, graphOptimization: "all" as const };

function client() {
  const worker = new FakeWorker();
  const decoder = new DecoderClient(worker, { wasmPaths: "/", threads: 1, decoder: spec, exact: spec });
  decoder.setEmbedding("image", new Float32Array(1));
  return { worker, decoder };
}

describe("DecoderClient", () => {
  it("runs one decode at a time and replaces the waiting one with a newer one", async () => {
    const { worker, decoder } = client();
    const first = decoder.decode(input(1));
    const second = decoder.decode(input(2));
    const third = decoder.decode(input(3));
    expect(worker.decodes().map((d) => d.labels[0])).toEqual([1]);
    worker.answer(worker.decodes()[0] as DecodeRequest);
    expect((await first)?.ms).toBe(1);
    expect(await second).toBeNull();
    expect(worker.decodes().map((d) => d.labels[0])).toEqual([1, 3]);
    worker.answer(worker.decodes()[1] as DecodeRequest);
    expect((await third)?.ms).toBe(3);
  });

  it("sends exact decodes, in order, only while no decode runs or waits", async () => {
    const { worker, decoder } = client();
    const click = decoder.decode(input(1));
    const exactA = decoder.exact("image", input(10));
    const exactB = decoder.exact("other", input(11));
    expect(worker.decodes()).toHaveLength(1); // the exact ones wait for the click
    worker.answer(worker.decodes()[0] as DecodeRequest);
    await click;
    const sent = worker.decodes();
    expect(sent.map((d) => [d.labels[0], d.exact, d.key])).toEqual([[1, false, "image"], [10, true, "image"]]);
    // A click while an exact decode runs goes to the worker at once (the worker runs
    // them in turn); the next exact one waits until it is answered.
    const click2 = decoder.decode(input(2));
    expect(worker.decodes().map((d) => d.labels[0])).toEqual([1, 10, 2]);
    worker.answer(worker.decodes()[1] as DecodeRequest);
    expect((await exactA)?.ms).toBe(10);
    expect(worker.decodes()).toHaveLength(3);
    worker.answer(worker.decodes()[2] as DecodeRequest);
    await click2;
    expect(worker.decodes().map((d) => [d.labels[0], d.key])).toEqual([[1, "image"], [10, "image"], [2, "image"], [11, "other"]]);
    worker.answer(worker.decodes()[3] as DecodeRequest, true);
    expect(await exactB).toBeNull(); // a failure resolves null
  });

  it("never drops an exact decode for a newer one", async () => {
    const { worker, decoder } = client();
    const asked = [decoder.exact("image", input(1)), decoder.exact("image", input(2))];
    worker.answer(worker.decodes()[0] as DecodeRequest);
    worker.answer(worker.decodes()[1] as DecodeRequest);
    expect((await Promise.all(asked)).map((r) => r?.ms)).toEqual([1, 2]);
  });
});
