/**
 * Class suggestions: the server ranks the project's classes for a mask by its nearest
 * labelled neighbours (pooled SAM features). The page pre-selects the first for the
 * object being labelled when the server finds it confident enough for the project, and
 * shows its confidence; the user confirms with Enter or a key. A first class that is not
 * confident enough is only shown, as a hint the user takes with the class's key. A class
 * the user chose for this object is never replaced by a suggestion.
 */

import type { Rle } from "../lib/rle";
import { request } from "./api";

export interface ClassSuggestion {
  readonly label_class: number;
  readonly name?: string;
  readonly confidence: number;
  /** Confident enough to pre-select: the server measures, on the project's own labels,
   * the confidence from which its suggestions are right often enough (80 % by default),
   * and marks the first suggestion when it reaches it. */
  readonly preselect?: boolean;
}

/** The first suggestion of a class the page knows, unless the user chose a class for
 * this object themselves. */
function firstKnown(
  ranked: readonly ClassSuggestion[],
  chosenByUser: boolean,
  knownClasses: ReadonlySet<number>,
): ClassSuggestion | null {
  if (chosenByUser) return null;
  return ranked.find((s) => knownClasses.has(s.label_class)) ?? null;
}

/** The suggestion to pre-select, from the server's ranking (best first): the first of a
 * class the page knows, when the server marked it confident enough for this project,
 * unless the user chose a class for this object themselves. */
export function suggestionToPreselect(
  ranked: readonly ClassSuggestion[],
  chosenByUser: boolean,
  knownClasses: ReadonlySet<number>,
): ClassSuggestion | null {
  const best = firstKnown(ranked, chosenByUser, knownClasses);
  // Where the project's labels show the neighbours often wrong, a pre-selected guess
  // would make the user undo it more often than it saves a key press.
  return best?.preselect === true ? best : null;
}

/** The suggestion to show as a hint only, not pre-selected: that same first one, when
 * the server did not find it confident enough for this project. */
export function suggestionToHint(
  ranked: readonly ClassSuggestion[],
  chosenByUser: boolean,
  knownClasses: ReadonlySet<number>,
): ClassSuggestion | null {
  const best = firstKnown(ranked, chosenByUser, knownClasses);
  return best && best.preselect !== true ? best : null;
}

/** "suggested: cat 82%". */
export function describeSuggestion(name: string, confidence: number): string {
  return `suggested: ${name} ${Math.round(confidence * 100)}%`;
}

/** "maybe: cat 41% (key c)": a hint, with the key that takes it when the class has one. */
export function describeHint(name: string, confidence: number, shortcut: string): string {
  const key = shortcut ? ` (key ${shortcut})` : "";
  return `maybe: ${name} ${Math.round(confidence * 100)}%${key}`;
}

/** The server's ranking for ``rle``; an empty list when the project has too few labelled
 * examples. */
export async function suggestClass(url: string, rle: Rle): Promise<ClassSuggestion[]> {
  const response = await request(url, { method: "POST", body: JSON.stringify({ rle }) });
  return ((await response.json()) as { suggestions: ClassSuggestion[] }).suggestions;
}

/** How long a new mask stays on screen before its class is asked for: a quick second
 * click makes the first mask's question moot. */
export const SUGGEST_AFTER_MS = 250;

/** What the suggester needs of the page. */
export interface SuggesterPort {
  /** The project's classes: the ids known, and pre-selecting one (null: none), or
   * showing it as a hint only (``preselect`` false). */
  knownClasses(): ReadonlySet<number>;
  suggest(labelClass: number | null, confidence: number, preselect: boolean): void;
  /** An answer came back and was dealt with (used, or dropped as too late or as a
   * class the user chose), or the question failed: for the page's counters. */
  answered?(): void;
}

/**
 * Asks for a class for each new object's mask (a prompt's, after a short rest, or a
 * selected proposal's) and pre-selects it, unless the user chose a class since the last
 * object ended; answers for an object no longer on screen are dropped.
 */
export class ClassSuggester {
  private chosenByUser = false;
  /** Counts the questions asked and the objects ended: an answer is used only if no
   * other question was asked, and no object ended, since it was asked. */
  private generation = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private askedFor: unknown = null;
  /** The last answer was empty (too few labelled examples): masks are not sent again
   * (each costs a full-size mask's encoding) until more is labelled. */
  private barren = false;

  constructor(
    private readonly port: SuggesterPort,
    private readonly ask: (url: string, rle: Rle) => Promise<ClassSuggestion[]> = suggestClass,
  ) {}

  /** The user chose a class: no suggestion replaces it until the object ends. */
  userChose(): void {
    this.chosenByUser = true;
    this.cancel();
  }

  /** Something was labelled: the project may now have enough examples. */
  labelled(): void {
    this.barren = false;
  }

  /** The object was saved, accepted or given up: the next one may be suggested for. */
  objectEnded(): void {
    this.chosenByUser = false;
    this.cancel();
    this.askedFor = null;
    this.port.suggest(null, 0, true);
  }

  /** A new mask of the prompt ``key`` (any object that changes with the prompt) is on
   * screen: after a short rest, asks ``url`` about ``rle()``. */
  maskShown(url: string | null | undefined, key: unknown, rle: () => Rle | null): void {
    if (!url || this.chosenByUser || this.barren || key === this.askedFor) return;
    this.cancel();
    this.askedFor = key;
    const generation = this.generation;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      const mask = rle();
      if (mask && generation === this.generation) void this.request(url, mask, generation);
    }, SUGGEST_AFTER_MS);
  }

  /** A proposal was selected: its suggestion if the server listed one, else asked now. */
  proposalShown(url: string | null | undefined, rle: Rle, listed: ClassSuggestion | null | undefined): void {
    if (this.chosenByUser) return;
    this.cancel();
    this.askedFor = rle;
    if (listed) this.apply([listed]);
    else if (url) void this.request(url, rle, this.generation);
  }

  private cancel(): void {
    this.generation++;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
  }

  private async request(url: string, rle: Rle, generation: number): Promise<void> {
    try {
      const ranked = await this.ask(url, rle);
      this.barren = ranked.length === 0;
      if (generation === this.generation) this.apply(ranked);
    } catch (error) {
      // A suggestion is a convenience: the user labels as before without it.
      console.warn("no class suggestion:", error);
    } finally {
      this.port.answered?.();
    }
  }

  private apply(ranked: readonly ClassSuggestion[]): void {
    const known = this.port.knownClasses();
    const pick = suggestionToPreselect(ranked, this.chosenByUser, known);
    const hint = pick ? null : suggestionToHint(ranked, this.chosenByUser, known);
    if (pick) this.port.suggest(pick.label_class, pick.confidence, true);
    else if (hint) this.port.suggest(hint.label_class, hint.confidence, false);
  }
}
