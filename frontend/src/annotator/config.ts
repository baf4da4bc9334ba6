/**
 * The annotator's configuration: one image's (webapp/annotator/image_config.py), which
 * the page embeds for its first image and fetches as JSON for each image it switches to,
 * plus the build's worker and wasm files, which never change while the page lives.
 */

import { HttpError } from "./cache";
import type { RulesConfig } from "./rules-panel"; // quality rules (#17)
import type { WorkflowConfig } from "./workflow-api";

export interface ImageConfig {
  readonly imageId: number;
  readonly imageName: string;
  readonly projectName: string;
  readonly pageUrl: string; // this image's annotator page, for the address bar
  readonly configUrl: string; // this configuration as JSON
  readonly imageUrl: string;
  readonly imageStatusUrl: string;
  readonly embeddingUrl: string;
  readonly manifestUrl: string;
  readonly decoderBaseUrl: string;
  readonly annotationsUrl: string;
  readonly annotationUrlTemplate: string; // "…/annotations/0/" with 0 for the id
  readonly labelClassesUrl: string;
  readonly previousUrl: string | null;
  readonly nextUrl: string | null;
  readonly previousConfigUrl: string | null;
  readonly nextConfigUrl: string | null;
  readonly prefetchEmbeddingUrls: readonly string[];
  readonly embeddingSha256s: Readonly<Record<string, string>>; // url -> content hash, when encoded
  /** The image's mask proposals, accepting one (``…/proposals/0/accept/``, 0 for its id)
   * and all above a confidence, and class suggestions for a mask; absent or null where
   * the server has none. */
  readonly proposalsUrl?: string | null;
  /** The state of the image's proposals run (``{"status": "none" | "pending" | "running" |
   * "done" | "failed", "error", "proposal_count", …}``), and whether the project has
   * proposals on (the worker makes them once the image is encoded). */
  readonly proposalsStatusUrl?: string | null;
  readonly proposalsExpected?: boolean;
  readonly proposalAcceptUrlTemplate?: string | null;
  readonly proposalsAcceptAllUrl?: string | null;
  readonly suggestClassUrl?: string | null;
  /** Mask editing (#16): parts of a new mask smaller than this are removed (0: none). */
  readonly minIslandPixels?: number;
  readonly width: number; // pixels, after EXIF orientation
  readonly height: number;
}

export interface PageConfig extends ImageConfig {
  readonly workerUrl: string;
  readonly wasmPaths: string;
  /** The workflow's URLs and, with ``?queue=``, the queue the page works through. */
  readonly workflow: WorkflowConfig;
  /** Quality rules (#17): the project's rules and the files that check them. */
  readonly rules?: RulesConfig;
}

/** The configuration the page was served with. */
export function readPageConfig(): PageConfig {
  const script = document.getElementById("annotator-config");
  return JSON.parse(script?.textContent ?? "{}") as PageConfig;
}

/** Another image's configuration, from its ``configUrl``. */
export async function fetchImageConfig(url: string): Promise<ImageConfig> {
  const response = await fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } });
  // A session that expired is sent to the sign-in page, which is no configuration.
  if (response.redirected) throw new Error("you are signed out; reload the page to sign in");
  if (!response.ok) throw new HttpError(url, response.status, await response.text());
  return (await response.json()) as ImageConfig;
}
