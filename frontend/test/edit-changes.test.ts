import { describe, expect, it } from "vitest";

import type { Annotation } from "../src/annotator/api";
import { type EditAction, type EditPort, replayEdit } from "../src/annotator/edit-changes";
import { History } from "../src/annotator/history";

const rle = (counts: string) => ({ size: [2, 2] as const, counts });
const payload = (counts: string) => ({ label_class: 1, rle: rle(counts), prompts: { points: [], labels: [], box: null } });

/** A store of masks by id, as the server would keep them, recording the calls. */
function fakePort(history: History) {
  const masks = new Map<number, string>([[1, "merged"]]);
  const calls: string[] = [];
  let nextId = 10;
  const port: EditPort = {
    async setMask(id, value) {
      if (!masks.has(id)) throw new Error(`no #${id}`);
      masks.set(id, value.counts);
      calls.push(`mask ${id} ${value.counts}`);
      return { id } as Annotation;
    },
    async create(p) {
      const id = nextId++;
      masks.set(id, p.rle.counts);
      calls.push(`create ${id}`);
      return { id } as Annotation;
    },
    async remove(id) {
      if (!masks.delete(id)) throw new Error(`no #${id}`);
      calls.push(`delete ${id}`);
    },
    renumber: (oldId, newId) => history.renumber(oldId, newId),
  };
  return { port, masks, calls };
}

describe("edit steps", () => {
  it("undo of a merge restores the kept mask and re-creates the deleted one; redo deletes the new one", async () => {
    const history = new History();
    const { port, masks, calls } = fakePort(history);
    const merge: EditAction = {
      kind: "edit",
      what: "merge",
      changes: [
        { kind: "mask", id: 1, before: rle("a"), after: rle("merged") },
        { kind: "delete", id: 2, payload: payload("b") },
      ],
    };
    history.record(merge);

    const undone = history.undo();
    expect(undone?.kind).toBe("edit");
    await replayEdit(undone as EditAction, "undo", port);
    expect(calls).toEqual(["create 10", "mask 1 a"]);
    expect(Object.fromEntries(masks)).toEqual({ 1: "a", 10: "b" });

    const redone = history.redo();
    await replayEdit(redone as EditAction, "redo", port);
    expect(calls.slice(2)).toEqual(["mask 1 merged", "delete 10"]); // the re-created id
    expect(Object.fromEntries(masks)).toEqual({ 1: "merged" });
  });

  it("redo of a merge step is one merge through a port that can merge, at the re-created id", async () => {
    const history = new History();
    const { port, masks, calls } = fakePort(history);
    const merges: string[] = [];
    port.merge = async (keptId, otherId) => {
      if (!masks.delete(otherId)) throw new Error(`no #${otherId}`);
      masks.set(keptId, "merged");
      merges.push(`merge ${otherId} into ${keptId}`);
      return { id: keptId } as Annotation;
    };
    history.record({
      kind: "edit",
      what: "merge",
      merge: true,
      changes: [
        { kind: "mask", id: 1, before: rle("a"), after: rle("merged") },
        { kind: "delete", id: 2, payload: payload("b") },
      ],
    });

    await replayEdit(history.undo() as EditAction, "undo", port);
    expect(calls).toEqual(["create 10", "mask 1 a"]); // undo as before
    await replayEdit(history.redo() as EditAction, "redo", port);
    expect(calls).toHaveLength(2);
    expect(merges).toEqual(["merge 10 into 1"]);
    expect(Object.fromEntries(masks)).toEqual({ 1: "merged" });
  });

  it("undo of a merge step is one unmerge through a port that can, and later steps use the re-created id", async () => {
    const history = new History();
    const { port, masks, calls } = fakePort(history);
    const unmerges: string[] = [];
    let nextId = 20;
    port.unmerge = async (keptId, before, otherId, p) => {
      const id = nextId++;
      masks.set(keptId, before.counts);
      masks.set(id, p.rle.counts);
      unmerges.push(`unmerge ${keptId} to ${before.counts}, ${otherId} again as ${id}`);
      return { id } as Annotation;
    };
    port.merge = async (keptId, otherId) => {
      if (!masks.delete(otherId)) throw new Error(`no #${otherId}`);
      masks.set(keptId, "merged");
      calls.push(`merge ${otherId} into ${keptId}`);
      return { id: keptId } as Annotation;
    };
    history.record({
      kind: "edit",
      what: "merge",
      merge: true,
      changes: [
        { kind: "mask", id: 1, before: rle("a"), after: rle("merged") },
        { kind: "delete", id: 2, payload: payload("b") },
      ],
    });

    await replayEdit(history.undo() as EditAction, "undo", port);
    expect(unmerges).toEqual(["unmerge 1 to a, 2 again as 20"]);
    expect(calls).toEqual([]); // no mask save, no create: the one request did both
    expect(Object.fromEntries(masks)).toEqual({ 1: "a", 20: "b" });

    await replayEdit(history.redo() as EditAction, "redo", port);
    expect(calls).toEqual(["merge 20 into 1"]); // the redo merges the re-created one
    await replayEdit(history.undo() as EditAction, "undo", port);
    expect(unmerges[1]).toBe("unmerge 1 to a, 20 again as 21");
    expect(Object.fromEntries(masks)).toEqual({ 1: "a", 21: "b" });
  });

  it("an unmerge that fails changes nothing and throws its error", async () => {
    const history = new History();
    const { port, masks, calls } = fakePort(history);
    port.unmerge = async () => {
      throw new Error("409: annotation 1 changed");
    };
    const step: EditAction = {
      kind: "edit",
      what: "merge",
      merge: true,
      changes: [
        { kind: "mask", id: 1, before: rle("a"), after: rle("merged") },
        { kind: "delete", id: 2, payload: payload("b") },
      ],
    };
    await expect(replayEdit(step, "undo", port)).rejects.toThrow("409");
    expect(calls).toEqual([]);
    expect(Object.fromEntries(masks)).toEqual({ 1: "merged" });
    expect(step.changes.map((c) => c.id)).toEqual([1, 2]);
  });

  it("stops at the first change that fails and throws its error", async () => {
    const history = new History();
    const { port, calls } = fakePort(history);
    const step: EditAction = {
      kind: "edit",
      what: "split",
      changes: [
        { kind: "mask", id: 1, before: rle("whole"), after: rle("part") },
        { kind: "create", id: 99, payload: payload("other") },
      ],
    };
    await expect(replayEdit(step, "undo", port)).rejects.toThrow("no #99");
    expect(calls).toEqual([]);
  });
});
