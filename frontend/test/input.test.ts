import { afterEach, describe, expect, it, vi } from "vitest";

import { type Box, HOVER_REST_MS, InputHandler, type Intents, type Viewport, keyHelp } from "../src/annotator/input";
import type { Point } from "../src/lib/transform";

/** A viewport where screen and image pixels are the same, the image 100 x 80. */
class FakeViewport implements Viewport {
  zoom = 1;
  readonly pans: [number, number][] = [];
  readonly zooms: number[] = [];
  readonly dragBoxes: (Box | null)[] = [];

  toImage(clientX: number, clientY: number): Point {
    return [clientX / this.zoom, clientY / this.zoom];
  }

  inside([x, y]: Point): boolean {
    return x >= 0 && y >= 0 && x < 100 && y < 80;
  }

  panBy(dx: number, dy: number): void {
    this.pans.push([dx, dy]);
  }

  zoomAt(_x: number, _y: number, factor: number): void {
    this.zooms.push(factor);
  }

  showDragBox(box: Box | null): void {
    this.dragBoxes.push(box);
  }
}

type Call = [string, ...unknown[]];

/** Intents that record their calls; candidates and classes as the options say. */
function recorder(options: { candidates?: boolean; shortcuts?: string[] } = {}) {
  const calls: Call[] = [];
  const record = (name: string) => (...args: unknown[]) => void calls.push([name, ...args]);
  const intents: Intents = {
    point: record("point"),
    box: record("box"),
    hover: record("hover"),
    clear: record("clear"),
    save: record("save"),
    undo: record("undo"),
    redo: record("redo"),
    nextCandidate: record("nextCandidate"),
    chooseCandidate: (index) => (options.candidates ? (calls.push(["chooseCandidate", index]), true) : false),
    step: (direction) => void calls.push(["step", direction]),
    deleteSelected: record("deleteSelected"),
    chooseClass: (key) => ((options.shortcuts ?? []).includes(key) ? (calls.push(["chooseClass", key]), true) : false),
  };
  return { calls, intents };
}

/** An event with the given fields (Node has Event, not PointerEvent or KeyboardEvent). */
function event(type: string, fields: Record<string, unknown>): Event {
  const made = new Event(type, { cancelable: true });
  for (const [name, value] of Object.entries(fields)) Object.defineProperty(made, name, { value });
  return made;
}

const pointer = (x: number, y: number, button = 0, altKey = false, shiftKey = false) => ({
  clientX: x,
  clientY: y,
  button,
  altKey,
  shiftKey,
  deltaY: 0,
});
const key = (name: string, modifiers: { ctrlKey?: boolean; shiftKey?: boolean; altKey?: boolean } = {}) => ({
  key: name,
  ctrlKey: false,
  metaKey: false,
  shiftKey: false,
  altKey: false,
  timeStamp: 5,
  ...modifiers,
});

function setup(options: { candidates?: boolean; shortcuts?: string[] } = {}) {
  const surface = new EventTarget();
  const keys = new EventTarget();
  const viewport = new FakeViewport();
  const { calls, intents } = recorder(options);
  const handler = new InputHandler(surface, keys, viewport, intents);
  const on = (type: string, fields: Record<string, unknown>) => {
    const sent = event(type, fields);
    (type.startsWith("key") ? keys : surface).dispatchEvent(sent);
    return sent;
  };
  return { surface, keys, viewport, calls, handler, on };
}

afterEach(() => {
  vi.useRealTimers();
});

