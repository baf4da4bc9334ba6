/**
 * The image's review issues in the side panel and on the image: each listed with its
 * first comment, its thread shown on demand, replied to and resolved there (by the
 * image's annotator as they fix it, and by reviewers); reviewers and managers pin a new
 * one to a point (I, then a click on the image). Resolved issues are left out, or listed
 * and pinned dimmed with "show resolved". One board for the page; ``load`` gives it the
 * image on screen. The words and pins come from issues.ts (pure); the server's rules
 * decide who may do what (webapp/reviews), and a refusal is said on the status line.
 */

import type { Point } from "../lib/transform";
import { askText } from "./dialogs";
import { describe } from "./errors";
import {
  type Issue,
  type IssueDetail,
  type Pin,
  commentText,
  isOpen,
  issueText,
  listedIssues,
  pinsOf,
  repliesText,
} from "./issues";
import { button } from "./panel";
import type { WorkflowApi } from "./workflow-api";

export interface IssueBoardHost {
  /** The pins or the list changed: draw the image again. */
  changed(): void;
  say(message: string, isError?: boolean): void;
  mark(name: string, value: number | string): void;
}

export interface IssueBoardElements {
  readonly section: HTMLElement;
  readonly list: HTMLElement;
  readonly showResolved: HTMLInputElement;
  readonly commentDialog: HTMLDialogElement;
}

export class IssueBoard {
  private imageId: number | null = null;
  private issues: Issue[] = [];
  /** Threads asked for (by issue id), shown under their issue. */
  private readonly threads = new Map<number, IssueDetail | null>();
  private pinArmed = false;

  /** ``mayOpen``: the member may open issues (reviewers and up); ``mayAnswer``: reply
   * and resolve (annotators and up; the server checks they label the image). */
  constructor(
    private readonly api: WorkflowApi,
    readonly mayOpen: boolean,
    private readonly mayAnswer: boolean,
    private readonly host: IssueBoardHost,
    private readonly elements: IssueBoardElements,
  ) {
    elements.showResolved.addEventListener("change", () => {
      elements.showResolved.blur(); // the keys act on the image again
      this.render();
    });
  }

  /** The image on screen is ``imageId``: its issues are asked for. */
  load(imageId: number): void {
    this.imageId = imageId;
    this.issues = [];
    this.threads.clear();
    this.disarm();
    this.render();
    this.api.imageIssues(imageId).then(
      (issues) => {
        if (this.imageId !== imageId) return;
        this.issues = issues;
        this.render();
      },
      (error: unknown) => this.host.say(`Cannot list this image's issues: ${describe(error)}`, true),
    );
  }

  /** The issues still open on the image, asked of the server (a reviewer may have
   * resolved some meanwhile); the ones known here if it cannot answer. */
  async openNow(imageId: number): Promise<number> {
    try {
      const issues = await this.api.imageIssues(imageId);
      if (this.imageId === imageId) {
        this.issues = issues;
        this.render();
      }
      return issues.filter(isOpen).length;
    } catch {
      return this.imageId === imageId ? this.issues.filter(isOpen).length : 0;
    }
  }

  /** The pins of the issues listed; ``boxes``: annotation id -> [x, y, width, height]. */
  pins(boxes: ReadonlyMap<number, readonly number[]>): Pin[] {
    return pinsOf(this.listed(), boxes);
  }

  // ------------------------------------------------------------ pinning

  get armed(): boolean {
    return this.pinArmed;
  }

  /** I: the next click on the image pins a new issue there (I again, or Esc, cancels).
   * False when the member may not open issues (the key may then be a class's). */
  armPin(): boolean {
    if (!this.mayOpen || this.imageId === null) return false;
    if (this.pinArmed) {
      this.disarm();
      this.host.say("No issue pinned.");
      return true;
    }
    this.pinArmed = true;
    this.host.mark("pinning", "1");
    this.host.say("Click the point the issue is about (Esc cancels).");
    return true;
  }

  disarm(): void {
    this.pinArmed = false;
    this.host.mark("pinning", "0");
  }

  /** Asks for the comment and opens an issue pinned at ``at`` (image pixels, x then y);
   * its pin shows at once. */
  async pinAt(at: Point): Promise<void> {
    const imageId = this.imageId;
    this.disarm();
    if (imageId === null) return;
    const [x, y] = at;
    const text = await askText(this.elements.commentDialog, `What is wrong at (${Math.round(x)}, ${Math.round(y)})?`);
    if (text === null) return this.host.say("No issue pinned.");
    try {
      const issue = await this.api.openIssue(imageId, { x, y }, text);
      if (!issue) return this.host.say("This project keeps no review issues.", true);
      if (this.imageId !== imageId) return;
      this.issues = [...this.issues.filter((known) => known.id !== issue.id), issue];
      this.render();
      this.host.say(`Issue pinned at (${Math.round(x)}, ${Math.round(y)}).`);
    } catch (error) {
      this.host.say(`Cannot pin the issue: ${describe(error)}`, true);
    }
  }

