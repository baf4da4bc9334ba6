import { afterEach, describe, expect, it, vi } from "vitest";

import { unmergeAnnotations } from "../src/annotator/api";
import type { AnnotationPayload } from "../src/annotator/history";

const URL = "/api/projects/1/annotations/5/";
const BEFORE = { size: [4, 4] as const, counts: "0" };
const PAYLOAD: AnnotationPayload = {
  label_class: 3,
  rle: { size: [4, 4], counts: "02" },
  prompts: { points: [[1, 2]], labels: [1], box: null },
};

/** The JSON body of the one request ``unmergeAnnotations`` sends for ``payload``. */
async function bodyFor(payload: AnnotationPayload): Promise<Record<string, unknown>> {
  const fetched = vi.fn(async () => new Response(JSON.stringify({ kept: {}, other: {} }), { status: 200 }));
  vi.stubGlobal("fetch", fetched);
  vi.stubGlobal("document", { cookie: "csrftoken=abc" });
  await unmergeAnnotations(URL, 7, BEFORE, { id: 9, payload });
  expect(fetched).toHaveBeenCalledTimes(1);
  const [url, init] = fetched.mock.calls[0] as unknown as [string, RequestInit];
  expect(url).toBe(`${URL}unmerge/`);
  return JSON.parse(String(init.body)) as Record<string, unknown>;
}

afterEach(() => vi.unstubAllGlobals());

describe("unmergeAnnotations", () => {
  it("sends the kept annotation's version and old mask and the other's mask and prompts", async () => {
    const body = await bodyFor(PAYLOAD);
    expect(body).toEqual({ version: 7, rle: BEFORE, other: 9, other_rle: PAYLOAD.rle, other_prompts: PAYLOAD.prompts });
  });

  it("keeps where the other came from: its proposal, or its source (an imported annotation)", async () => {
    expect(await bodyFor({ ...PAYLOAD, proposal_id: 11, source: "proposal" })).toMatchObject({
      other_proposal_id: 11,
      other_source: "proposal",
    });
    const imported = await bodyFor({ ...PAYLOAD, proposal_id: null, source: "import" });
    expect(imported.other_source).toBe("import");
    expect(imported).not.toHaveProperty("other_proposal_id");
  });
});
