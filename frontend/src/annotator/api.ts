/** The server's JSON API, as the annotator uses it. Failed saves are retried. */

import type { PixelBox } from "../lib/mask-ops";
import { HttpError } from "./cache";
import type { AnnotationPayload } from "./history";

export interface Annotation extends AnnotationPayload {
  readonly id: number;
  readonly version: number;
  readonly area: number;
  readonly bbox?: readonly number[]; // [x, y, width, height], image pixels
  /** Who made it, and who changed it last (when the server records that). */
  readonly author?: string | null;
  readonly last_editor?: string | null;
  /** Where its first mask came from: "manual", "proposal" or "import". */
  readonly source?: string;
  /** Its class is the suggested one, given with no person choosing it (accept all with
   * their suggested classes); false once a person gives it a class. */
  readonly class_suggested?: boolean;
}

/** ``annotation``'s box (image pixels) from the bbox the server gave, or null when it gave
 * none or an empty one (then the mask has to be read for it). */
export function annotationBox(annotation: Annotation): PixelBox | null {
  const [x, y, width, height] = annotation.bbox ?? [];
  if (x === undefined || y === undefined || width === undefined || height === undefined) return null;
  return width > 0 && height > 0 ? { x, y, width, height } : null;
}

export interface LabelClass {
  readonly id: number;
  readonly name: string;
  readonly color: string;
  readonly shortcut: string;
}

export function csrfToken(): string {
  const match = document.cookie.match(/(?:^|;\s*)csrftoken=([^;]+)/);
  return match ? decodeURIComponent(match[1] as string) : "";
}

/** A JSON request with the session's cookie (and CSRF token, for a write); a failed
 * answer is thrown as an HttpError. */
export async function request(url: string, init: RequestInit = {}): Promise<Response> {
  const headers = new Headers(init.headers);
  headers.set("Accept", "application/json");
  if (init.body) headers.set("Content-Type", "application/json");
  if (init.method && init.method !== "GET") headers.set("X-CSRFToken", csrfToken());
  const response = await fetch(url, { ...init, headers, credentials: "same-origin" });
  if (!response.ok) throw new HttpError(url, response.status, await response.text());
  return response;
}

/** Every item of a list endpoint, paginated or not. */
export async function listAll<T>(url: string): Promise<T[]> {
  const items: T[] = [];
  let next: string | null = url;
  while (next) {
    const body = (await (await request(next)).json()) as T[] | { results: T[]; next: string | null };
    if (Array.isArray(body)) return body;
    items.push(...body.results);
    next = body.next;
  }
  return items;
}

const RETRY_DELAYS_MS = [500, 1000, 2000, 4000, 8000];

