/**
 * Crop detail (#16): large images at full detail. SAM sees a whole image at 1024 pixels
 * on its long side; once the user zooms into a large image so far that the part on
 * screen is under half its long side, the whole image's embedding is coarser than the
 * screen. The page then asks the server for the crop that holds the window on screen
 * (``POST …/images/<id>/crops/``: snapped to a grid, encoded once by the worker ahead of
 * the bulk encoding, shared by everyone), follows its encoding, hands its embedding to the
 * decoder worker and makes the session decode new prompts in the crop's frame
 * (crop-frame.ts). Zooming out, or panning off the crop, goes back to the whole image.
 *
 * What is going on is said in the footer ("Detail: encoding crop…", "Detail: crop in
 * use") and on the stage's ``data-detail`` (``whole``, ``encoding``, ``loading``,
 * ``crop``, ``failed``; empty for images too small to need it) and ``data-detail-box``;
 * while a crop is encoded, loaded or in use, its box is outlined on the stage
 * (crop-outline.ts).
 *
 * Windows and boxes are [x0, y0, x1, y1] in image pixels.
 */

import type { Size } from "../lib/transform";
import { request } from "./api";
import type { CropFrame } from "./crop-frame";
import { outlinedBox } from "./crop-outline";
import { downloadEmbedding } from "./embeddings";
import { describe } from "./errors";

type Box = readonly [number, number, number, number];

/** Images whose long side is at most this are seen at enough detail whole (the server's
 * ``inference.crops.LARGE_IMAGE_SIDE``). */
export const LARGE_IMAGE_SIDE = 2048;
/** A crop is asked for once the window on screen is under this share of the long side. */
export const DETAIL_BELOW = 0.5;
/** How often the window on screen is looked at, and a crop being encoded asked about. */
export const WATCH_MS = 250;
export const POLL_MS = 1000;

/** The crop as the server describes it. */
interface CropAnswer {
  readonly id: number;
  readonly box: Box;
  readonly status: "pending" | "running" | "done" | "failed";
  readonly error: string;
  readonly url: string;
  readonly embedding_url: string | null;
  readonly sha256: string | null;
}

/** The part of the image on screen: the canvas (``width`` × ``height`` screen pixels)
 * under ``screen = image × scale + offset``, clipped to the image. */
export function visibleWindow(
  transform: { readonly scale: number; readonly offsetX: number; readonly offsetY: number },
  canvas: { readonly width: number; readonly height: number },
  size: Size,
): Box {
  const { scale, offsetX, offsetY } = transform;
  return [
    Math.max(0, -offsetX / scale),
    Math.max(0, -offsetY / scale),
    Math.min(size.width, (canvas.width - offsetX) / scale),
    Math.min(size.height, (canvas.height - offsetY) / scale),
  ];
}

/** Whether ``window`` (clipped) of an image of ``size`` deserves a crop: the image is
 * large and the window under DETAIL_BELOW of its long side. */
export function wantsDetail(window: Box, size: Size): boolean {
  const long = Math.max(size.width, size.height);
  const [x0, y0, x1, y1] = window;
  if (long <= LARGE_IMAGE_SIDE || x1 <= x0 || y1 <= y0) return false;
  return Math.max(x1 - x0, y1 - y0) < DETAIL_BELOW * long;
}

export function boxContains(box: Box, window: Box): boolean {
  return box[0] <= window[0] && box[1] <= window[1] && window[2] <= box[2] && window[3] <= box[3];
}

/** The session on screen, as this controller uses it. */
export interface DetailSession {
  readonly image: { readonly imageStatusUrl: string };
  readonly size: Size;
  readonly isClosed: boolean;
  readonly isClickable: boolean;
  setDetail(crop: CropFrame | null): void;
}

export interface CropDetailPorts {
  session(): DetailSession | null;
  /** The window on screen (image pixels). */
  window(): Box;
  /** The decoder worker's embeddings (the DecoderClient). */
  readonly worker: { has(key: string): boolean; preload(key: string, data: Float32Array): void };
  mark(name: string, value: string): void;
  /** The crop box to outline on the stage (image pixels); null: none. */
  outline(box: Box | null): void;
}

type State = "" | "whole" | "encoding" | "loading" | "crop" | "failed";

export class CropDetail {
  private session: DetailSession | null = null;
  private inUse: CropFrame | null = null;
  /** The crop being encoded or downloaded for the window. */
  private awaited: CropAnswer | null = null;
  private asking = false;
  /** The window whose crop failed (or was refused): not asked for again until the view
   * moves, since asking again queues a failed crop again. */
  private failedAt = "";
  private shown = "";
  /** Crops' embeddings at hand (the last two), to hand them to the worker again if it
   * dropped them for prefetched images. */
  private readonly data = new Map<string, Float32Array>();
  private lastWindow = "";
  private readonly line: HTMLElement;

