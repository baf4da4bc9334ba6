/**
 * The project's label classes and the one chosen for the next save. The choice is
 * remembered per project and user (in localStorage), so a page load comes back to the
 * class the user was labelling rather than to the first one.
 */

import type { LabelClass } from "./api";

/** The colour of a mask whose class is unknown. */
export const FALLBACK_COLOR = "#3388ff";

/** What an image's session needs of the classes. */
export interface ClassChoice {
  /** The class the next save uses; null when the project has none (or before they load). */
  readonly current: LabelClass | null;
  /** Resolves once the classes are loaded: saved annotations are listed after that, so
   * that they never show without their class, whichever request answers first. */
  readonly ready: Promise<unknown>;
}

/** Where the last class chosen is kept: a class id, or null when nothing is kept. */
export interface ClassMemory {
  recall(): number | null;
  keep(id: number): void;
}

/** A ClassMemory in ``storage`` under ``key``; one that fails (storage disabled, full)
 * remembers nothing rather than breaking the page. */
export function storedClassMemory(storage: Pick<Storage, "getItem" | "setItem"> | null, key: string): ClassMemory {
  return {
    recall() {
      try {
        const value = storage?.getItem(key) ?? null;
        return value === null || !/^\d+$/.test(value) ? null : Number(value);
      } catch {
        return null;
      }
    },
    keep(id) {
      try {
        storage?.setItem(key, String(id));
      } catch {
        // Nothing to do: the choice is simply not remembered.
      }
    },
  };
}

/** A class the server suggested for the object being labelled, with its confidence
 * (0-1). */
export interface SuggestedClass {
  readonly label: LabelClass;
  readonly confidence: number;
}

export class LabelClasses implements ClassChoice {
  private classes: readonly LabelClass[] = [];
  private chosen: LabelClass | null = null;
  /** Pre-selected for the object being labelled only: the user's own choice comes back
   * once it is saved or cleared. */
  private suggested: SuggestedClass | null = null;
  /** Shown for the object being labelled, not pre-selected: the user takes it with its
   * key, or not. */
  private hinted: SuggestedClass | null = null;
  readonly ready: Promise<void>;

  /** ``load`` fetches the project's classes; ``onChange`` runs once they are loaded and
   * after each choice. */
  constructor(
    load: () => Promise<LabelClass[]>,
    private readonly memory: ClassMemory,
    private readonly onChange: () => void,
  ) {
    this.ready = load().then((classes) => {
      this.classes = classes;
      const remembered = memory.recall();
      this.chosen = classes.find((c) => c.id === remembered) ?? classes[0] ?? null;
      onChange();
    });
  }

  get all(): readonly LabelClass[] {
    return this.classes;
  }

  get current(): LabelClass | null {
    return this.suggested?.label ?? this.chosen;
  }

  /** The suggestion pre-selected, if any. */
  get suggestion(): SuggestedClass | null {
    return this.suggested;
  }

  /** The suggestion shown as a hint only, if any. */
  get hint(): SuggestedClass | null {
    return this.hinted;
  }

  /** The user's choice: it ends any suggestion or hint, and is remembered. */
  choose(label: LabelClass): void {
    this.chosen = label;
    this.suggested = null;
    this.hinted = null;
    this.memory.keep(label.id);
    this.onChange();
  }

  /** Pre-selects ``id`` (if a class of the project) for the object being labelled, not
   * remembered, or with ``preselect`` false only shows it as a hint; null ends the
   * suggestion and the hint. */
  suggest(id: number | null, confidence = 0, preselect = true): void {
    const label = id === null ? undefined : this.find(id);
    const next = label ? { label, confidence } : null;
    const suggested = preselect ? next : null;
    const hinted = preselect ? null : next;
    if (same(suggested, this.suggested) && same(hinted, this.hinted)) return;
    this.suggested = suggested;
    this.hinted = hinted;
    this.onChange();
  }

  /** The class whose shortcut is ``key``, if any. */
  byShortcut(key: string): LabelClass | undefined {
    return this.classes.find((c) => c.shortcut !== "" && c.shortcut === key);
  }

  find(id: number): LabelClass | undefined {
    return this.classes.find((c) => c.id === id);
  }

  colorOf(id: number): string {
    return this.find(id)?.color ?? FALLBACK_COLOR;
  }
}

function same(a: SuggestedClass | null, b: SuggestedClass | null): boolean {
  return a?.label === b?.label && a?.confidence === b?.confidence;
}
