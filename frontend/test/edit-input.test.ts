import { describe, expect, it } from "vitest";

import { type Box, InputHandler, type Intents, type Viewport, keyHelp } from "../src/annotator/input";
import type { Point } from "../src/lib/transform";

/** Screen and image pixels the same; the image 100 x 80. */
const viewport: Viewport = {
  zoom: 1,
  toImage: (x, y): Point => [x, y],
  inside: ([x, y]) => x >= 0 && y >= 0 && x < 100 && y < 80,
  panBy: () => undefined,
  zoomAt: () => undefined,
  showDragBox: (_box: Box | null) => undefined,
};

function setup(painting: boolean, shortcuts: string[] = []) {
  const calls: unknown[][] = [];
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
    chooseCandidate: () => false,
    step: record("step"),
    deleteSelected: record("deleteSelected"),
    chooseClass: (key) => shortcuts.includes(key) && (calls.push(["chooseClass", key]), true),
    editTool: (tool) => (calls.push(["editTool", tool]), true),
    brushSize: (step) => (calls.push(["brushSize", step]), true),
    fillHoles: () => (calls.push(["fillHoles"]), true),
    mergeNext: () => (calls.push(["mergeNext"]), true),
    split: () => (calls.push(["split"]), true),
    painting: () => painting,
    paint: (phase, at, timeStamp) => void calls.push(["paint", phase, at, timeStamp]),
  };
  const surface = new EventTarget();
  const keys = new EventTarget();
  new InputHandler(surface, keys, viewport, intents);
  const send = (target: EventTarget, type: string, fields: Record<string, unknown>) => {
    const made = new Event(type, { cancelable: true });
    for (const [name, value] of Object.entries(fields)) Object.defineProperty(made, name, { value });
    target.dispatchEvent(made);
  };
  const pointer = (type: string, x: number, y: number, shiftKey = false, button = 0) =>
    send(surface, type, { clientX: x, clientY: y, button, altKey: false, shiftKey, deltaY: 0, timeStamp: 7 });
  const key = (name: string) =>
    send(keys, "keydown", { key: name, ctrlKey: false, metaKey: false, shiftKey: false, altKey: false, timeStamp: 1 });
  return { calls, pointer, key };
}

describe("mask editing's input", () => {
  it("turns a left drag into a stroke while the brush or eraser paints, never into a box", () => {
    const t = setup(true);
    t.pointer("pointerdown", 10, 10);
    t.pointer("pointermove", 20, 12);
    t.pointer("pointermove", 40, 15);
    t.pointer("pointerup", 40, 15);
    expect(t.calls).toEqual([
      ["paint", "start", [10, 10], 7],
      ["paint", "move", [20, 12], 7],
      ["paint", "move", [40, 15], 7],
      ["paint", "end", [40, 15], 7],
    ]);
  });

  it("leaves Shift+clicks to the points (SAM add and subtract) while painting", () => {
    const t = setup(true);
    t.pointer("pointerdown", 10, 10, true);
    t.pointer("pointerup", 10, 10, true);
    t.pointer("pointerdown", 12, 10, true, 2);
    t.pointer("pointerup", 12, 10, true, 2);
    expect(t.calls).toEqual([
      ["point", [10, 10], true, true],
      ["point", [12, 10], false, true],
    ]);
  });

  it("maps the tool keys, and a class's shortcut keeps its key", () => {
    const t = setup(false, ["b"]);
    for (const name of ["v", "b", "e", "[", "]", "h", "m", "s"]) t.key(name);
    expect(t.calls).toEqual([
      ["editTool", "select"],
      ["chooseClass", "b"],
      ["editTool", "eraser"],
      ["brushSize", -1],
      ["brushSize", 1],
      ["fillHoles"],
      ["mergeNext"],
      ["split"],
    ]);
  });

  it("lists the editing keys and pointer gestures in the help", () => {
    const help = keyHelp().map((entry) => entry.keys);
    for (const keys of ["V / B / E", "[ / ]", "H", "M, then a click", "S", "Drag (brush / eraser)"]) {
      expect(help).toContain(keys);
    }
  });
});
