/**
 * Polygon mode (O): the selected saved annotation's mask shown as polygons (outer rings
 * and holes, traced from the mask and simplified to a tolerance set in the side panel),
 * edited vertex by vertex on its own layer, and saved (Enter) as a new version of the
 * annotation: the rings go to the server, which rasterises them with ``polygon_to_mask``
 * (the same filler as ``polygon-raster.ts``, which drew the mask the user saw), through
 * the version check, so an annotation someone else changed meanwhile is reported, never
 * overwritten. Ctrl+Z / Ctrl+Shift+Z undo and redo the polygon's steps (a save too:
 * undo, then Enter, saves the earlier outline as the next version).
 *
 * While the mode is on it takes these keys before the page's own bindings: Enter (save),
 * Esc (leave; twice with unsaved steps), Delete / Backspace (the vertex under the
 * pointer or last grabbed), Ctrl+Z, Ctrl+Shift+Z. Other keys reach the page as ever.
 */

import { type Rle, decodeRle, encodeRle } from "../lib/rle";
import type { Annotation } from "./api";
import { request } from "./api";
import { HttpError } from "./cache";
import { describe } from "./errors";
import { DEFAULT_TOLERANCE_PX, PolygonEdit } from "./polygon-edit";
import { PolygonLayer, type PolygonViewport } from "./polygon-layer";

/** What polygon mode needs of the page. */
export interface PolygonHost {
  /** The annotation selected on the image on screen, or null (none, or no image). */
  selected(): Annotation | null;
  /** The URL of annotation ``id`` of the image on screen. */
  annotationUrl(id: number): string;
  colorOf(labelClass: number): string;
  /** A new version was saved (its mask was ``before``): the page lists and draws it, and
   * records the step for the page's undo. */
  saved(annotation: Annotation, before: Rle): void;
  /** The annotation being edited changed (null: none): the page hides its saved layer. */
  editing(id: number | null): void;
  /** Runs a write, so that leaving the page meanwhile asks first. */
  write<T>(work: () => Promise<T>): Promise<T>;
  say(message: string, isError?: boolean): void;
  mark(name: string, value: number | string): void;
}

/** The side panel's control: the tolerance, in image pixels. */
export interface PolygonPanel {
  readonly section: HTMLElement;
  readonly tolerance: HTMLInputElement;
  readonly vertices: HTMLElement;
}

interface Editing {
  readonly id: number;
  version: number;
  /** The mask as last saved (or opened). */
  rle: Rle;
  readonly edit: PolygonEdit;
  readonly layer: PolygonLayer;
}

export class PolygonMode {
  private current: Editing | null = null;
  private saving = false;
  private escapeArmed = false;
  private tolerance = DEFAULT_TOLERANCE_PX;
  private saves = 0;
  private readonly onKey = (event: KeyboardEvent): void => this.key(event);

  constructor(
    private readonly host: PolygonHost,
    private readonly viewport: PolygonViewport,
    private readonly stage: HTMLElement,
    private readonly panel: PolygonPanel,
  ) {
    panel.tolerance.value = String(this.tolerance);
    panel.tolerance.addEventListener("change", () => {
      const value = Number(panel.tolerance.value);
      if (!(value >= 0) || value > 100) {
        this.host.say("The tolerance is a number of pixels from 0 to 100.", true);
        panel.tolerance.value = String(this.tolerance);
        return;
      }
      this.tolerance = value;
      if (this.current) {
        this.current.edit.setTolerance(value);
        this.current.layer.changed();
        this.stepped();
      }
      panel.tolerance.blur(); // the keys go back to the image
    });
    window.addEventListener("keydown", this.onKey, { capture: true });
    this.host.mark("polygonMode", "off");
  }

  get active(): boolean {
    return this.current !== null;
  }

  /** The annotation being edited, if any. */
  get editingId(): number | null {
    return this.current?.id ?? null;
  }

  /** O: edits the selected annotation as polygons, or leaves polygon mode. */
  toggle(): boolean {
    if (this.current) {
      this.leave();
      return true;
    }
    const annotation = this.host.selected();
    if (!annotation) {
      this.host.say("Select an annotation (in the list) first; O then edits it as polygons.", true);
      return true;
    }
    const [height, width] = annotation.rle.size;
    const edit = new PolygonEdit(decodeRle(annotation.rle), { height, width }, this.tolerance);
    const layer = new PolygonLayer(this.stage, this.viewport, edit, this.host.colorOf(annotation.label_class), {
      stepped: () => this.stepped(),
      say: (message, isError) => this.host.say(message, isError),
    });
    this.current = { id: annotation.id, version: annotation.version, rle: annotation.rle, edit, layer };
    this.panel.section.hidden = false;
    this.host.editing(annotation.id);
    this.host.mark("polygonMode", "on");
    this.host.mark("polygonAnnotation", annotation.id);
    this.stepped();
    this.host.say(
      `#${annotation.id} as polygons: drag a vertex, press on an edge to add one, Alt+click or right-click (or Delete) removes one; Enter saves, Esc leaves.`,
    );
    return true;
  }

