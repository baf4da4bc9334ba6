/** The workflow's JSON API (webapp/workflow/api.py), as the annotator page uses it. */

import { csrfToken, listAll, request } from "./api";
import type { Issue } from "./issues";
import type { QueueStage } from "./input";
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
}

export type Move = "submit" | "release" | "accept" | "reject" | "release_review";

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

  /** Opens a review issue on an annotation (the reviews API), with ``text`` as its first
   * comment. False when the project has no such API. */
  async openIssue(imageId: number, annotationId: number, text: string): Promise<boolean> {
    if (!this.config.issuesUrl) return false;
    await request(this.config.issuesUrl, post({ image: imageId, annotation: annotationId, text }));
    return true;
  }

  /** The image's open issues, oldest first; none when the project has no reviews API. */
  async openIssues(imageId: number): Promise<Issue[]> {
    if (!this.config.issuesUrl) return [];
    const issues = await listAll<Issue>(`${this.config.issuesUrl}?image=${imageId}&status=open`);
    return issues.sort((a, b) => a.id - b.id);
  }

  pageUrl(imageId: number): string {
    return imageUrl(this.config.pageUrlTemplate, imageId);
  }

  configUrl(imageId: number): string {
    return imageUrl(this.config.configUrlTemplate, imageId);
  }

  private workUrl(imageId: number): string {
    return imageUrl(this.config.workUrlTemplate, imageId);
  }
}
