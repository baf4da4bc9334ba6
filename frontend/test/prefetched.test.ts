import { describe, expect, it } from "vitest";

import { Prefetched } from "../src/annotator/prefetched";

function store(fail: Set<string> = new Set()) {
  const loads: string[] = [];
  const disposed: string[] = [];
  const prefetched = new Prefetched<string>(
    async (key) => {
      loads.push(key);
      if (fail.has(key)) throw new Error(`cannot load ${key}`);
      return `value of ${key}`;
    },
    (value) => disposed.push(value),
  );
  return { prefetched, loads, disposed };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 0));

describe("Prefetched", () => {
  it("loads a key once however often it is asked for", async () => {
    const { prefetched, loads } = store();
    const [a, b] = await Promise.all([prefetched.get("next"), prefetched.get("next")]);
    expect(a).toBe("value of next");
    expect(b).toBe(a);
    expect(loads).toEqual(["next"]);
  });

  it("keeps only the keys it is told to and disposes of the others", async () => {
    const { prefetched, disposed } = store();
    prefetched.put("current", "the current image");
    await Promise.all([prefetched.get("previous"), prefetched.get("next")]);
    prefetched.keepOnly(["next", null, "after next"]);
    await settle();
    expect(disposed.sort()).toEqual(["the current image", "value of previous"]);
    expect(prefetched.has("next")).toBe(true);
    expect(prefetched.size).toBe(1);
  });

  it("disposes of a value dropped while loading once it arrives", async () => {
    const { prefetched, disposed } = store();
    const loading = prefetched.get("far away");
    prefetched.keepOnly([]);
    await loading;
    await settle();
    expect(disposed).toEqual(["value of far away"]);
  });

  it("forgets a failed load so that asking again tries again", async () => {
    const failing = new Set(["next"]);
    const { prefetched, loads } = store(failing);
    await expect(prefetched.get("next")).rejects.toThrow("cannot load next");
    await settle();
    expect(prefetched.has("next")).toBe(false);
    failing.clear();
    await expect(prefetched.get("next")).resolves.toBe("value of next");
    expect(loads).toEqual(["next", "next"]);
  });
});
