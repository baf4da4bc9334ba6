/** The workflow's JSON API (webapp/workflow/api.py), as the annotator page uses it. */

import type { RuleProblem } from "../rules/protocol";
import { csrfToken, listAll, request } from "./api";
import { HttpError } from "./cache";
import type { Comment, Issue, IssueDetail } from "./issues";
import type { QueueStage } from "./input";
import type { AnnotationHistory } from "./versions";
import { type NextAnswer, type WorkItem, imageUrl } from "./work";

/** The workflow part of the page's configuration (webapp/annotator/workflow_config.py).
 * Templates hold ``/images/0/`` for the image. */
export interface WorkflowConfig {
  readonly stage: QueueStage | null;
  readonly userName: string;
  readonly canAnnotate: boolean;
  readonly canReview: boolean;
  readonly projectUrl: string;
  readonly workNextUrl: string;
  readonly workUrlTemplate: string;
  readonly activeTimeUrl: string;
  readonly upcomingUrl: string;
  readonly pageUrlTemplate: string;
  readonly configUrlTemplate: string;
  readonly issuesUrl: string | null;
  /** An annotation's history, ``…/annotations/0/history/`` (null without the reviews
   * API). */
  readonly historyUrlTemplate: string | null;
}

/** Where an issue is pinned: an annotation, a point (image pixels), or both. */
export interface IssuePlace {
  readonly annotation?: number;
  readonly x?: number;
  readonly y?: number;
}

export type Move = "submit" | "release" | "accept" | "reject" | "release_review";

/** A submit or accept the server's quality rules refused (#17): its 409 answer's
 * sentence, the image's problems in rule order (warnings included) and the version of
 * the rules that found them. */
export interface RulesRefusal {
  readonly detail: string;
  readonly problems: readonly RuleProblem[];
  readonly rulesVersion: number;
}

/** The quality rules' refusal that ``error`` carries (a 409 whose body has ``problems``
 * and ``rules_version``), or null for any other failure. */
export function rulesRefusal(error: unknown): RulesRefusal | null {
  if (!(error instanceof HttpError) || error.status !== 409) return null;
  let body: unknown;
  try {
    body = JSON.parse(error.body);
  } catch {
    return null;
  }
  const { detail, problems, rules_version } = (body ?? {}) as Record<string, unknown>;
  if (!Array.isArray(problems) || typeof rules_version !== "number") return null;
  const wellFormed = problems.every(
    (p: unknown) =>
      typeof p === "object" &&
      p !== null &&
      typeof (p as RuleProblem).rule === "string" &&
      typeof (p as RuleProblem).message === "string" &&
      ((p as RuleProblem).severity === "error" || (p as RuleProblem).severity === "warning") &&
      Array.isArray((p as RuleProblem).annotation_ids),
  );
  if (!wellFormed) return null;
  return { detail: typeof detail === "string" ? detail : "", problems: problems as RuleProblem[], rulesVersion: rules_version };
}

/** An image the queue would give next (not claimed), to download ahead. */
export interface UpcomingImage {
  readonly imageId: number;
  readonly configUrl: string;
  readonly embeddingUrl: string;
  readonly embeddingSha256: string | null;
}

const post = (body: unknown): RequestInit => ({ method: "POST", body: JSON.stringify(body) });

export class WorkflowApi {
  constructor(readonly config: WorkflowConfig) {}

  /** Claims the next image of ``stage``'s queue (or gets the one held already). */
  async next(stage: QueueStage): Promise<NextAnswer> {
    return (await (await request(this.config.workNextUrl, post({ stage }))).json()) as NextAnswer;
  }

  async item(imageId: number): Promise<WorkItem> {
    return (await (await request(this.workUrl(imageId))).json()) as WorkItem;
  }

  async move(imageId: number, move: Move, reason = ""): Promise<WorkItem> {
    const url = `${this.workUrl(imageId)}${move}/`;
    return (await (await request(url, post({ reason }))).json()) as WorkItem;
  }

  /** Renews the holder's lease on the image. */
  async heartbeat(imageId: number): Promise<WorkItem> {
    return (await (await request(`${this.workUrl(imageId)}heartbeat/`, { method: "POST" })).json()) as WorkItem;
  }

  async upcoming(stage: QueueStage, after: number): Promise<UpcomingImage[]> {
    const url = `${this.config.upcomingUrl}?stage=${stage}&after=${after}`;
    return ((await (await request(url)).json()) as { images: UpcomingImage[] }).images;
  }

  /** Reports ``seconds`` (1-300) of active time. ``leaving``: the page is being hidden or
   * left, so the request must outlive it (fetch's keepalive, which unlike sendBeacon
   * sends the CSRF header the API needs). */
  async reportActiveTime(seconds: number, leaving: boolean): Promise<void> {
    if (leaving) {
      await fetch(this.config.activeTimeUrl, {
        method: "POST",
        keepalive: true,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRFToken": csrfToken() },
        body: JSON.stringify({ seconds }),
      });
      return;
    }
    await request(this.config.activeTimeUrl, post({ seconds }));
  }

  /** Opens a review issue on ``imageId`` at ``place``, with ``text`` as its first
   * comment; null when the project has no reviews API. */
  async openIssue(imageId: number, place: IssuePlace, text: string): Promise<IssueDetail | null> {
    if (!this.config.issuesUrl) return null;
    const response = await request(this.config.issuesUrl, post({ image: imageId, ...place, text }));
    return (await response.json()) as IssueDetail;
  }

  /** Every issue of the image, open and resolved; none without a reviews API. */
  async imageIssues(imageId: number): Promise<Issue[]> {
    if (!this.config.issuesUrl) return [];
    return listAll<Issue>(`${this.config.issuesUrl}?image=${imageId}`);
  }

  /** The image's open issues, oldest first; none when the project has no reviews API. */
  async openIssues(imageId: number): Promise<Issue[]> {
    if (!this.config.issuesUrl) return [];
    const issues = await listAll<Issue>(`${this.config.issuesUrl}?image=${imageId}&status=open`);
    return issues.sort((a, b) => a.id - b.id);
  }

  /** One issue with its thread. */
  async issue(issueId: number): Promise<IssueDetail> {
    return (await (await request(this.issueUrl(issueId))).json()) as IssueDetail;
  }

  async reply(issueId: number, text: string): Promise<Comment> {
    return (await (await request(`${this.issueUrl(issueId)}comments/`, post({ text }))).json()) as Comment;
  }

  /** Resolves (or, ``"reopen"``, opens again) an issue; its new state. */
  async settle(issueId: number, action: "resolve" | "reopen"): Promise<IssueDetail> {
    const response = await request(`${this.issueUrl(issueId)}${action}/`, { method: "POST" });
    return (await response.json()) as IssueDetail;
  }

  /** An annotation's versions, newest first; null without the reviews API. */
  async history(annotationId: number): Promise<AnnotationHistory | null> {
    const template = this.config.historyUrlTemplate;
    if (!template) return null;
    const url = template.replace("/annotations/0/", `/annotations/${annotationId}/`);
    return (await (await request(url)).json()) as AnnotationHistory;
  }

  pageUrl(imageId: number): string {
    return imageUrl(this.config.pageUrlTemplate, imageId);
  }

  configUrl(imageId: number): string {
    return imageUrl(this.config.configUrlTemplate, imageId);
  }

  private issueUrl(issueId: number): string {
    return `${this.config.issuesUrl ?? ""}${issueId}/`;
  }

  private workUrl(imageId: number): string {
    return imageUrl(this.config.workUrlTemplate, imageId);
  }
}
