/**
 * Immutable downloads (decoders, embeddings) kept in the browser's Cache Storage,
 * keyed by URL and content hash, so reopening an image or reloading the page costs no
 * download. Falls back to plain fetch where Cache Storage is unavailable.
 */

const CACHE_NAME = "samlabel-immutable-v1";

export async function fetchImmutable(url: string, sha256: string | null): Promise<Response> {
  const key = sha256 ? `${url}#${sha256}` : url;
  const storage = typeof caches === "undefined" ? null : await caches.open(CACHE_NAME);
  const hit = storage ? await storage.match(key) : undefined;
  if (hit) return hit;
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new HttpError(url, response.status, await response.text());
  if (storage) {
    const etag = response.headers.get("ETag")?.replaceAll('"', "") ?? null;
    const cacheKey = sha256 ?? etag;
    if (cacheKey) await storage.put(`${url}#${cacheKey}`, response.clone());
  }
  return response;
}

export class HttpError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    readonly body: string,
  ) {
    super(`${status} from ${url}: ${body.slice(0, 200)}`);
  }
}
