/**
 * The annotator's input: pointer and keyboard events on the page turned into intents
 * (a point, a box, a rest of the cursor, save, undo, another image...). It knows nothing
 * of masks or the server; the page says what each intent does. Listeners are added by
 * the constructor and removed by ``release()``.
 *
 * The keys are a table (``KEY_BINDINGS``), and the key help the page shows is made from
 * the same table, so that the help lists every key the page handles.
 */

import type { Point } from "../lib/transform";

export type Box = readonly [number, number, number, number];

/** What the user asked for. */
export interface Intents {
  /** A click: a positive (left) or negative (right, Alt+left) point, image pixels;
   * ``shift``: Shift was held (a SAM point even on a proposal). */
  point(at: Point, positive: boolean, shift?: boolean): void;
  /** A dragged box, corners in image pixels (any order). */
  box(box: Box): void;
  /** The cursor rested at ``at`` (image pixels, on the image). */
  hover(at: Point): void;
  clear(): void;
  save(): void;
  undo(): void;
  redo(): void;
  nextCandidate(): void;
  /** Candidate 1-3; false when the prompt has no candidates (the key may be a class's). */
  chooseCandidate(index: number): boolean;
  /** ``at``: the key press's time stamp, for the timings. */
  step(direction: "next" | "previous", at: number): void;
  deleteSelected(): void;
  /** Chooses the class whose shortcut is ``key``; false when none has it. */
  chooseClass(key: string): boolean;
  /** Submits the image and opens the next of the queue; false when the page is not
   * working through a labelling queue (the key then does nothing). */
  submit?(): boolean;
  /** A review verdict on the annotation under review (``whole``: on the whole image);
   * false when the page is not reviewing (the key may then be a class's). */
  review?(verdict: Verdict, whole: boolean): boolean;
  /** I: the next click pins a review issue there; false when the member may not open
   * issues (the key may then be a class's). */
  pinIssue?(): boolean;
  /** Shift+Enter: the prompt's mask replaces the selected annotation's (a new version). */
  replaceMask?(): boolean;
  /** P: shows or hides the image's mask proposals; false when it has none (the key then
   * does nothing). */
  toggleProposals?(): boolean;
  /** O: edits the selected annotation as polygons, or leaves polygon mode (#16). */
  togglePolygons?(): boolean;
  // ---- mask editing (#16), edit-tools.ts
  /** V, B, E: takes (or puts down) the select tool, the brush or the eraser. */
  editTool?(tool: "select" | "brush" | "eraser"): boolean;
  /** [ / ]: a smaller / larger brush. */
  brushSize?(step: 1 | -1): boolean;
  /** H: fills the selected annotation's holes. */
  fillHoles?(): boolean;
  /** M: the next click's annotation merges into the selected one. */
  mergeNext?(): boolean;
  /** S: splits the selected annotation into its connected parts. */
  split?(): boolean;
  /** Whether a left drag paints now (the brush or eraser, on a selected annotation). */
  painting?(): boolean;
  /** A painting drag: its press, each move and its release, image pixels; ``timeStamp``
   * the event's (performance.now() clock). */
  paint?(phase: "start" | "move" | "end", at: Point, timeStamp: number): void;
}

export type Verdict = "accept" | "reject";

/** How the page works: image by image, or through a queue (webapp.workflow). */
export type QueueStage = "annotate" | "review";

/** Screen <-> image, and the view's pan, zoom and drag box (the page's View). */
export interface Viewport {
  /** Client (screen) coordinates -> image pixels, x then y. */
  toImage(clientX: number, clientY: number): Point;
  inside(point: Point): boolean;
  /** Screen pixels per image pixel. */
  readonly zoom: number;
  panBy(dx: number, dy: number): void;
  zoomAt(clientX: number, clientY: number, factor: number): void;
  showDragBox(box: Box | null): void;
}

/** The fields of a keyboard event the bindings read. */
export interface KeyInput {
  readonly key: string;
  readonly ctrlKey: boolean;
  readonly metaKey: boolean;
  readonly shiftKey: boolean;
  readonly altKey: boolean;
  readonly timeStamp: number;
}

export interface KeyBinding {
  /** The keys as the help shows them. */
  readonly keys: string;
  readonly does: string;
  /** Acts on ``event`` if it is this binding's; true when it did (the browser's own
   * action for the key is then prevented). */
  readonly handle: (event: KeyInput, intents: Intents) => boolean;
  /** The queues in which the binding acts (and is listed); every page when absent. */
  readonly stages?: readonly QueueStage[];
  /** Listed only for members who may review (reviewers, managers, owners). */
  readonly reviewers?: boolean;
}

const command = (e: KeyInput): boolean => e.ctrlKey || e.metaKey;

