/**
 * Undo/redo of everything the annotator does: prompt edits and saved or deleted
 * annotations. Pure bookkeeping; the page performs the effects (API calls).
 */

import type { Prompt } from "../lib/prompts";
import { type EditAction, renumberEdit } from "./edit-changes"; // mask editing (#16)

export type Action =
  | { readonly kind: "prompt"; readonly before: Prompt; readonly after: Prompt }
  | { readonly kind: "save"; readonly annotationId: number; readonly payload: AnnotationPayload }
  | { readonly kind: "delete"; readonly annotationId: number; readonly payload: AnnotationPayload }
  | EditAction; // mask editing (#16): a step of changes to saved annotations (edit-changes.ts)

export interface AnnotationPayload {
  readonly label_class: number;
  readonly rle: { readonly size: readonly [number, number]; readonly counts: string };
  readonly prompts: {
    readonly points: readonly (readonly [number, number])[];
    readonly labels: readonly number[];
    readonly box: readonly [number, number, number, number] | null;
  };
  /** The proposal the mask was refined from, when it was (null from the server when not). */
  readonly proposal_id?: number | null;
  /** Where the annotation came from (``manual``, ``proposal``, ``import``), as the server
   * says; an undo that makes a deleted annotation again keeps it. */
  readonly source?: string;
}

export const EMPTY_PROMPT: Prompt = { points: [], positive: [], box: null };

export class History {
  private done: Action[] = [];
  private undone: Action[] = [];

  record(action: Action): void {
    this.done.push(action);
    this.undone = [];
  }

  /** The action to reverse, moved to the redo stack; null when there is none. */
  undo(): Action | null {
    const action = this.done.pop() ?? null;
    if (action) this.undone.push(action);
    return action;
  }

  redo(): Action | null {
    const action = this.undone.pop() ?? null;
    if (action) this.done.push(action);
    return action;
  }

  /** After a redo re-created an annotation under a new id, later undos use that id. */
  renumber(oldId: number, newId: number): void {
    const swap = (a: Action): Action => {
      if (a.kind === "edit") return renumberEdit(a, oldId, newId); // mask editing (#16)
      return a.kind !== "prompt" && a.annotationId === oldId ? { ...a, annotationId: newId } : a;
    };
    this.done = this.done.map(swap);
    this.undone = this.undone.map(swap);
  }

  /** Forgets everything, as when the page moves to another image: undoing an edit of an
   * image no longer on screen would be confusing. */
  clear(): void {
    this.done = [];
    this.undone = [];
  }

  get canUndo(): boolean {
    return this.done.length > 0;
  }

  get canRedo(): boolean {
    return this.undone.length > 0;
  }
}

export function addPoint(prompt: Prompt, point: readonly [number, number], positive: boolean): Prompt {
  return { ...prompt, points: [...prompt.points, point], positive: [...prompt.positive, positive] };
}

export function withBox(prompt: Prompt, box: readonly [number, number, number, number]): Prompt {
  const [x0, y0, x1, y1] = box;
  return {
    ...prompt,
    box: [Math.min(x0, x1), Math.min(y0, y1), Math.max(x0, x1), Math.max(y0, y1)],
  };
}

export function isEmpty(prompt: Prompt): boolean {
  return prompt.points.length === 0 && prompt.box === null;
}

/** SAM's three candidates make sense for one click alone; otherwise the single mask. */
export function usesCandidates(prompt: Prompt): boolean {
  return prompt.points.length === 1 && prompt.box === null;
}
