/**
 * Images' embeddings for the decoder worker: downloaded as float16 (from the browser's
 * cache when the content hash is known), converted to float32 (1, 256, 64, 64), and
 * handed over either as the current image's or ahead of time for the next images, so
 * that switching to a prefetched image transfers and prepares nothing.
 */

import { float16ToFloat32 } from "../lib/float16";
import { fetchImmutable } from "./cache";
import type { DecoderClient } from "./decoder-client";

/** The embedding at ``url`` as float32, whatever dtype the server sent. */
export async function downloadEmbedding(url: string, sha256: string | null): Promise<Float32Array> {
  const response = await fetchImmutable(url, sha256);
  const dtype = response.headers.get("X-Embedding-Dtype") ?? "float16";
  const buffer = await response.arrayBuffer();
  return dtype === "float16" ? float16ToFloat32(new Uint16Array(buffer)) : new Float32Array(buffer);
}

/** Embeddings are keyed by their URL, in the worker as here. */
export class EmbeddingLoader {
  private readonly downloads = new Map<string, Promise<Float32Array>>();

  constructor(private readonly client: DecoderClient) {}

  /** Hands ``url``'s embedding to the worker ahead of time, unless it is there or on its
   * way. A failed download is dropped silently: the image may still be being encoded,
   * and opening it fetches the embedding again and reports what goes wrong then. */
  prefetch(url: string, sha256: string | null): void {
    if (this.client.has(url) || this.downloads.has(url)) return;
    this.download(url, sha256).then(
      (data) => {
        if (!this.client.has(url)) this.client.preload(url, data);
      },
      () => undefined,
    );
  }

  /** Makes ``url``'s embedding the one the worker decodes on; false, and nothing done,
   * when ``stillWanted()`` says the page moved on while it was downloading. */
  async activate(url: string, sha256: string | null, stillWanted: () => boolean): Promise<boolean> {
    if (!this.client.has(url)) {
      const data = await this.download(url, sha256);
      if (!stillWanted()) return false;
      // A prefetch of the same download may have handed it over meanwhile.
      if (!this.client.has(url)) {
        this.client.setEmbedding(url, data);
        return true;
      }
    }
    this.client.setEmbedding(url, null);
    return true;
  }

  private download(url: string, sha256: string | null): Promise<Float32Array> {
    const known = this.downloads.get(url);
    if (known) return known;
    const download = downloadEmbedding(url, sha256).finally(() => this.downloads.delete(url));
    this.downloads.set(url, download);
    return download;
  }
}