/** A review key: A or R alone (Shift: on the whole image). */
function reviewKey(e: KeyInput, letter: string): boolean {
  return !command(e) && !e.altKey && e.key.toLowerCase() === letter;
}

export const KEY_BINDINGS: readonly KeyBinding[] = [
  {
    // Before Enter's binding, which would otherwise save.
    keys: "Ctrl+Enter",
    does: "submit this image and open the next one in my queue",
    handle: (e, intents) => e.key === "Enter" && command(e) && (intents.submit?.() ?? false),
    stages: ["annotate"],
  },
  {
    keys: "A / R",
    does: "accept / reject the annotation under review, then the next",
    handle: (e, intents) =>
      !e.shiftKey && (reviewKey(e, "a") || reviewKey(e, "r")) && (intents.review?.(e.key.toLowerCase() === "a" ? "accept" : "reject", false) ?? false),
    stages: ["review"],
  },
  {
    keys: "Shift+A / Shift+R",
    does: "accept / reject the whole image, then the next",
    handle: (e, intents) =>
      e.shiftKey && (reviewKey(e, "a") || reviewKey(e, "r")) && (intents.review?.(e.key.toLowerCase() === "a" ? "accept" : "reject", true) ?? false),
    stages: ["review"],
  },
  {
    keys: "Ctrl+Z / Ctrl+Shift+Z",
    does: "undo / redo prompts, saves and deletes",
    handle: (e, intents) => {
      if (!command(e) || e.key.toLowerCase() !== "z") return false;
      if (e.shiftKey) intents.redo();
      else intents.undo();
      return true;
    },
  },
  {
    // Before Enter's binding, which would otherwise save a new annotation.
    keys: "Shift+Enter",
    does: "replace the selected annotation's mask with this one (a new version)",
    handle: (e, intents) => e.key === "Enter" && e.shiftKey && !command(e) && (intents.replaceMask?.() ?? false),
  },
  {
    keys: "I, then a click",
    does: "pin a review issue with a comment to that point (I again or Esc: cancel)",
    handle: (e, intents) =>
      !command(e) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "i" && (intents.pinIssue?.() ?? false),
    reviewers: true,
  },
  {
    keys: "Enter",
    does: "save the mask under the class selected",
    handle: (e, intents) => e.key === "Enter" && (intents.save(), true),
  },
  {
    keys: "Esc",
    does: "clear the prompt",
    handle: (e, intents) => e.key === "Escape" && (intents.clear(), true),
  },
  {
    // Tab never moves the keyboard focus (to a class button that Enter would then
    // press): it only cycles the candidates.
    keys: "Tab",
    does: "next of SAM's candidates, after a single click",
    handle: (e, intents) => e.key === "Tab" && (intents.nextCandidate(), true),
  },
  {
    keys: "1–3",
    does: "choose one of SAM's candidates, after a single click",
    handle: (e, intents) => ["1", "2", "3"].includes(e.key) && intents.chooseCandidate(Number(e.key)),
  },
  {
    keys: "← / →",
    does: "previous / next image",
    handle: (e, intents) => {
      // Alt+← is the browser's own back, which the page follows too.
      if ((e.key !== "ArrowLeft" && e.key !== "ArrowRight") || e.altKey || command(e)) return false;
      intents.step(e.key === "ArrowRight" ? "next" : "previous", e.timeStamp);
      return true;
    },
  },
  {
    keys: "Delete / Backspace",
    does: "delete the annotation selected in the list",
    handle: (e, intents) => (e.key === "Delete" || e.key === "Backspace") && (intents.deleteSelected(), true),
  },
  {
    keys: "a class's key",
    does: "choose that class (shown beside its name)",
    handle: (e, intents) => !command(e) && !e.altKey && e.key.length === 1 && intents.chooseClass(e.key),
  },
  {
    // After the classes' keys: a class whose key is P keeps it.
    keys: "P",
    does: "show / hide the mask proposals; a click on one selects it, then Enter or a class's key accepts it, and further clicks refine it",
    handle: (e, intents) =>
      !command(e) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "p" && (intents.toggleProposals?.() ?? false),
  },
  {
    // polygon mode (#16). After the classes' keys: a class whose key is O keeps it.
    keys: "O",
    does: "edit the selected annotation as polygons: drag a vertex, press on an edge to add one, Alt+click / right-click / Delete removes one, Enter saves a new version, Esc leaves",
    handle: (e, intents) =>
      !command(e) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === "o" && (intents.togglePolygons?.() ?? false),
  },
  // ---- mask editing (#16): after the classes' keys, so that a class's key keeps it.
  ...editBindings(),
];