describe("input", () => {
  it("turns clicks into positive and negative points", () => {
    const t = setup();
    t.on("pointerdown", pointer(10, 20));
    t.on("pointerup", pointer(11, 21));
    t.on("pointerdown", pointer(30, 40, 0, true));
    t.on("pointerup", pointer(30, 40, 0, true));
    t.on("pointerdown", pointer(50, 60, 2));
    t.on("pointerup", pointer(50, 60, 2));
    t.on("pointerdown", pointer(500, 60)); // off the image
    t.on("pointerup", pointer(500, 60));
    expect(t.calls).toEqual([
      ["point", [11, 21], true, false],
      ["point", [30, 40], false, false],
      ["point", [50, 60], false, false],
    ]);
  });

  it("says when a click was made with Shift (a SAM point even on a proposal)", () => {
    const t = setup();
    t.on("pointerdown", pointer(10, 20, 0, false, true));
    t.on("pointerup", pointer(10, 20, 0, false, true));
    expect(t.calls).toEqual([["point", [10, 20], true, true]]);
  });

  it("toggles the proposals with P, unless a class has that key", () => {
    const toggled: string[] = [];
    const t = setup();
    t.handler.release();
    const keys = new EventTarget();
    const { intents } = recorder();
    new InputHandler(new EventTarget(), keys, new FakeViewport(), { ...intents, toggleProposals: () => (toggled.push("p"), true) });
    keys.dispatchEvent(event("keydown", key("p")));
    expect(toggled).toEqual(["p"]);
    const withClass = setup({ shortcuts: ["p"] });
    withClass.on("keydown", key("p"));
    expect(withClass.calls).toEqual([["chooseClass", "p"]]);
    expect(keyHelp().map((h) => h.keys)).toContain("P");
  });

  it("turns a drag into a box, shown while dragging", () => {
    const t = setup();
    t.on("pointerdown", pointer(10, 10));
    t.on("pointermove", pointer(12, 12)); // under the drag threshold: still a click
    expect(t.viewport.dragBoxes).toEqual([]);
    t.on("pointermove", pointer(40, 30));
    t.on("pointerup", pointer(42, 31));
    expect(t.viewport.dragBoxes).toEqual([[10, 10, 40, 30], null]);
    expect(t.calls).toEqual([["box", [10, 10, 42, 31]]]);
  });

  it("reports where the cursor rests, not every point it passes", () => {
    vi.useFakeTimers();
    const t = setup();
    t.on("pointermove", pointer(10, 10));
    vi.advanceTimersByTime(HOVER_REST_MS - 1);
    t.on("pointermove", pointer(20, 20));
    expect(t.handler.hoverPending).toBe(true);
    vi.advanceTimersByTime(HOVER_REST_MS);
    expect(t.calls).toEqual([["hover", [20, 20]]]);
    expect(t.handler.hoverPending).toBe(false);
    // A press ends the rest: no hover after a click.
    t.on("pointermove", pointer(30, 30));
    t.on("pointerdown", pointer(30, 30));
    t.on("pointerup", pointer(30, 30));
    vi.advanceTimersByTime(HOVER_REST_MS * 2);
    expect(t.calls.map((c) => c[0])).toEqual(["hover", "point"]);
  });

  it("pans with space held or the middle button, and zooms with the wheel", () => {
    const t = setup();
    t.on("keydown", key(" "));
    t.on("pointerdown", pointer(10, 10));
    t.on("pointermove", pointer(15, 13));
    t.on("pointerup", pointer(15, 13));
    t.on("keyup", key(" "));
    t.on("pointerdown", pointer(10, 10, 1));
    t.on("pointermove", pointer(8, 10, 1));
    t.on("pointerup", pointer(8, 10, 1));
    expect(t.viewport.pans).toEqual([[5, 3], [-2, 0]]);
    expect(t.calls).toEqual([]);
    const wheel = t.on("wheel", { ...pointer(10, 10), deltaY: -500 });
    expect(t.viewport.zooms).toEqual([Math.E]);
    expect(wheel.defaultPrevented).toBe(true);
  });

  it("keeps Tab for the candidates: it never moves the focus, candidates or not", () => {
    const t = setup();
    const tab = t.on("keydown", key("Tab"));
    expect(tab.defaultPrevented).toBe(true);
    expect(t.calls).toEqual([["nextCandidate"]]);
  });

  it("maps keys to intents; 1-3 fall back to a class's shortcut without candidates", () => {
    const t = setup({ shortcuts: ["1", "t"] });
    for (const name of ["Enter", "Escape", "ArrowRight", "ArrowLeft", "Delete", "1", "2", "t", "x"]) t.on("keydown", key(name));
    t.on("keydown", key("z", { ctrlKey: true }));
    t.on("keydown", key("Z", { ctrlKey: true, shiftKey: true }));
    t.on("keydown", key("ArrowLeft", { altKey: true })); // the browser's back
    expect(t.calls).toEqual([
      ["save"],
      ["clear"],
      ["step", "next"],
      ["step", "previous"],
      ["deleteSelected"],
      ["chooseClass", "1"],
      ["chooseClass", "t"],
      ["undo"],
      ["redo"],
    ]);
    const withCandidates = setup({ candidates: true, shortcuts: ["1"] });
    withCandidates.on("keydown", key("1"));
    expect(withCandidates.calls).toEqual([["chooseCandidate", 1]]);
  });

  it("ignores keys typed into a form field", () => {
    const t = setup();
    const typed = event("keydown", key("Enter"));
    Object.defineProperty(typed, "target", { value: { tagName: "SELECT" } });
    t.keys.dispatchEvent(typed);
    expect(t.calls).toEqual([]);
  });

  it("lists every key it handles in the key help", () => {
    const help = keyHelp().map((h) => h.keys).join(" | ");
    // How the help writes each key.
    const shown: Record<string, string> = {
      Enter: "Enter", Escape: "Esc", Tab: "Tab", Delete: "Delete", Backspace: "Backspace",
      ArrowLeft: "←", ArrowRight: "→", " ": "Space", "1": "1–3", "2": "1–3", "3": "1–3",
    };
    const candidates = [
      ...Object.keys(shown), "ArrowUp", "ArrowDown", "Home", "End", "PageUp", "F1", "Insert", "Shift",
      ..."abcdefghijklmnopqrstuvwxyz0456789-=[];',./",
    ];
    const handled: string[] = [];
    for (const name of candidates) {
      const t = setup({ candidates: true });
      const sent = t.on("keydown", key(name));
      if (sent.defaultPrevented || t.calls.length > 0) handled.push(name);
    }
    expect(handled.sort()).toEqual(Object.keys(shown).sort());
    for (const name of handled) expect(help).toContain(shown[name]);
    expect(help).toContain("Ctrl+Z");
    expect(help).toContain("a class's key");
  });

  it("stops listening once released", () => {
    vi.useFakeTimers();
    const t = setup();
    t.on("pointermove", pointer(10, 10));
    t.on("pointerdown", pointer(20, 20));
    t.on("pointermove", pointer(60, 60));
    t.handler.release();
    expect(t.viewport.dragBoxes.at(-1)).toBeNull(); // the drag box under way is gone
    vi.advanceTimersByTime(HOVER_REST_MS * 2);
    t.on("pointerup", pointer(60, 60));
    t.on("keydown", key("Enter"));
    expect(t.calls).toEqual([]);
  });
});
