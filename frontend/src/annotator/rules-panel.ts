/**
 * Quality rules (#17) in the annotator: the project's rules checked in the browser each
 * time the image's annotations change (a save, a delete, a relabel, an edit), by Pyodide
 * in a worker of its own (../rules/), with the problems listed in the side panel. A
 * problem's click selects the annotation it concerns. Errors hold a submit until the
 * person gives a reason, which goes with the submit (the server checks again and keeps
 * it for the reviewer). When the server refuses a submit or accept for errors the page
 * did not know of (its worker was not ready yet: Pyodide takes seconds to start), the
 * server's problems are listed here instead and the reason is asked in the same dialog.
 *
 * Nothing of this is on a click's path: the rules are read and the worker started once
 * the page is idle after the image is clickable; a project without rules starts nothing.
 */

import { RulesClient } from "../rules/rules-client";
import type { RuleImage, RuleProblem, RuleSpec } from "../rules/protocol";
import { askText } from "./dialogs";
import { fetchRuleChecks, reasonNote } from "./rules-reasons";
import type { ImageSession } from "./session";
import type { RulesRefusal } from "./workflow-api";

/** Where the rules' files and the project's rules are (the annotator's configuration). */
export interface RulesConfig {
  readonly rulesUrl: string; // GET: {"version", "rules": [...]}
  readonly workerUrl: string;
  readonly pyodideUrl: string;
  readonly packageUrl: string;
  /** An image's check results (``…/images/0/rule-checks/``, the 0 replaced by its id). */
  readonly checksUrlTemplate?: string;
}

export interface RulesHost {
  session(): ImageSession | null;
  className(labelClass: number): string;
  /** Selects annotation ``id`` on the image on screen. */
  select(id: number): void;
  mark(name: string, value: number | string): void;
}

type State = "waiting" | "none" | "loading" | "ready" | "failed";

/** What the rules see of ``s``'s saved annotations. */
export function ruleImage(s: ImageSession, className: (labelClass: number) => string): RuleImage {
  return {
    width: s.image.width,
    height: s.image.height,
    name: s.image.imageName,
    annotations: s.annotations.map(({ annotation: a }) => ({
      id: a.id,
      label: className(a.label_class),
      box: a.bbox ?? [0, 0, 0, 0],
      area: a.area,
      rle: a.rle,
    })),
  };
}

/** The question before a ``move`` despite ``errors``, the same from the browser's check
 * and from the server's refusal. */
export function reasonQuestion(errors: readonly RuleProblem[], move: "submit" | "accept"): string {
  const listed = errors.map((p) => p.message).join("; ");
  const verb = move === "submit" ? "Submit" : "Accept";
  return (
    `The quality rules found ${errors.length} error${errors.length === 1 ? "" : "s"}: ${listed.slice(0, 300)}. ` +
    `${verb} anyway? Say why (${move === "submit" ? "the reviewer reads it" : "it is kept with the image"}).`
  );
}

/** Changes when what the rules see changes: the image, its annotations' versions and classes. */
function signature(s: ImageSession): string {
  const parts = s.annotations.map(({ annotation: a }) => `${a.id}.${a.version}.${a.label_class}`);
  return `${s.image.imageId}:${parts.join(",")}`;
}

export class RulesPanel {
  private state: State = "waiting";
  private client: RulesClient | null = null;
  private checked = ""; // the signature of the problems shown
  private problems: readonly RuleProblem[] = [];
  private running: Promise<void> | null = null;
  private readonly section: HTMLElement;
  private readonly summary: HTMLElement;
  private readonly list: HTMLOListElement;
  private readonly note: HTMLParagraphElement; // why the last move went on despite errors
  private noteFor: number | null = null; // the image whose note is asked for or shown

  constructor(
    private readonly config: RulesConfig,
    private readonly host: RulesHost,
    aside: HTMLElement,
    before: Element | null,
    private readonly reasonDialog: HTMLDialogElement,
  ) {
    this.section = document.createElement("div");
    this.section.id = "annotator-rules-section";
    this.section.hidden = true;
    const title = document.createElement("h2");
    title.textContent = "Quality rules";
    this.summary = document.createElement("p");
    this.summary.id = "annotator-rules-summary";
    this.list = document.createElement("ol");
    this.list.id = "annotator-rules";
    this.note = document.createElement("p");
    this.note.id = "annotator-rules-reason";
    this.note.hidden = true;
    this.section.append(title, this.note, this.summary, this.list);
    aside.insertBefore(this.section, before);
    this.setState("waiting");
  }

  /** Reads the project's rules and starts the worker once the page is idle. */
  startWhenIdle(): void {
    const begin = (): void => void this.begin();
    if ("requestIdleCallback" in window) window.requestIdleCallback(begin, { timeout: 3000 });
    else setTimeout(begin, 500);
  }

  private async begin(): Promise<void> {
    if (this.state !== "waiting") return;
    let spec: RuleSpec;
    try {
      const response = await fetch(this.config.rulesUrl, { credentials: "same-origin", headers: { Accept: "application/json" } });
      if (!response.ok) throw new Error(`the rules could not be read (${response.status})`);
      spec = (await response.json()) as RuleSpec;
    } catch (error) {
      return this.fail(error);
    }
    if (spec.rules.length === 0) return this.setState("none");
    this.section.hidden = false;
    this.setState("loading");
    const shown = this.host.session();
    if (shown) this.showReason(shown);
    this.summary.textContent = `Loading the rules (version ${spec.version})…`;
    this.client = new RulesClient({
      workerUrl: this.config.workerUrl,
      pyodideUrl: this.config.pyodideUrl,
      packageUrl: this.config.packageUrl,
      spec,
      onReady: (ms) => {
        this.host.mark("rulesStartMs", Math.round(ms));
        performance.mark("samlabel:rules-ready", { detail: { startMs: ms } });
      },
    });
    try {
      await this.client.start();
    } catch (error) {
      return this.fail(error);
    }
    this.setState("ready");
    const s = this.host.session();
    if (s) this.annotationsChanged(s);
  }