/** Mask editing's keys (edit-tools.ts, #16): plain letters, no modifier. */
function editBindings(): KeyBinding[] {
  const plain = (e: KeyInput, key: string): boolean =>
    !command(e) && !e.altKey && !e.shiftKey && e.key.toLowerCase() === key;
  const tools = { v: "select", b: "brush", e: "eraser" } as const;
  return [
    {
      keys: "V / B / E",
      does: "select tool (click an annotation to edit it) / brush / eraser; again or Esc: back to prompting",
      handle: (e, intents) => {
        const tool = (["v", "b", "e"] as const).find((key) => plain(e, key));
        return tool !== undefined && (intents.editTool?.(tools[tool]) ?? false);
      },
    },
    {
      keys: "[ / ]",
      does: "smaller / larger brush",
      handle: (e, intents) =>
        !command(e) && (e.key === "[" || e.key === "]") && (intents.brushSize?.(e.key === "]" ? 1 : -1) ?? false),
    },
    {
      keys: "H",
      does: "fill the selected annotation's holes",
      handle: (e, intents) => plain(e, "h") && (intents.fillHoles?.() ?? false),
    },
    {
      keys: "M, then a click",
      does: "merge the annotation clicked into the selected one (same class)",
      handle: (e, intents) => plain(e, "m") && (intents.mergeNext?.() ?? false),
    },
    {
      keys: "S",
      does: "split the selected annotation into its connected parts",
      handle: (e, intents) => plain(e, "s") && (intents.split?.() ?? false),
    },
  ];
}

/** The pointer's part of the help. */
export const POINTER_HELP: readonly { readonly keys: string; readonly does: string }[] = [
  { keys: "Click", does: "add a positive point" },
  { keys: "Right click / Alt+click", does: "add a negative point" },
  { keys: "Shift+click", does: "add a positive point, even on a proposal" },
  { keys: "Drag", does: "draw a box" },
  // mask editing (#16)
  { keys: "Drag (brush / eraser)", does: "paint onto / wipe from the selected annotation" },
  { keys: "Shift+click / Shift+right click", does: "with an annotation selected: add / remove SAM's region there" },
  { keys: "Wheel", does: "zoom" },
  { keys: "Space+drag / middle drag", does: "pan" },
];

/** The key help of a page working through ``stage``'s queue (null: image by image),
 * pointer first; ``mayReview``: the member may review (and pin issues). */
export function keyHelp(
  stage: QueueStage | null = null,
  mayReview = false,
): readonly { readonly keys: string; readonly does: string }[] {
  const acting = KEY_BINDINGS.filter(
    (binding) =>
      (!binding.stages || (stage !== null && binding.stages.includes(stage))) && (!binding.reviewers || mayReview),
  );
  return [...POINTER_HELP, ...acting.map(({ keys, does }) => ({ keys, does }))];
}

/** How long the cursor rests before the mask under it is decoded: a decode started for a
 * point the cursor already left would only delay the click that follows. */
export const HOVER_REST_MS = 40;
/** A press that moves less than this (screen pixels) before release is a click. */
const DRAG_THRESHOLD_PX = 4;

/** The fields of a pointer or wheel event read here. */
interface PointerInput {
  readonly button: number;
  readonly clientX: number;
  readonly clientY: number;
  readonly altKey: boolean;
  readonly shiftKey: boolean;
  readonly deltaY: number;
  readonly timeStamp: number;
  preventDefault(): void;
}

type Listener = (event: Event) => void;

/** Whether keys typed into ``target`` are text or a form's (a relabel menu), or a
 * dialog's (its Esc and Enter are the dialog's own), not ours. */
function typingInto(target: EventTarget | null): boolean {
  const element = target as { tagName?: unknown; closest?: (selector: string) => unknown } | null;
  const tag = element?.tagName;
  return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || Boolean(element?.closest?.("dialog"));
}

export class InputHandler {
  private hoverTimer: ReturnType<typeof setTimeout> | undefined;
  private dragStart: Point | null = null;
  private dragging = false;
  private panning: { x: number; y: number } | null = null;
  private spaceDown = false;
  private painting = false; // mask editing (#16): a brush or eraser drag under way
  private readonly listeners: [EventTarget, string, Listener, AddEventListenerOptions?][] = [];