  constructor(
    private readonly ports: CropDetailPorts,
    footer: HTMLElement,
  ) {
    this.line = document.createElement("span");
    this.line.id = "annotator-detail";
    this.line.setAttribute("role", "status");
    this.line.style.marginRight = "1em";
    footer.prepend(this.line);
    setInterval(() => this.watch(), WATCH_MS);
  }

  /** Hands the worker ``key``'s crop embedding again if it dropped it (before a decode on
   * it). */
  ensure(key: string): void {
    const data = this.data.get(key);
    if (data && !this.ports.worker.has(key)) this.ports.worker.preload(key, data);
  }

  private watch(): void {
    const s = this.ports.session();
    if (s !== this.session) this.reset(s);
    if (!s || s.isClosed || !s.isClickable) return;
    const window = this.ports.window();
    const key = window.map((v) => v.toFixed(0)).join(",");
    // Acts once the view has rested for one look (not on every step of a zoom).
    if (key !== this.lastWindow) {
      this.lastWindow = key;
      return;
    }
    if (key === this.failedAt) return;
    if (!wantsDetail(window, s.size)) {
      this.use(s, null);
      this.awaited = null;
      return this.show(Math.max(s.size.width, s.size.height) > LARGE_IMAGE_SIDE ? "whole" : "");
    }
    if (this.inUse && boxContains(this.inUse.box, window)) return this.show("crop");
    this.use(s, null);
    if (this.awaited && boxContains(this.awaited.box, window)) return;
    this.awaited = null;
    if (!this.asking) void this.ask(s, window, key);
  }

  private reset(s: DetailSession | null): void {
    this.session = s;
    this.inUse = null;
    this.awaited = null;
    this.failedAt = "";
    this.lastWindow = "";
    this.show("");
  }

  /** Asks the server for the crop of ``window``, then follows it until it is in use. */
  private async ask(s: DetailSession, window: Box, windowKey: string): Promise<void> {
    this.asking = true;
    try {
      const url = `${s.image.imageStatusUrl}crops/`;
      const box = window.map((v) => Math.round(v));
      const body = JSON.stringify({ box });
      this.show("encoding"); // the server may encode it before it answers
      let crop = (await (await request(url, { method: "POST", body })).json()) as CropAnswer;
      if (this.session !== s) return;
      this.awaited = crop;
      while (crop.status === "pending" || crop.status === "running") {
        this.show("encoding");
        await new Promise((resolve) => setTimeout(resolve, POLL_MS));
        if (this.session !== s || this.awaited !== crop) return;
        const next = (await (await request(crop.url)).json()) as CropAnswer;
        if (this.session !== s || this.awaited !== crop) return;
        this.awaited = crop = next;
      }
      if (crop.status === "failed" || !crop.embedding_url) {
        this.failedAt = windowKey;
        return this.show("failed", crop.error);
      }
      await this.load(s, crop, crop.embedding_url);
    } catch (error) {
      if (this.session === s) {
        this.failedAt = windowKey;
        this.show("failed", describe(error));
      }
    } finally {
      this.asking = false;
    }
  }

  /** Downloads the crop's embedding, hands it to the worker, and puts it in use if the
   * window is still inside it. */
  private async load(s: DetailSession, crop: CropAnswer, url: string): Promise<void> {
    this.show("loading");
    let data = this.data.get(url);
    if (!data) {
      data = await downloadEmbedding(url, crop.sha256);
      this.data.set(url, data);
      for (const old of this.data.keys()) if (this.data.size > 2 && old !== url) this.data.delete(old);
    }
    if (this.session !== s || this.awaited !== crop) return;
    this.awaited = null;
    this.ensure(url);
    const window = this.ports.window();
    if (!wantsDetail(window, s.size) || !boxContains(crop.box, window)) return; // the next look decides
    this.use(s, { key: url, box: crop.box });
    this.show("crop");
  }

  private use(s: DetailSession, crop: CropFrame | null): void {
    if (this.inUse === crop) return;
    this.inUse = crop;
    s.setDetail(crop);
  }

  private show(state: State, reason = ""): void {
    const box = this.inUse?.box ?? this.awaited?.box ?? null;
    const size = box ? `${box[2] - box[0]}×${box[3] - box[1]} px at ${box[0]}, ${box[1]}` : "";
    const said = `${state} ${size} ${reason}`;
    if (said === this.shown) return;
    this.shown = said;
    this.ports.mark("detail", state);
    this.ports.mark("detailBox", box ? box.join(",") : "");
    this.ports.outline(outlinedBox(state, box));
    this.line.textContent = {
      "": "",
      whole: "Detail: whole image (zoom in for full detail)",
      encoding: `Detail: encoding crop… (${size})`,
      loading: `Detail: loading crop… (${size})`,
      crop: `Detail: crop in use (${size})`,
      failed: `Detail: no crop (${reason || "it could not be made"}); whole image`,
    }[state];
    this.line.classList.toggle("error", state === "failed");
  }
}
