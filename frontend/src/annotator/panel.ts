/**
 * The side panel's lists: the label classes, the image's saved annotations and the key
 * help. Their buttons never take the keyboard focus (neither Tab nor a click gives it
 * them), so that Enter and Space always act on the image, never on a focused button.
 */

import type { Annotation, LabelClass } from "./api";
import type { LabelClasses } from "./classes";
import type { SavedAnnotation } from "./session";

/** A button that acts on click but is never focused. */
export function button(text: string, onClick: () => void, className = ""): HTMLButtonElement {
  const item = document.createElement("button");
  item.type = "button";
  item.tabIndex = -1;
  item.className = className;
  item.textContent = text;
  item.addEventListener("mousedown", (event) => event.preventDefault()); // keeps the focus where it was
  item.addEventListener("click", onClick);
  return item;
}

export function renderClasses(list: HTMLElement, classes: LabelClasses, choose: (label: LabelClass) => void): void {
  const current = classes.current;
  list.replaceChildren(
    ...classes.all.map((label) => {
      const text = label.shortcut ? `${label.name} (${label.shortcut})` : label.name;
      const item = button(text, () => choose(label), label.id === current?.id ? "label current" : "label");
      item.dataset["labelClass"] = String(label.id);
      item.setAttribute("aria-pressed", String(label.id === current?.id));
      item.style.borderLeftColor = label.color;
      if (classes.suggestion?.label.id === label.id) item.dataset["suggested"] = "1";
      if (classes.hint?.label.id === label.id) item.dataset["hinted"] = "1";
      return item;
    }),
  );
}

/** What the annotation rows do. */
export interface AnnotationActions {
  select(id: number): void;
  relabel(id: number, labelId: number): void;
  toggleVisible(id: number): void;
  remove(id: number): void;
  /** Shows the annotation's history (absent: the project keeps none). */
  history?: ((id: number) => void) | undefined;
  /** The annotation whose history is shown, if any. */
  historyShown?: number | null;
  /** A review's verdict on the annotation, if any. */
  verdictOf?(id: number): "accept" | "reject" | null;
}

/** "by ann", "by ann, edited by rev": who made an annotation and who changed it last. */
export function authorship(author: string | null | undefined, lastEditor: string | null | undefined): string {
  if (!author) return lastEditor ? `edited by ${lastEditor}` : "";
  return lastEditor && lastEditor !== author ? `by ${author}, edited by ${lastEditor}` : `by ${author}`;
}

const VERDICT_MARKS = { accept: "✓ accepted", reject: "✗ rejected" } as const;

/** "proposal", "proposal, class suggested": what of an annotation a machine made, for
 * the reviewer; "" for one a person drew and classed. */
export function origin(annotation: Pick<Annotation, "source" | "class_suggested">): string {
  const parts = [annotation.source === "proposal" ? "proposal" : "", annotation.class_suggested ? "class suggested" : ""];
  return parts.filter(Boolean).join(", ");
}

export function renderAnnotations(
  list: HTMLElement,
  saved: readonly SavedAnnotation[],
  selected: number | null,
  classes: LabelClasses,
  actions: AnnotationActions,
): void {
  list.replaceChildren(
    ...saved.map(({ annotation, visible }) => {
      const row = document.createElement("li");
      row.dataset["annotationId"] = String(annotation.id);
      row.dataset["labelClass"] = String(annotation.label_class);
      row.dataset["version"] = String(annotation.version); // mask editing (#16): for tests and people
      row.className = annotation.id === selected ? "selected" : "";
      const name = document.createElement("span");
      const who = authorship(annotation.author, annotation.last_editor);
      const verdict = actions.verdictOf?.(annotation.id) ?? null;
      if (verdict) row.dataset["verdict"] = verdict;
      name.textContent = [
        `#${annotation.id}`,
        `${annotation.area.toLocaleString()} px`,
        origin(annotation),
        who,
        verdict ? VERDICT_MARKS[verdict] : "",
      ]
        .filter(Boolean)
        .join(" · ");
      if (annotation.class_suggested) {
        row.dataset["classSuggested"] = "1";
        name.title = "No person chose this class: it is the one its labelled neighbours suggested.";
      }
      name.style.borderLeftColor = classes.colorOf(annotation.label_class);
      name.onclick = () => actions.select(annotation.id);
      const select = document.createElement("select");
      select.setAttribute("aria-label", "class");
      for (const label of classes.all) {
        select.add(new Option(label.name, String(label.id), false, label.id === annotation.label_class));
      }
      select.onchange = () => {
        actions.relabel(annotation.id, Number(select.value));
        select.blur(); // the keys act on the image again
      };
      const toggle = button(visible ? "hide" : "show", () => actions.toggleVisible(annotation.id));
      const del = button("delete", () => actions.remove(annotation.id));
      row.append(name, select, toggle);
      const history = actions.history;
      if (history) {
        const shown = actions.historyShown === annotation.id;
        row.append(button("history", () => history(annotation.id), shown ? "history shown" : "history"));
      }
      row.append(del);
      return row;
    }),
  );
}

export function renderKeyHelp(list: HTMLElement, help: readonly { keys: string; does: string }[]): void {
  list.replaceChildren(
    ...help.flatMap(({ keys, does }) => {
      const term = document.createElement("dt");
      term.textContent = keys;
      const description = document.createElement("dd");
      description.textContent = does;
      return [term, description];
    }),
  );
}