  /** ``surface``: the canvas (pointer events); ``keys``: the window (key events). */
  constructor(
    surface: EventTarget,
    keys: EventTarget,
    private readonly viewport: Viewport,
    private readonly intents: Intents,
  ) {
    const pointer = (handle: (e: PointerInput) => void): Listener => (event) => handle(event as unknown as PointerInput);
    this.listen(surface, "contextmenu", (event) => event.preventDefault());
    this.listen(surface, "pointerdown", pointer((e) => this.down(e)));
    this.listen(surface, "pointermove", pointer((e) => this.move(e)));
    this.listen(surface, "pointerup", pointer((e) => this.up(e)));
    this.listen(surface, "pointerleave", () => this.cancelHover());
    this.listen(surface, "wheel", pointer((e) => this.wheel(e)), { passive: false });
    this.listen(keys, "keydown", (event) => this.keyDown(event as unknown as KeyInput & Event));
    this.listen(keys, "keyup", (event) => {
      if ((event as unknown as KeyInput).key === " ") this.spaceDown = false;
    });
  }

  /** Removes every listener and forgets any gesture under way. */
  release(): void {
    for (const [target, type, listener, options] of this.listeners) {
      target.removeEventListener(type, listener, options);
    }
    this.listeners.length = 0;
    this.cancelHover();
    this.dragStart = null;
    this.panning = null;
    if (this.dragging) this.viewport.showDragBox(null);
    this.dragging = false;
  }

  /** Whether a rest of the cursor is being timed (its hover decode not yet asked). */
  get hoverPending(): boolean {
    return this.hoverTimer !== undefined;
  }

  private listen(target: EventTarget, type: string, listener: Listener, options?: AddEventListenerOptions): void {
    target.addEventListener(type, listener, options);
    this.listeners.push(options ? [target, type, listener, options] : [target, type, listener]);
  }

  private cancelHover(): void {
    if (this.hoverTimer !== undefined) clearTimeout(this.hoverTimer);
    this.hoverTimer = undefined;
  }

  private down(e: PointerInput): void {
    if (e.button === 1 || (e.button === 0 && this.spaceDown)) {
      this.panning = { x: e.clientX, y: e.clientY };
      return;
    }
    if (e.button === 0 && !e.shiftKey && this.intents.painting?.()) {
      // mask editing (#16)
      this.painting = true;
      this.intents.paint?.("start", this.viewport.toImage(e.clientX, e.clientY), e.timeStamp);
      return;
    }
    if (e.button === 0) {
      this.dragStart = this.viewport.toImage(e.clientX, e.clientY);
      this.dragging = false;
    }
  }

  private move(e: PointerInput): void {
    if (this.panning) {
      this.viewport.panBy(e.clientX - this.panning.x, e.clientY - this.panning.y);
      this.panning = { x: e.clientX, y: e.clientY };
      return;
    }
    const point = this.viewport.toImage(e.clientX, e.clientY);
    if (this.painting) return this.intents.paint?.("move", point, e.timeStamp); // mask editing (#16)
    const start = this.dragStart;
    if (start) {
      const moved = Math.hypot(point[0] - start[0], point[1] - start[1]) * this.viewport.zoom;
      if (this.dragging || moved > DRAG_THRESHOLD_PX) {
        this.dragging = true;
        this.viewport.showDragBox([start[0], start[1], point[0], point[1]]);
      }
      return;
    }
    this.cancelHover();
    if (this.viewport.inside(point)) {
      this.hoverTimer = setTimeout(() => {
        this.hoverTimer = undefined;
        this.intents.hover(point);
      }, HOVER_REST_MS);
    }
  }

  private up(e: PointerInput): void {
    this.cancelHover();
    if (this.panning) {
      this.panning = null;
      return;
    }
    const point = this.viewport.toImage(e.clientX, e.clientY);
    if (this.painting && e.button === 0) {
      // mask editing (#16)
      this.painting = false;
      return this.intents.paint?.("end", point, e.timeStamp);
    }
    if (e.button === 2) {
      if (this.viewport.inside(point)) this.intents.point(point, false, e.shiftKey);
      return;
    }
    const start = this.dragStart;
    if (e.button !== 0 || !start) return;
    const dragged = this.dragging;
    this.dragStart = null;
    this.dragging = false;
    if (dragged) {
      this.viewport.showDragBox(null);
      this.intents.box([start[0], start[1], point[0], point[1]]);
    } else if (this.viewport.inside(point)) this.intents.point(point, !e.altKey, e.shiftKey);
  }

  private wheel(e: PointerInput): void {
    e.preventDefault();
    this.viewport.zoomAt(e.clientX, e.clientY, Math.exp(-e.deltaY / 500));
  }

  private keyDown(event: KeyInput & Event): void {
    if (typingInto(event.target)) return;
    if (event.key === " ") {
      // Held for panning; its default (scrolling, pressing a focused button) is not ours.
      this.spaceDown = true;
      event.preventDefault();
      return;
    }
    for (const binding of KEY_BINDINGS) {
      if (binding.handle(event, this.intents)) {
        event.preventDefault();
        return;
      }
    }
  }
}
