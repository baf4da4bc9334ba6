/**
 * Mask edits as undoable steps. One step (a brush stroke, a fill, a merge, a split...) is
 * a list of changes to saved annotations, each of which the server stores as it does any
 * save: a new mask is a new version of the annotation (through its version check), a
 * created or deleted annotation is created or deleted. Undo applies the step's inverse
 * changes in reverse order, redo applies them again in order; both are saves too, so
 * every edit and its undo stay in the annotation's history.
 */

import type { Rle } from "../lib/rle";
import type { Annotation } from "./api";
import type { AnnotationPayload } from "./history";

/** One change of a saved annotation, ids as the server numbers them. */
export type EditChange =
  | { readonly kind: "mask"; readonly id: number; readonly before: Rle; readonly after: Rle }
  | { readonly kind: "create"; readonly id: number; readonly payload: AnnotationPayload }
  | { readonly kind: "delete"; readonly id: number; readonly payload: AnnotationPayload };

/** An undoable edit step; ``what`` names it for messages ("brush", "merge"...).
 * ``changes`` is renumbered in place (``renumberEdit``), so that a step being replayed
 * sees the ids its own earlier changes gave. */
export interface EditAction {
  readonly kind: "edit";
  readonly what: string;
  changes: EditChange[];
  /** A merge: ``changes`` are the kept annotation's new mask then the other's delete,
   * and a redo makes them in one request where the port can (``EditPort.merge``), as an
   * undo takes them back in one (``EditPort.unmerge``). */
  readonly merge?: true;
}

/** What replaying changes needs of the image's session. */
export interface EditPort {
  /** Gives annotation ``id`` mask ``rle`` as a new version (its version as listed). */
  setMask(id: number, rle: Rle): Promise<Annotation>;
  create(payload: AnnotationPayload): Promise<Annotation>;
  /** Deletes annotation ``id`` (at its version as listed); throws when it cannot. */
  remove(id: number): Promise<void>;
  /** Merges annotation ``otherId`` into ``keptId`` in one request (the server's union of
   * their masks as a new version of the kept one, the other deleted; both or neither). */
  merge?(keptId: number, otherId: number): Promise<Annotation>;
  /** Undoes a merge into ``keptId`` in one request: its mask ``before`` the merge back
   * (a new version) and annotation ``otherId`` made again from ``payload``, both or
   * neither; returns the one made again (a new id). */
  unmerge?(keptId: number, before: Rle, otherId: number, payload: AnnotationPayload): Promise<Annotation>;
  /** A re-created annotation got a new id: later steps must use it. */
  renumber(oldId: number, newId: number): void;
}

/** ``action``'s changes with annotation ``oldId`` called ``newId`` (in place). */
export function renumberEdit(action: EditAction, oldId: number, newId: number): EditAction {
  action.changes = action.changes.map((change) => (change.id === oldId ? { ...change, id: newId } : change));
  return action;
}

/** Undoes (``"undo"``) or redoes a step's changes through ``port``; stops at the first
 * change that fails, and throws its error. Ids are read as they are when each change
 * is made, so a change renumbered by an earlier one of the same step follows it. A merge
 * step goes either way in one request where the port can (``merge``, ``unmerge``), so
 * that it is never half undone or half redone. */
export async function replayEdit(action: EditAction, direction: "undo" | "redo", port: EditPort): Promise<void> {
  const [kept, other] = action.changes;
  if (action.merge && action.changes.length === 2 && kept?.kind === "mask" && other?.kind === "delete") {
    if (direction === "redo" && port.merge) {
      await port.merge(kept.id, other.id);
      return;
    }
    if (direction === "undo" && port.unmerge) {
      const made = await port.unmerge(kept.id, kept.before, other.id, other.payload);
      port.renumber(other.id, made.id);
      return;
    }
  }
  const count = action.changes.length;
  for (let k = 0; k < count; k++) {
    const index = direction === "undo" ? count - 1 - k : k;
    const change = action.changes[index] as EditChange;
    const forward = direction === "redo";
    if (change.kind === "mask") await port.setMask(change.id, forward ? change.after : change.before);
    else if ((change.kind === "create") === forward) {
      const created = await port.create(change.payload);
      port.renumber(change.id, created.id);
    } else await port.remove(change.id);
  }
}