  // ------------------------------------------------------------ threads

  private async toggleThread(issueId: number): Promise<void> {
    if (this.threads.has(issueId)) {
      this.threads.delete(issueId);
      return this.render();
    }
    this.threads.set(issueId, null); // shown as "loading…"
    this.render();
    await this.refreshThread(issueId);
  }

  private async refreshThread(issueId: number): Promise<void> {
    const imageId = this.imageId;
    try {
      const detail = await this.api.issue(issueId);
      if (this.imageId !== imageId) return;
      this.replace(detail);
      if (this.threads.has(issueId)) this.threads.set(issueId, detail);
      this.render();
    } catch (error) {
      this.host.say(`Cannot read the issue's thread: ${describe(error)}`, true);
    }
  }

  private async reply(issueId: number, text: string): Promise<void> {
    try {
      await this.api.reply(issueId, text);
      this.host.say("Reply sent.");
      this.threads.set(issueId, this.threads.get(issueId) ?? null);
      await this.refreshThread(issueId);
    } catch (error) {
      this.host.say(`Not replied: ${describe(error)}`, true);
    }
  }

  private async settle(issueId: number, action: "resolve" | "reopen"): Promise<void> {
    const imageId = this.imageId;
    try {
      const detail = await this.api.settle(issueId, action);
      if (this.imageId !== imageId) return;
      this.replace(detail);
      if (this.threads.has(issueId)) this.threads.set(issueId, detail);
      this.render();
      this.host.say(action === "resolve" ? "Issue resolved." : "Issue open again.");
    } catch (error) {
      this.host.say(`Not ${action === "resolve" ? "resolved" : "reopened"}: ${describe(error)}`, true);
    }
  }

  private replace(issue: Issue): void {
    this.issues = this.issues.map((known) => (known.id === issue.id ? issue : known));
  }

  // ------------------------------------------------------------ drawing

  private listed(): Issue[] {
    return listedIssues(this.issues, this.elements.showResolved.checked);
  }

  private render(): void {
    const { section, list } = this.elements;
    const listed = this.listed();
    const open = this.issues.filter(isOpen).length;
    section.hidden = this.issues.length === 0;
    this.host.mark("openIssues", open);
    list.replaceChildren(...listed.map((issue, index) => this.row(issue, index + 1)));
    this.host.changed();
  }

  private row(issue: Issue, number: number): HTMLLIElement {
    const row = document.createElement("li");
    row.dataset["issueId"] = String(issue.id);
    row.dataset["status"] = issue.status;
    const text = document.createElement("span");
    text.className = "issue-text";
    text.textContent = issueText(issue, number);
    const replies = repliesText(issue);
    const thread = this.threads.get(issue.id);
    const shown = this.threads.has(issue.id);
    const actions = document.createElement("div");
    actions.className = "issue-actions";
    actions.append(button(shown ? "hide thread" : replies ? `thread (${replies})` : "thread", () => void this.toggleThread(issue.id)));
    if (isOpen(issue) && this.mayAnswer) actions.append(button("resolve", () => void this.settle(issue.id, "resolve")));
    if (!isOpen(issue) && this.mayOpen) actions.append(button("reopen", () => void this.settle(issue.id, "reopen")));
    row.append(text, actions);
    if (shown) row.append(this.thread(issue, thread ?? null));
    return row;
  }

  /** The thread under an issue, with a reply box. */
  private thread(issue: Issue, detail: IssueDetail | null): HTMLElement {
    const box = document.createElement("div");
    box.className = "issue-thread";
    const comments = document.createElement("ul");
    if (detail === null) {
      const loading = document.createElement("li");
      loading.textContent = "loading…";
      comments.append(loading);
    } else {
      comments.append(
        ...detail.comments.map((comment) => {
          const line = document.createElement("li");
          line.textContent = commentText(comment);
          return line;
        }),
      );
    }
    box.append(comments);
    if (!this.mayAnswer) return box;
    const form = document.createElement("form");
    const input = document.createElement("input");
    input.type = "text";
    input.name = "reply";
    input.maxLength = 5000;
    input.placeholder = "Reply…";
    input.autocomplete = "off";
    input.setAttribute("aria-label", `reply to issue ${issue.id}`);
    input.addEventListener("keydown", (event) => {
      if (event.key === "Escape") input.blur(); // back to the image's keys
    });
    const send = document.createElement("button");
    send.type = "submit";
    send.tabIndex = -1;
    send.textContent = "reply";
    form.append(input, send);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      const text = input.value.trim();
      if (!text) return;
      input.blur();
      void this.reply(issue.id, text);
    });
    box.append(form);
    return box;
  }
}