/** Retries network failures and 5xx answers with back-off; 4xx are final. */
export async function withRetry<T>(
  work: () => Promise<T>,
  onRetry: (attempt: number, error: unknown) => void,
): Promise<T> {
  for (let attempt = 0; ; attempt++) {
    try {
      return await work();
    } catch (error) {
      const final = error instanceof HttpError && error.status < 500;
      const delay = RETRY_DELAYS_MS[attempt];
      if (final || delay === undefined) throw error;
      onRetry(attempt + 1, error);
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

export async function createAnnotation(url: string, payload: AnnotationPayload): Promise<Annotation> {
  return (await (await request(url, { method: "POST", body: JSON.stringify(payload) })).json()) as Annotation;
}

export async function deleteAnnotation(url: string, version: number | null): Promise<void> {
  const headers: Record<string, string> = version === null ? {} : { "If-Match": `"${version}"` };
  await request(url, { method: "DELETE", headers });
}

export async function relabelAnnotation(
  url: string,
  version: number,
  labelClass: number,
): Promise<Annotation> {
  const response = await request(url, {
    method: "PATCH",
    headers: { "If-Match": `"${version}"` },
    body: JSON.stringify({ label_class: labelClass }),
  });
  return (await response.json()) as Annotation;
}

/** A new mask (and its prompts) for an annotation at ``version`` (a new version). */
export async function editAnnotationMask(
  url: string,
  version: number,
  changes: Pick<AnnotationPayload, "rle" | "prompts">,
): Promise<Annotation> {
  const response = await request(url, {
    method: "PATCH",
    headers: { "If-Match": `"${version}"` },
    body: JSON.stringify(changes),
  });
  return (await response.json()) as Annotation;
}

/** Merges annotation ``other`` into the one at ``url`` in one request: the server makes
 * the union of the two stored masks as a new version of the kept one and deletes the
 * other, only if both are still at the versions given (409 otherwise, nothing changed).
 * Returns the kept annotation as it is now. */
export async function mergeAnnotations(
  url: string,
  other: number,
  version: number,
  otherVersion: number,
): Promise<Annotation> {
  const response = await request(`${url}merge/`, {
    method: "POST",
    body: JSON.stringify({ other, version, other_version: otherVersion }),
  });
  return (await response.json()) as Annotation;
}

/** What an unmerge sends of the annotation the merge deleted: its id then, and its
 * payload (mask, prompts, proposal) as it was. */
export interface MergedAway {
  readonly id: number;
  readonly payload: AnnotationPayload;
}

/** An unmerge's answer: the kept annotation as it is now, and the other made again
 * (under a new id). */
export interface Unmerged {
  readonly kept: Annotation;
  readonly other: Annotation;
}

/** Undoes a merge into the annotation at ``url`` (at ``version``) in one request: the
 * server gives it back its saved mask ``before`` (one of its versions, restored from its
 * history) as a new version and makes ``other`` again, both or neither (409 when the kept
 * one changed meanwhile). */
export async function unmergeAnnotations(
  url: string,
  version: number,
  before: AnnotationPayload["rle"],
  other: MergedAway,
): Promise<Unmerged> {
  const { rle, prompts, proposal_id, source } = other.payload;
  const body = {
    version,
    rle: before,
    other: other.id,
    other_rle: rle,
    other_prompts: prompts,
    ...(proposal_id == null ? {} : { other_proposal_id: proposal_id }),
    ...(source === undefined ? {} : { other_source: source }),
  };
  const response = await request(`${url}unmerge/`, { method: "POST", body: JSON.stringify(body) });
  return (await response.json()) as Unmerged;
}

/** An image's encoding status, as the images API reports it. */
export interface ImageStatus {
  readonly status: string;
  readonly failure_reason: string;
}

export async function fetchImageStatus(url: string): Promise<ImageStatus> {
  return (await (await request(url)).json()) as ImageStatus;
}

/** Reports a retry: the attempt about to be made (1, 2, ...). */
export type OnRetry = (attempt: number) => void;

/** The annotation endpoints an image's session uses (a fake one in tests). */
export interface AnnotationStore {
  list(url: string): Promise<Annotation[]>;
  create(url: string, payload: AnnotationPayload, onRetry: OnRetry): Promise<Annotation>;
  remove(url: string, version: number, onRetry: OnRetry): Promise<void>;
  relabel(url: string, version: number, labelClass: number): Promise<Annotation>;
  editMask(url: string, version: number, changes: Pick<AnnotationPayload, "rle" | "prompts">): Promise<Annotation>;
  /** Merge of ``other`` into the annotation at ``url`` (mergeAnnotations); optional, so
   * that a store without it (a test's) still serves the rest. */
  merge?(url: string, other: number, version: number, otherVersion: number): Promise<Annotation>;
  /** Undo of a merge into the annotation at ``url`` (unmergeAnnotations); optional too. */
  unmerge?(url: string, version: number, before: AnnotationPayload["rle"], other: MergedAway): Promise<Unmerged>;
  imageStatus(url: string): Promise<ImageStatus>;
}

/** The server's API; creating and deleting retry network failures and 5xx answers. */
export const serverStore: AnnotationStore = {
  list: (url) => listAll<Annotation>(url),
  create: (url, payload, onRetry) => withRetry(() => createAnnotation(url, payload), onRetry),
  remove: (url, version, onRetry) => withRetry(() => deleteAnnotation(url, version), onRetry),
  relabel: relabelAnnotation,
  editMask: editAnnotationMask,
  merge: mergeAnnotations,
  unmerge: unmergeAnnotations,
  imageStatus: fetchImageStatus,
};
