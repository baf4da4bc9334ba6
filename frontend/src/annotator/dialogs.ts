/**
 * The page's own dialogs (``<dialog>`` elements of the template, never the browser's
 * prompt or confirm, which stop the page): a line of text to write, a question to answer.
 * Esc or Cancel closes them with nothing.
 */

/** Asks for a line of text in ``dialog`` (a form with one input and OK / Cancel
 * buttons); the trimmed text, or null when cancelled or left empty. */
export function askText(dialog: HTMLDialogElement, title: string): Promise<string | null> {
  const input = dialog.querySelector("input") as HTMLInputElement;
  (dialog.querySelector("[data-title]") as HTMLElement).textContent = title;
  input.value = "";
  return answer(dialog, input, () => (dialog.returnValue === "ok" && input.value.trim() ? input.value.trim() : null));
}

/** Asks ``question`` in ``dialog`` (a form with OK / Cancel buttons); true for OK. */
export function confirmIn(dialog: HTMLDialogElement, question: string): Promise<boolean> {
  (dialog.querySelector("[data-title]") as HTMLElement).textContent = question;
  const ok = dialog.querySelector("button[value=ok]") as HTMLButtonElement;
  return answer(dialog, ok, () => dialog.returnValue === "ok");
}

function answer<T>(dialog: HTMLDialogElement, focus: HTMLElement, result: () => T): Promise<T> {
  dialog.returnValue = "";
  dialog.showModal();
  focus.focus();
  return new Promise((resolve) => {
    dialog.addEventListener(
      "close",
      () => {
        // Focus leaves the closed dialog at once: the browser moves it off the hidden input
        // only at its next rendering update, and a key pressed before that (Ctrl+Enter
        // right after Esc) would still be the dialog's, which the page's keys ignore.
        const focused = document.activeElement;
        if (focused instanceof HTMLElement && dialog.contains(focused)) focused.blur();
        resolve(result());
      },
      { once: true },
    );
  });
}