  /** Leaves polygon mode (the image changes, or Esc); unsaved steps are dropped. */
  leave(): void {
    const editing = this.current;
    if (!editing) return;
    editing.layer.release();
    this.current = null;
    this.escapeArmed = false;
    this.panel.section.hidden = true;
    this.host.editing(null);
    this.host.mark("polygonMode", "off");
  }

  /** Enter: saves the rings as a new version of the annotation. */
  save(): void {
    const editing = this.current;
    if (!editing || this.saving) return;
    if (!editing.edit.dirty) {
      this.host.say("Nothing to save: the polygon is as saved.");
      return;
    }
    const { edit } = editing;
    const polygons = edit.flatRings();
    const shown = encodeRle(edit.mask(), edit.size.height, edit.size.width).counts;
    const savedRings = edit.rings;
    this.saving = true;
    this.host.say("Saving the polygon…");
    void this.host
      .write(async () => {
        const response = await request(this.host.annotationUrl(editing.id), {
          method: "PATCH",
          headers: { "If-Match": `"${editing.version}"` },
          body: JSON.stringify({ polygons }),
        });
        return (await response.json()) as Annotation;
      })
      .then(
        (annotation) => {
          const before = editing.rle;
          editing.version = annotation.version;
          editing.rle = annotation.rle;
          this.saves++;
          // The server rasterised the same rings: its mask is the one on screen.
          const same = annotation.rle.counts === shown;
          this.host.mark("polygonServerMatch", same ? "1" : "0");
          if (!same) console.warn("the server's mask of the polygon differs from the browser's");
          if (this.current === editing && edit.rings === savedRings) edit.markSaved();
          this.host.saved(annotation, before);
          this.host.mark("polygonSaves", this.saves);
          this.host.say(`#${editing.id}: polygon saved (version ${annotation.version}).`);
        },
        (error: unknown) => {
          const stale = error instanceof HttpError && error.status === 409;
          this.host.mark("polygonConflicts", stale ? 1 : 0);
          this.host.say(
            stale
              ? "Not saved: someone changed this annotation meanwhile. Your polygon is kept; reload to see theirs."
              : `Polygon not saved: ${describe(error)}`,
            true,
          );
        },
      )
      .finally(() => {
        this.saving = false;
      });
  }

  private stepped(): void {
    const editing = this.current;
    if (!editing) return;
    this.escapeArmed = false;
    const count = editing.edit.vertexCount;
    this.panel.vertices.textContent = `${editing.edit.rings.length} rings, ${count} vertices${editing.edit.dirty ? " (unsaved)" : ""}`;
    this.panel.tolerance.value = String(editing.edit.tolerance);
    this.host.mark("polygonVertices", count);
    this.host.mark("polygonRings", editing.edit.rings.map((r) => (r.hole ? "h" : "o")).join(""));
    this.host.mark("polygonDirty", editing.edit.dirty ? "1" : "0");
  }

  private key(event: KeyboardEvent): void {
    const editing = this.current;
    if (!editing || typingInto(event.target)) return;
    const command = event.ctrlKey || event.metaKey;
    let handled = true;
    if (event.key === "Enter" && !command) this.save();
    else if (event.key === "Escape") {
      if (editing.edit.dirty && !this.escapeArmed) {
        this.escapeArmed = true;
        this.host.say("The polygon has unsaved steps: Enter saves them, Esc again leaves without them.", true);
      } else this.leave();
    } else if (event.key === "Delete" || event.key === "Backspace") {
      if (!editing.layer.deleteVertex()) this.host.say("Point at a vertex to delete it.");
    } else if (command && event.key.toLowerCase() === "z") {
      const done = event.shiftKey ? editing.edit.redo() : editing.edit.undo();
      if (!done) this.host.say(event.shiftKey ? "Nothing to redo." : "Nothing to undo.");
      editing.layer.changed();
      this.stepped();
    } else handled = false;
    if (handled) {
      event.preventDefault();
      event.stopPropagation();
    }
  }
}

/** Keys typed into a form field (the tolerance) or a dialog are not the image's. */
function typingInto(target: EventTarget | null): boolean {
  const element = target as HTMLElement | null;
  const tag = element?.tagName;
  return tag === "INPUT" || tag === "SELECT" || tag === "TEXTAREA" || Boolean(element?.closest?.("dialog"));
}

/** Makes the side panel's polygon section (hidden until polygon mode is on) and puts it
 * before ``before`` in ``panel``. */
export function createPolygonPanel(panel: HTMLElement, before: Element | null): PolygonPanel {
  const section = document.createElement("div");
  section.id = "annotator-polygon-section";
  section.hidden = true;
  const title = document.createElement("h2");
  title.textContent = "Polygon";
  const label = document.createElement("label");
  label.textContent = "tolerance (px) ";
  const tolerance = document.createElement("input");
  tolerance.type = "number";
  tolerance.id = "annotator-polygon-tolerance";
  tolerance.min = "0";
  tolerance.max = "100";
  tolerance.step = "0.5";
  tolerance.tabIndex = -1;
  tolerance.style.width = "5em";
  label.append(tolerance);
  const vertices = document.createElement("p");
  vertices.id = "annotator-polygon-vertices";
  section.append(title, label, vertices);
  panel.insertBefore(section, before);
  return { section, tolerance, vertices };
}
