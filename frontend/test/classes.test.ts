import { describe, expect, it } from "vitest";

import type { LabelClass } from "../src/annotator/api";
import { HttpError } from "../src/annotator/cache";
import { FALLBACK_COLOR, LabelClasses, storedClassMemory } from "../src/annotator/classes";
import { describe as describeError } from "../src/annotator/errors";

const person: LabelClass = { id: 1, name: "person", color: "#ff0000", shortcut: "p" };
const cup: LabelClass = { id: 2, name: "cup", color: "#00ff00", shortcut: "c" };

/** Storage as localStorage does it, in memory. */
class MemoryStorage {
  readonly items = new Map<string, string>();
  getItem(key: string): string | null {
    return this.items.get(key) ?? null;
  }
  setItem(key: string, value: string): void {
    this.items.set(key, value);
  }
}

describe("label classes", () => {
  it("start on the first class when none was chosen before", async () => {
    const classes = new LabelClasses(async () => [person, cup], storedClassMemory(new MemoryStorage(), "k"), () => {});
    expect(classes.current).toBeNull(); // until they load
    await classes.ready;
    expect(classes.current).toBe(person);
    expect(classes.colorOf(2)).toBe("#00ff00");
    expect(classes.colorOf(99)).toBe(FALLBACK_COLOR);
    expect(classes.byShortcut("c")).toBe(cup);
    expect(classes.byShortcut("")).toBeUndefined();
  });

  it("come back to the class last chosen for the same key (project and user)", async () => {
    const storage = new MemoryStorage();
    let changes = 0;
    const first = new LabelClasses(async () => [person, cup], storedClassMemory(storage, "p1:u1"), () => changes++);
    await first.ready;
    first.choose(cup);
    expect(changes).toBe(2); // loaded, chosen
    const again = new LabelClasses(async () => [person, cup], storedClassMemory(storage, "p1:u1"), () => {});
    const otherUser = new LabelClasses(async () => [person, cup], storedClassMemory(storage, "p1:u2"), () => {});
    await Promise.all([again.ready, otherUser.ready]);
    expect(again.current).toBe(cup);
    expect(otherUser.current).toBe(person);
  });

  it("forget a remembered class that was deleted, and survive storage that fails", async () => {
    const storage = new MemoryStorage();
    storage.setItem("k", "42");
    const classes = new LabelClasses(async () => [person], storedClassMemory(storage, "k"), () => {});
    await classes.ready;
    expect(classes.current).toBe(person);
    const broken = {
      getItem(): string | null {
        throw new Error("denied");
      },
      setItem(): void {
        throw new Error("denied");
      },
    };
    const memory = storedClassMemory(broken, "k");
    expect(memory.recall()).toBeNull();
    expect(() => memory.keep(1)).not.toThrow();
  });
});

describe("error messages", () => {
  it("give the server's detail when it sent one", () => {
    const missing = new HttpError("/m.json", 503, JSON.stringify({ detail: "The decoder files are missing." }));
    expect(describeError(missing)).toBe("The decoder files are missing.");
  });

  it("give the status and fields of other JSON answers, and the status alone otherwise", () => {
    expect(describeError(new HttpError("/a", 400, '{"rle":["bad"]}'))).toBe('400 {"rle":["bad"]}');
    expect(describeError(new HttpError("/a", 500, "<html>Server Error</html>"))).toBe("500");
    expect(describeError(new Error("offline"))).toBe("offline");
  });
});
