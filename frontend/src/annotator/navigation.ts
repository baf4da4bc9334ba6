/**
 * Moving between a project's images in place (the arrow keys, the browser's back and
 * forward): each image's configuration and bitmap are loaded ahead of need for the
 * image on screen's neighbours, and only the latest request shows its image, so two
 * quick presses end on the second press's image.
 */

import { HttpError } from "./cache";
import { type ImageConfig, fetchImageConfig } from "./config";
import { describe } from "./errors";
import { Prefetched } from "./prefetched";

/** An image ready to be shown: its configuration and its decoded pixels. */
export interface LoadedImage {
  readonly config: ImageConfig;
  readonly bitmap: ImageBitmap;
}

export async function loadBitmap(url: string): Promise<ImageBitmap> {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new HttpError(url, response.status, await response.text());
  return createImageBitmap(await response.blob(), { imageOrientation: "from-image" });
}

async function loadImageAndConfig(configUrl: string): Promise<LoadedImage> {
  const image = await fetchImageConfig(configUrl);
  return { config: image, bitmap: await loadBitmap(image.imageUrl) };
}

/** What the navigator needs of the page. */
export interface NavigationHost {
  /** The image on screen. */
  current(): ImageConfig;
  /** Shows ``loaded``; ``push``: add a history entry (false when the browser's back or
   * forward asked for it). */
  show(loaded: LoadedImage, push: boolean, pressedAt: number): void;
  say(message: string, isError: boolean): void;
  /** Counts switches asked for and settled, for tests and people. */
  mark(name: string, value: number): void;
  /** ← or → found no image that way. */
  atEnd(direction: "next" | "previous"): void;
}

/** What the browser keeps with each history entry: which image it shows. */
export function historyState(image: ImageConfig): { configUrl: string } {
  return { configUrl: image.configUrl };
}

export class ImageNavigator {
  // The current image and its neighbours, so that a switch waits for no download.
  private readonly images = new Prefetched<LoadedImage>(loadImageAndConfig, (loaded) => loaded.bitmap.close());
  private requests = 0;
  private settled = 0;
  /** The image on screen or the one the page is switching to; arrow keys step from it. */
  private heading: Promise<ImageConfig>;

  constructor(
    first: LoadedImage,
    private readonly host: NavigationHost,
  ) {
    this.images.put(first.config.configUrl, first);
    this.heading = Promise.resolve(first.config);
  }

  /** The image after or before the one the page shows or is going to; at either end
   * the page stays. */
  step(direction: "next" | "previous", pressedAt: number): void {
    const target = this.heading.then((from) => {
      const url = direction === "next" ? from.nextConfigUrl : from.previousConfigUrl;
      if (!url) this.host.atEnd(direction);
      return this.images.get(url ?? from.configUrl);
    });
    this.switchTo(target, true, pressedAt);
  }

  /** Shows ``configUrl``'s image (the next one a queue gave), with a history entry. */
  goTo(configUrl: string, pressedAt: number): void {
    this.switchTo(this.images.get(configUrl), true, pressedAt);
  }

  /** Loads ``configUrl``'s image ahead of need (the one a queue would give next). */
  prefetch(configUrl: string): void {
    this.images.get(configUrl).catch(() => undefined);
  }

  /** The browser went back or forward to ``configUrl``'s image. */
  follow(configUrl: string, pressedAt: number): void {
    this.switchTo(this.images.get(configUrl), false, pressedAt);
  }

  /** Loads ``image``'s neighbours ahead of need. A failure is forgotten here and
   * reported if the user goes there. */
  prefetchAround(image: ImageConfig): void {
    for (const url of [image.nextConfigUrl, image.previousConfigUrl]) {
      if (url) this.images.get(url).catch(() => undefined);
    }
  }

  /** Lets go of images other than ``image`` and its neighbours (closing their bitmaps).
   * Only the latest switch calls this, so no switch in flight waits for one of them. */
  keepAround(image: ImageConfig): void {
    this.images.keepOnly([image.configUrl, image.previousConfigUrl, image.nextConfigUrl]);
  }

  private switchTo(target: Promise<LoadedImage>, push: boolean, pressedAt: number): void {
    const mine = ++this.requests;
    this.host.mark("switchRequests", this.requests);
    this.heading = target.then(
      (loaded) => loaded.config,
      () => this.host.current(),
    );
    target
      .then(
        (loaded) => {
          if (mine === this.requests && loaded.config.configUrl !== this.host.current().configUrl) {
            this.host.show(loaded, push, pressedAt);
          }
        },
        (error: unknown) => {
          if (mine !== this.requests) return;
          // The address bar already shows the image the browser went back or forward to.
          if (!push) window.location.reload();
          else this.host.say(`Cannot open that image: ${describe(error)}`, true);
        },
      )
      .finally(() => this.host.mark("switchesSettled", ++this.settled));
  }
}
