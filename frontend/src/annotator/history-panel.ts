/**
 * An annotation's history in the side panel ("history" on its row): its versions,
 * newest first, with who saved each, when and what it changed, those saved since the
 * image's last review marked; choosing an older version draws its mask's outline dashed
 * over the image, so a reviewer sees what the fix changed. The version before the
 * current one is drawn at once. The words come from versions.ts (pure).
 */

import { decodeRle } from "../lib/rle";
import { describe } from "./errors";
import { button } from "./panel";
import { type AnnotationHistory, type AnnotationVersion, reviewText, versionRows } from "./versions";
import { paintMask } from "./view";
import type { WorkflowApi } from "./workflow-api";

/** A version's outline to draw dashed (image pixels). */
export interface GhostOutline {
  readonly outline: Path2D;
  readonly version: number;
}

export interface HistoryHost {
  className(id: number | null): string;
  /** Draws ``ghost`` dashed over the image (null: none). */
  ghost(ghost: GhostOutline | null): void;
  say(message: string, isError?: boolean): void;
}

export interface HistoryElements {
  readonly section: HTMLElement;
  readonly title: HTMLElement;
  readonly review: HTMLElement;
  readonly list: HTMLElement;
  readonly close: HTMLElement;
}

export class HistoryPanel {
  private history: AnnotationHistory | null = null;
  private asked: number | null = null;
  private chosen: number | null = null;

  constructor(
    private readonly api: WorkflowApi,
    private readonly host: HistoryHost,
    private readonly elements: HistoryElements,
  ) {
    elements.close.addEventListener("mousedown", (event) => event.preventDefault());
    elements.close.addEventListener("click", () => this.close());
  }

  /** The annotation whose history is shown, if any. */
  get annotation(): number | null {
    return this.asked;
  }

  /** Shows annotation ``annotationId``'s history (again, if shown: it may have changed). */
  async show(annotationId: number): Promise<void> {
    this.asked = annotationId;
    this.elements.section.hidden = false;
    this.elements.title.textContent = `History of #${annotationId}`;
    this.elements.review.textContent = "loading…";
    this.elements.list.replaceChildren();
    try {
      const history = await this.api.history(annotationId);
      if (this.asked !== annotationId) return;
      if (!history) {
        this.elements.review.textContent = "This project keeps no history.";
        return;
      }
      this.history = history;
      // The version before the current one, outlined at once: what the last save changed.
      const before = history.versions.find((version) => version.version !== history.version);
      this.choose(before?.version ?? null);
    } catch (error) {
      if (this.asked === annotationId) this.elements.review.textContent = "";
      this.host.say(`Cannot read the history of #${annotationId}: ${describe(error)}`, true);
    }
  }

  /** Hides the history and its outline (another image, or the annotation is gone). */
  close(): void {
    this.asked = null;
    this.history = null;
    this.chosen = null;
    this.elements.section.hidden = true;
    this.elements.list.replaceChildren();
    this.host.ghost(null);
  }

  private choose(version: number | null): void {
    const history = this.history;
    if (!history) return;
    const found = history.versions.find((v) => v.version === version && v.version !== history.version);
    this.chosen = found ? found.version : null;
    this.host.ghost(found ? { outline: outlineOf(found), version: found.version } : null);
    this.render(history);
  }

  private render(history: AnnotationHistory): void {
    this.elements.review.textContent = reviewText(history.last_review);
    const rows = versionRows(history, (id) => this.host.className(id));
    this.elements.list.replaceChildren(
      ...rows.map((row) => {
        const item = document.createElement("li");
        item.dataset["version"] = String(row.version);
        if (row.changedSinceReview) item.dataset["changed"] = "1";
        if (row.version === this.chosen) item.className = "chosen";
        const heading = document.createElement("strong");
        heading.textContent = row.heading + (row.current ? " (now)" : "");
        const change = document.createElement("span");
        change.textContent = row.change;
        item.append(heading, change);
        if (row.changedSinceReview) {
          const mark = document.createElement("em");
          mark.textContent = "changed since review";
          item.append(mark);
        }
        if (!row.current) {
          const chosen = row.version === this.chosen;
          item.append(button(chosen ? "hide outline" : "outline", () => this.choose(chosen ? null : row.version)));
        }
        return item;
      }),
    );
  }
}

/** The outline of a version's mask, image pixels. */
function outlineOf(version: AnnotationVersion): Path2D {
  const [height, width] = version.rle.size;
  return paintMask(decodeRle(version.rle), { height, width }, "#ffffff").outline;
}