  /** The annotations of ``s`` (on screen) may have changed: check them again if so. */
  annotationsChanged(s: ImageSession): void {
    if (this.state !== "waiting" && this.state !== "none") this.showReason(s);
    if (this.state !== "ready" || signature(s) === this.checked || this.running) return;
    this.running = this.check(s).finally(() => {
      this.running = null;
      const now = this.host.session();
      if (now && !now.isClosed && signature(now) !== this.checked) this.annotationsChanged(now);
    });
  }

  private async check(s: ImageSession): Promise<void> {
    if (!this.client) return;
    const seen = signature(s);
    try {
      const result = await this.client.check(ruleImage(s, (id) => this.host.className(id)));
      this.checked = seen;
      this.problems = result.problems;
      this.host.mark("rulesCheckMs", result.ms.toFixed(1));
    } catch (error) {
      this.checked = seen;
      this.problems = [{ rule: "rules", severity: "warning", message: `the rules could not run: ${String(error)}`, annotation_ids: [] }];
    }
    this.render();
  }

  /** Before a submit of ``s``: "" to go on, a reason when the person gives one for
   * submitting despite errors, null when they cancel. When the rules are not ready the
   * submit goes on (the server checks it and refuses errors without a reason). */
  async reason(s: ImageSession): Promise<string | null> {
    if (this.state !== "ready") return "";
    while (this.running || signature(s) !== this.checked) {
      if (!this.running) this.annotationsChanged(s);
      await this.running;
    }
    const errors = this.problems.filter((p) => p.severity === "error");
    if (errors.length === 0) return "";
    return askText(this.reasonDialog, reasonQuestion(errors, "submit"));
  }

  /** The server refused ``move`` of ``s`` for the rules' errors: lists the problems it
   * found (until the browser's own check of the image replaces them) and asks why in the
   * same dialog as :meth:`reason`; the reason, or null when the person cancels. */
  refused(s: ImageSession, move: "submit" | "accept", refusal: RulesRefusal): Promise<string | null> {
    if (this.host.session() === s && !s.isClosed) {
      this.problems = refusal.problems;
      this.section.hidden = false;
      this.host.mark("rulesServerVersion", refusal.rulesVersion);
      this.render(`found by the server's check (rules version ${refusal.rulesVersion})`);
    }
    const errors = refusal.problems.filter((p) => p.severity === "error");
    return askText(this.reasonDialog, errors.length ? reasonQuestion(errors, move) : refusal.detail);
  }

  /** Shows, once per image, why its last submit or accept went on despite the rules'
   * errors (the reason given then), or nothing. */
  private showReason(s: ImageSession): void {
    const id = s.image.imageId;
    const template = this.config.checksUrlTemplate;
    if (this.noteFor === id || !template) return;
    this.noteFor = id;
    this.note.hidden = true;
    this.host.mark("rulesReason", "");
    void fetchRuleChecks(template.replace(/\/0\/rule-checks\/$/, `/${id}/rule-checks/`)).then((checks) => {
      if (this.noteFor !== id) return; // another image is on screen by now
      const text = reasonNote(checks);
      this.note.textContent = text ?? "";
      this.note.hidden = text === null;
      this.host.mark("rulesReason", text === null ? "none" : "shown");
    });
  }

  /** Lists ``this.problems``; ``source`` says where they come from when not from the
   * browser's own check. */
  private render(source = ""): void {
    const errors = this.problems.filter((p) => p.severity === "error").length;
    const warnings = this.problems.length - errors;
    this.host.mark("rulesErrors", errors);
    this.host.mark("rulesWarnings", warnings);
    this.host.mark("rulesChecked", this.checked);
    this.summary.textContent =
      this.problems.length === 0
        ? "No problems."
        : `${errors} error${errors === 1 ? "" : "s"}, ${warnings} warning${warnings === 1 ? "" : "s"}` +
          (source ? `, ${source}` : "") +
          (errors ? " (submitting asks for a reason)" : "");
    this.list.replaceChildren(
      ...this.problems.map((problem) => {
        const item = document.createElement("li");
        item.dataset["severity"] = problem.severity;
        item.dataset["annotations"] = problem.annotation_ids.join(",");
        item.style.color = problem.severity === "error" ? "#ff8a80" : "#ffd180";
        item.textContent = `${problem.severity === "error" ? "✖" : "⚠"} ${problem.rule}: ${problem.message}`;
        const target = problem.annotation_ids[0];
        if (target !== undefined) {
          item.tabIndex = -1;
          item.title = "Select what it concerns";
          item.style.cursor = "pointer";
          item.addEventListener("mousedown", (event) => event.preventDefault()); // keeps the keys on the image
          item.addEventListener("click", () => this.host.select(target));
        }
        return item;
      }),
    );
  }

  private fail(error: unknown): void {
    this.section.hidden = false;
    this.summary.textContent = `The rules cannot run in this browser (${String(error)}); the server checks them at submit.`;
    this.setState("failed");
  }

  private setState(state: State): void {
    this.state = state;
    this.host.mark("rules", state);
  }
}
