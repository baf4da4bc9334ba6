/**
 * Immutable downloads (decoders, embeddings) kept in the browser's Cache Storage,
 * keyed by URL and content hash, so reopening an image or reloading the page costs no
 * download. Falls back to plain fetch where Cache Storage is unavailable.
 */

const CACHE_NAME = "samlabel-immutable-v1";

export async function fetchImmutable(url: string, sha256: string | null): Promise<Response> {
  // Without a known content hash the URL's content may change (a manifest after a new
  // export): only the HTTP cache, which revalidates, may answer for it.
  const storage =
    sha256 && typeof caches !== "undefined" ? await caches.open(CACHE_NAME) : null;
  const key = `${url}#${sha256}`;
  const hit = storage ? await storage.match(key) : undefined;
  if (hit) return hit;
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new HttpError(url, response.status, await response.text());
  if (storage) await storage.put(key, response.clone());
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
