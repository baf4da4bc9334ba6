/** A decoder worker that records requests and answers when a test tells it to. */

import type { WorkerPort } from "../src/annotator/decoder-client";
import type { DecodeRequest, WorkerReply, WorkerRequest } from "../src/annotator/protocol";

export class FakeWorker implements WorkerPort {
  onmessage: Worker["onmessage"] = null;
  onerror: Worker["onerror"] = null;
  readonly sent: WorkerRequest[] = [];

  postMessage(message: WorkerRequest): void {
    this.sent.push(message);
  }

  decodes(): DecodeRequest[] {
    return this.sent.filter((m): m is DecodeRequest => m.type === "decode");
  }

  /** Answers ``request``: an error, or ``reply``'s masks (by default empty ones, with
   * the request's first label as the worker's time, so tests can tell answers apart). */
  answer(request: DecodeRequest, error = false, reply?: { iou: Float32Array; lowRes: Float32Array }): void {
    const message: WorkerReply = error
      ? { type: "error", id: request.id, message: "failed" }
      : {
          type: "result",
          id: request.id,
          iou: reply?.iou ?? new Float32Array(4),
          lowRes: reply?.lowRes ?? new Float32Array(1),
          ms: request.labels[0] ?? 0,
        };
    this.onmessage?.call(null as unknown as Worker, { data: message } as MessageEvent<WorkerReply>);
  }

  /** Says the worker is ready. */
  ready(): void {
    const message: WorkerReply = { type: "ready", timings: { firstSessionMs: 0, decoderSessionMs: 0, warmUpMs: 0 } };
    this.onmessage?.call(null as unknown as Worker, { data: message } as MessageEvent<WorkerReply>);
  }
}
