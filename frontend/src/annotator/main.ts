/**
 * The annotator page: click, box or hover to get SAM's mask from the decoder running
 * in this browser on the server's embedding; Enter saves it with the chosen label.
 *
 * Keys: left click = positive point, right click or Alt+click = negative point,
 * drag = box, Tab or 1-3 = next/choose SAM's candidate after a single click, a label's
 * shortcut = choose the label, Enter = save, Escape = clear, Ctrl+Z / Ctrl+Shift+Z =
 * undo / redo, wheel = zoom, space+drag or middle drag = pan, ←/→ = previous/next image.
 *
 * A click shows the fast (8-bit) decoder's mask at once; a moment later, unless the user
 * acts again, the exact decoder (fp32, equal to PyTorch's) decodes the same prompt and its
 * mask replaces the fast one. Enter saves the exact mask, waiting for it if need be.
 *
 * Moving to another image (arrow keys, the browser's back and forward) happens in place:
 * the decoder worker and its session stay, the image's configuration, bitmap and
 * embedding were prefetched, and only the image's own state (annotations, prompt, undo
 * history) starts again.
 */

import { modelFrameLogits, threshold, upscaleLogits } from "../lib/mask";
import { type PointLabels, type Prompt, packPrompt } from "../lib/prompts";
import { decodeRle, encodeRle } from "../lib/rle";
import { ResizeTransform, type Size } from "../lib/transform";
import {
  type Annotation,
  type LabelClass,
  createAnnotation,
  deleteAnnotation,
  listAll,
  relabelAnnotation,
  withRetry,
} from "./api";
import { HttpError, fetchImmutable } from "./cache";
import { type ImageConfig, fetchImageConfig, readPageConfig } from "./config";
import { DecoderClient } from "./decoder-client";
import { EmbeddingLoader } from "./embeddings";
import {
  type AnnotationPayload,
  EMPTY_PROMPT,
  History,
  addPoint,
  isEmpty,
  usesCandidates,
  withBox,
} from "./history";
import { Prefetched } from "./prefetched";
import { PromptMasks } from "./prompt-masks";
import type { DecodeReply, DecoderSpec } from "./protocol";
import { type PaintedMask, View, paintLogits, paintMask } from "./view";

interface DecoderFile {
  readonly file: string;
  readonly sha256: string;
  readonly inputs: readonly { name: string }[];
}

/** A decoder of the manifest; a split one has a graph to run once per image. */
interface DecoderEntry extends DecoderFile {
  readonly image_stage?: DecoderFile;
  readonly graph_optimization?: "disabled" | "basic" | "extended" | "all";
  readonly upsampled?: boolean;
}

interface Manifest {
  readonly image_size: number;
  readonly exact_decoder?: string;
  readonly low_res_mask_size: number;
  readonly mask_threshold: number;
  readonly point_labels: PointLabels;
  readonly browser_decoder: string;
  readonly decoders: Record<string, DecoderEntry>;
}

interface Saved {
  annotation: Annotation;
  layer: PaintedMask;
  visible: boolean;
}

/** An image ready to be shown: its configuration and its decoded pixels. */
interface LoadedImage {
  readonly config: ImageConfig;
  readonly bitmap: ImageBitmap;
}

const pageConfig = readPageConfig();
let config: ImageConfig = pageConfig; // the image on screen
let size: Size = { height: config.height, width: config.width };
const statusLine = document.getElementById("annotator-status") as HTMLElement;
const imageNameLine = document.getElementById("annotator-image-name") as HTMLElement;
const imageSizeLine = document.getElementById("annotator-image-size") as HTMLElement;
const decodeLine = document.getElementById("annotator-decode-time") as HTMLElement;
const labelList = document.getElementById("annotator-labels") as HTMLElement;
const annotationList = document.getElementById("annotator-annotations") as HTMLElement;
const view = new View(document.getElementById("annotator-stage") as HTMLElement, size);

let manifest: Manifest;
let client: DecoderClient;
let embeddings: EmbeddingLoader;
let readyMessage = "Ready. Click an object.";
let transform: ResizeTransform;
let labels: LabelClass[] = [];
let currentLabel: LabelClass | null = null;
const saved: Saved[] = [];
const undoHistory = new History();
let prompt: Prompt = EMPTY_PROMPT;
/** The current image's prompts' masks, fast and exact (made again for each image). */
let masks = new PromptMasks<DecodeReply>(0);
/** The masks on screen and the prompt they are for (a hovered point's, while the prompt
 * is empty). */
let onScreen: { prompt: Prompt; masks: DecodeReply } | null = null;
/** Whether the worker has an exact decoder to re-decode clicks with (false when the
 * decoder chosen is itself the exact one, or for benchmarks of other decoders). */
let refining = false;
let fastIsExact = false; // the decoder chosen is the exact one
let refineTimer: ReturnType<typeof setTimeout> | undefined;
// The exact decode starts this long after a click's mask is on screen, if no other click
// came, and takes about as long as a decode again: over before a person, who looks at the
// mask first, clicks again (a click that comes while it runs waits for it), and after a
// benchmark script's next click.
const REFINE_AFTER_MS = 150;
// The fp32 decoder's first decode also starts its session, a few hundred ms of the
// worker's time: it is done this long after the first image is clickable, while a person
// looks at the image, rather than just after their first click, when the second may come.
const WARM_EXACT_AFTER_MS = 1000;
let exactStarted = false; // an fp32 decode was asked for
let selected: number | null = null;
let lastHover: { prompt: Prompt; reply: DecodeReply } | null = null;
/** The hover decode on its way, so that a click on the same point waits for it rather
 * than queueing the same decode again behind it. */
let pendingHover: { prompt: Prompt; reply: Promise<DecodeReply | null> } | null = null;
let clickedAt = 0; // performance.now() of the last click or box, for the timings
// The neighbours are prefetched a moment after an image becomes clickable: the first
// click on an image often comes at once, and the downloads, image decoding and float16
// conversion would otherwise take CPU from its decode.
const PREFETCH_AFTER_MS = 400;

// Switching images. ``generation`` counts the images shown: work begun for one image
// (a decode, a save, a download) checks it when done and leaves the page alone if the
// page has moved on. ``switchRequests`` counts key presses and history moves: only the
// latest may show its image, so two quick presses end on the second press's image.
let generation = 0;
let switchRequests = 0;
let started = false; // the worker is ready: switching happens in place from then on
let embeddingKey: string | null = null; // the worker's current embedding, once it is this image's
// The image on screen or the one the page is switching to; arrow keys step from it.
let heading: Promise<ImageConfig> = Promise.resolve(config);
// The current image and its neighbours, so that a switch waits for no download.
const images = new Prefetched<LoadedImage>(loadImageAndConfig, (loaded) => loaded.bitmap.close());

function say(message: string, isError = false): void {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

async function start(): Promise<void> {
  say("Loading…");
  window.history.replaceState(historyState(config), "");
  // The worker's script (onnxruntime's JavaScript) loads while the manifest is fetched.
  const worker = new Worker(pageConfig.workerUrl, { type: "module" });
  manifest = (await (await fetchImmutable(config.manifestUrl, null)).json()) as Manifest;
  transform = new ResizeTransform(size, manifest.image_size);
  // ?decoder=NAME&threads=N choose another decoder of the manifest, for benchmarks.
  const query = new URLSearchParams(window.location.search);
  const decoderName = query.get("decoder") ?? manifest.browser_decoder;
  const decoder = manifest.decoders[decoderName];
  if (!decoder) throw new Error(`the manifest has no decoder ${decoderName}`);
  const threads = Number(query.get("threads")) ||
    (self.crossOriginIsolated ? Math.min(2, navigator.hardwareConcurrency || 1) : 1);
  // ?refine=0 turns the exact decodes off, for benchmarks.
  const exactName = query.get("refine") === "0" ? undefined : manifest.exact_decoder;
  const exact = exactName !== undefined && exactName !== decoderName ? manifest.decoders[exactName] : undefined;
  refining = exact !== undefined && !decoder.upsampled;
  fastIsExact = decoderName === manifest.exact_decoder;
  masks = freshMasks();
  client = new DecoderClient(worker, {
    wasmPaths: pageConfig.wasmPaths,
    threads,
    decoder: decoderSpec(decoder),
    exact: refining && exact ? decoderSpec(exact) : null,
  });
  embeddings = new EmbeddingLoader(client);
  // The embedding downloads (and, for a split decoder, its image stage waits in the
  // worker) while onnxruntime starts, rather than after.
  const firstSha256 = config.embeddingSha256s[config.embeddingUrl];
  if (firstSha256) embeddings.prefetch(config.embeddingUrl, firstSha256);
  readyMessage = `Ready (${threads} thread${threads > 1 ? "s" : ""}). Click an object.`;
  const first = config;
  const [bitmap, timings] = await Promise.all([
    loadBitmap(first.imageUrl),
    client.ready(),
    loadLabels(),
    loadAnnotations(first, generation),
  ]);
  performance.mark("samlabel:decoder-ready", { detail: timings });
  images.put(first.configUrl, { config: first, bitmap });
  view.image = bitmap;
  view.draw();
  started = true;
  await openEmbedding(first, generation);
  setTimeout(warmUpDrawing, 0);
  setTimeout(warmUpExact, WARM_EXACT_AFTER_MS);
}

/** One fp32 decode of a dummy click on the image on screen, unless one was asked for
 * already: it starts the fp32 session and makes its first run's allocations. */
function warmUpExact(): void {
  if (!refining || exactStarted || embeddingKey !== config.embeddingUrl) return;
  exactStarted = true;
  const dummy = { coords: new Float32Array(4), labels: Float32Array.of(1, -1), maskInput: null };
  void client.exact(embeddingKey, { ...dummy, origSize: [size.height, size.width] });
}

function freshMasks(): PromptMasks<DecodeReply> {
  return new PromptMasks(manifest.low_res_mask_size * manifest.low_res_mask_size);
}

function decoderSpec(entry: DecoderEntry): DecoderSpec {
  return {
    url: config.decoderBaseUrl + entry.file,
    sha256: entry.sha256,
    inputNames: entry.inputs.map((i) => i.name),
    imageStage: entry.image_stage
      ? { url: config.decoderBaseUrl + entry.image_stage.file, sha256: entry.image_stage.sha256 }
      : null,
    graphOptimization: entry.graph_optimization ?? "all",
  };
}

/** Runs the live mask's resize and paint loops a few times on blank logits, once the page
 * is ready: the first calls of these million-pixel loops, before the JavaScript engine
 * optimises them, took 30-50 ms each, and making the canvas 40-50 ms, which the first
 * clicks would otherwise pay. */
function warmUpDrawing(): void {
  const blank = new Float32Array(manifest.low_res_mask_size * manifest.low_res_mask_size);
  for (let i = 0; i < 3; i++) {
    const { logits, size: frame } = modelFrameLogits(blank, manifest.low_res_mask_size, size, manifest.image_size, true);
    paintLogits(logits, frame, manifest.mask_threshold, "#000000", manifest.image_size);
  }
}

/** Makes the current image clickable: waits for its encoding if need be (polling its
 * status, as the server encodes in the background), then gives the worker its embedding;
 * then, a moment later, prefetches its neighbours. Stops when the page has moved on. */
async function openEmbedding(image: ImageConfig, mine: number, pressedAt?: number): Promise<void> {
  const sha256 = image.embeddingSha256s[image.embeddingUrl] ?? null;
  // A known content hash means the embedding exists: no need to ask for the status.
  if (sha256 === null && !(await waitUntilEncoded(image, mine))) return;
  if (!(await embeddings.activate(image.embeddingUrl, sha256, () => mine === generation))) return;
  embeddingKey = image.embeddingUrl;
  performance.mark("samlabel:ready");
  if (pressedAt !== undefined) {
    performance.measure("samlabel:switch-to-clickable", { start: pressedAt, detail: { imageId: image.imageId } });
  }
  say(readyMessage);
  // A click made while the embedding was on its way gets its mask now.
  if (!isEmpty(prompt)) void decode(prompt, false);
  setTimeout(() => {
    if (mine === generation) prefetchAround(image);
  }, PREFETCH_AFTER_MS);
}

async function loadBitmap(url: string): Promise<ImageBitmap> {
  const response = await fetch(url, { credentials: "same-origin" });
  if (!response.ok) throw new HttpError(url, response.status, "");
  return createImageBitmap(await response.blob(), { imageOrientation: "from-image" });
}

async function loadImageAndConfig(configUrl: string): Promise<LoadedImage> {
  const image = await fetchImageConfig(configUrl);
  return { config: image, bitmap: await loadBitmap(image.imageUrl) };
}

/** Resolves true once ``image`` is encoded, false if the page moved on meanwhile. */
async function waitUntilEncoded(image: ImageConfig, mine: number): Promise<boolean> {
  for (;;) {
    const response = await fetch(image.imageStatusUrl, { credentials: "same-origin" });
    if (!response.ok) throw new HttpError(image.imageStatusUrl, response.status, await response.text());
    const status = (await response.json()) as { status: string; failure_reason: string };
    if (mine !== generation) return false;
    if (status.status === "ready") return true;
    if (status.status === "failed") throw new Error(`encoding failed: ${status.failure_reason}`);
    say(`The image is being encoded (${status.status}); it becomes clickable by itself.`);
    await new Promise((resolve) => setTimeout(resolve, 1500));
  }
}

async function loadLabels(): Promise<void> {
  labels = await listAll<LabelClass>(config.labelClassesUrl);
  currentLabel = labels[0] ?? null;
  renderLabels();
}

async function loadAnnotations(image: ImageConfig, mine: number): Promise<void> {
  const annotations = await listAll<Annotation>(image.annotationsUrl);
  if (mine !== generation) return;
  addSaved(...annotations);
  renderAnnotations();
}

// ---------------------------------------------------------------- switching images

/** What the browser keeps with each history entry: which image it shows. */
function historyState(image: ImageConfig): { configUrl: string } {
  return { configUrl: image.configUrl };
}

/** Loads the previous and next images' configurations and bitmaps ahead of need, and
 * hands the next images' embeddings to the worker. A failure is forgotten here and
 * reported if the user goes there. */
function prefetchAround(image: ImageConfig): void {
  for (const url of [image.nextConfigUrl, image.previousConfigUrl]) {
    if (url) images.get(url).catch(() => undefined);
  }
  for (const url of image.prefetchEmbeddingUrls) embeddings.prefetch(url, image.embeddingSha256s[url] ?? null);
}

/** The arrow keys: the image after or before the one the page shows or is going to. */
function step(direction: "next" | "previous", pressedAt: number): void {
  const target = heading.then((from) => {
    const url = direction === "next" ? from.nextConfigUrl : from.previousConfigUrl;
    return images.get(url ?? from.configUrl); // at either end: stay
  });
  switchTo(target, true, pressedAt);
}

/** Shows ``target`` once loaded, unless a newer request came meanwhile; ``push`` adds
 * a history entry (false when the browser's back or forward asked for it). */
function switchTo(target: Promise<LoadedImage>, push: boolean, pressedAt: number): void {
  const mine = ++switchRequests;
  heading = target.then(
    (loaded) => loaded.config,
    () => config,
  );
  target.then(
    (loaded) => {
      if (mine === switchRequests && loaded.config.configUrl !== config.configUrl) {
        showImage(loaded, push, pressedAt);
      }
    },
    (error: unknown) => {
      if (mine !== switchRequests) return;
      // The address bar already shows the image the browser went back or forward to.
      if (!push) window.location.reload();
      else say(`Cannot open that image: ${describe(error)}`, true);
    },
  );
}

/** Replaces everything about the image on screen; the worker, its session and the
 * labels (the project's) stay. */
function showImage({ config: image, bitmap }: LoadedImage, push: boolean, pressedAt: number): void {
  const mine = ++generation;
  if (hoverTimer !== undefined) clearTimeout(hoverTimer);
  hoverTimer = undefined;
  if (refineTimer !== undefined) clearTimeout(refineTimer);
  refineTimer = undefined;
  dragStart = null;
  panning = null;
  config = image;
  size = { height: image.height, width: image.width };
  transform = new ResizeTransform(size, manifest.image_size);
  embeddingKey = null; // until openEmbedding gives the worker this image's
  prompt = EMPTY_PROMPT;
  masks = freshMasks();
  onScreen = null;
  lastHover = null;
  pendingHover = null;
  selected = null;
  undoHistory.clear();
  saved.length = 0;
  view.show(bitmap, size);
  renderAnnotations();
  imageNameLine.textContent = image.imageName;
  imageSizeLine.textContent = `${image.width}×${image.height}`;
  document.title = `${image.imageName} · ${image.projectName}`;
  // Keep the query (?decoder=…&threads=…), so that a reload keeps the same decoder.
  if (push) window.history.pushState(historyState(image), "", image.pageUrl + window.location.search);
  say("Loading…");
  // Lets go of images other than this one's neighbours (closing their bitmaps). Only
  // the latest switch gets here, so no switch in flight waits for one of them.
  images.keepOnly([image.configUrl, image.previousConfigUrl, image.nextConfigUrl]);
  Promise.all([loadAnnotations(image, mine), openEmbedding(image, mine, pressedAt)]).catch((error: unknown) => {
    if (mine === generation) say(`Cannot open this image: ${describe(error)}`, true);
  });
}

window.addEventListener("popstate", (event) => {
  const state = event.state as { configUrl?: unknown } | null;
  if (typeof state?.configUrl !== "string") return;
  if (!started) return window.location.reload();
  switchTo(images.get(state.configUrl), false, event.timeStamp);
});

function colorOf(labelId: number): string {
  return labels.find((l) => l.id === labelId)?.color ?? "#3388ff";
}

/** Lists and draws ``annotations``, redrawing once for all of them. */
function addSaved(...annotations: Annotation[]): void {
  for (const annotation of annotations) {
    const mask = decodeRle(annotation.rle);
    saved.push({ annotation, layer: paintMask(mask, size, colorOf(annotation.label_class)), visible: true });
  }
  syncLayers();
}

function syncLayers(): void {
  view.layers = saved.map((s) => ({
    ...s.layer,
    visible: s.visible,
    highlighted: s.annotation.id === selected,
  }));
  view.draw();
}

// ---------------------------------------------------------------- decoding

async function decode(p: Prompt, hover: boolean): Promise<void> {
  // Until the worker has this image's embedding, a decode would use another image's.
  if (isEmpty(p) || embeddingKey !== config.embeddingUrl) return;
  const mine = generation;
  const packed = packPrompt(p, transform, manifest.point_labels);
  const useMaskInput = hover ? null : masks.fastFeed(p);
  const t0 = performance.now();
  // How many decodes the page asked the worker for (hover included), for tests and people.
  view.container.dataset["requests"] = String(Number(view.container.dataset["requests"] ?? 0) + 1);
  const request = client.decode({
    coords: packed.coords,
    labels: packed.labels,
    maskInput: useMaskInput,
    origSize: [size.height, size.width],
  });
  if (hover) pendingHover = { prompt: p, reply: request };
  else masks.setPending(p, request);
  const reply = await request;
  if (!reply || mine !== generation) return; // superseded by a newer prompt or image
  if (!hover) masks.setFast(p, reply); // Enter may have been pressed meanwhile
  if (!hover && p !== prompt) return;
  if (hover) lastHover = { prompt: p, reply };
  show(reply, p, hover ? t0 : clickedAt, hover);
}

/** Puts a decode on screen; ``since`` is when the user acted, for the timings. */
function show(reply: DecodeReply, p: Prompt, since: number, hover: boolean): void {
  const replyMs = performance.now() - since; // the answer is back from the worker
  if (!hover) masks.setFast(p, reply);
  // An exact decode of the same prompt may have come first (after undo and redo).
  onScreen = { prompt: p, masks: hover ? reply : (masks.shown(p)?.masks ?? reply) };
  showLive();
  const drawnMs = performance.now() - since; // drawn, not yet on screen
  const decodeMs = reply.ms;
  requestAnimationFrame(() => {
    const onScreen = performance.now() - since;
    decodeLine.textContent = `decode ${decodeMs.toFixed(0)} ms · on screen ${onScreen.toFixed(0)} ms`;
    if (!hover) {
      performance.measure("samlabel:click-to-mask", {
        start: since,
        detail: { decodeMs, replyMs, drawnMs, points: p.points.length + (p.box ? 2 : 0) },
      });
    }
  });
  if (!hover) {
    countDecode();
    scheduleRefine(p);
  }
}

/** Starts the exact decode of ``p`` in a moment, unless the prompt changes meanwhile. */
function scheduleRefine(p: Prompt): void {
  if (refineTimer !== undefined) clearTimeout(refineTimer);
  refineTimer = undefined;
  if (!refining || masks.hasExact(p)) return;
  refineTimer = setTimeout(() => {
    refineTimer = undefined;
    if (p === prompt) void refine(p);
  }, REFINE_AFTER_MS);
}

/** The exact masks of ``p``, a prompt of the image on screen (the chain of prompts it
 * grew from first): shown in place of the fast ones if ``p`` is still the prompt. */
async function refine(p: Prompt): Promise<DecodeReply | null> {
  const mine = generation;
  const key = config.embeddingUrl;
  const frame = transform;
  const origSize: [number, number] = [size.height, size.width];
  const book = masks;
  const exact = await book.exactOf(p, (q, maskInput) => {
    exactStarted = true;
    const dataset = view.container.dataset;
    dataset["refinements"] = String(Number(dataset["refinements"] ?? 0) + 1);
    const packed = packPrompt(q, frame, manifest.point_labels);
    const start = performance.now();
    return client.exact(key, { coords: packed.coords, labels: packed.labels, maskInput, origSize }).then((reply) => {
      // From asking to the answer, and the worker's part of it (which includes starting
      // the exact session and its image stage, the first time).
      if (reply) performance.measure("samlabel:exact-decode", { start, detail: { workerMs: reply.ms } });
      return reply;
    });
  });
  if (exact && mine === generation && p === prompt) {
    onScreen = { prompt: p, masks: exact };
    showLive();
  }
  return exact;
}

/** Counts masks shown for the prompt itself (not hover), so that a person or a test can
 * tell when the mask on screen belongs to the latest click. */
function countDecode(): void {
  view.container.dataset["decodes"] = String(Number(view.container.dataset["decodes"] ?? 0) + 1);
}

function samePrompt(a: Prompt, b: Prompt): boolean {
  return (
    a.box === null &&
    b.box === null &&
    a.points.length === 1 &&
    b.points.length === 1 &&
    a.positive[0] === b.positive[0] &&
    Math.hypot((a.points[0]?.[0] ?? 0) - (b.points[0]?.[0] ?? 0), (a.points[0]?.[1] ?? 0) - (b.points[0]?.[1] ?? 0)) < 0.5
  );
}

function chosenLowRes(): Float32Array | null {
  return onScreen ? masks.chosen(onScreen.prompt, onScreen.masks) : null;
}

function showLive(): void {
  const lowRes = chosenLowRes();
  // Whether the mask on screen is the exact decoder's, for tests and people.
  const exact = onScreen !== null && (fastIsExact || masks.shown(onScreen.prompt)?.exact === true);
  view.container.dataset["exact"] = onScreen?.prompt === prompt && exact ? "1" : "0";
  if (!lowRes) {
    view.live = null;
    view.draw();
    return;
  }
  // Scratch memory: painted at once, then not needed.
  const { logits, size: frame } = modelFrameLogits(lowRes, manifest.low_res_mask_size, size, manifest.image_size, true);
  const color = currentLabel?.color ?? "#3388ff";
  view.live = paintLogits(logits, frame, manifest.mask_threshold, color, manifest.image_size);
  view.prompt = prompt;
  view.draw();
}

function setPrompt(next: Prompt, record = true): void {
  if (record) undoHistory.record({ kind: "prompt", before: prompt, after: next });
  if (record && !isEmpty(prompt) && !isEmpty(next)) masks.follow(next, prompt);
  if (refineTimer !== undefined) clearTimeout(refineTimer);
  refineTimer = undefined;
  prompt = next;
  view.prompt = next;
  const known = masks.shown(next);
  if (isEmpty(next)) {
    onScreen = null;
    showLive();
  } else if (known) {
    // Undo, redo, or a prompt given back after a failed save: its masks are known.
    onScreen = { prompt: next, masks: known.masks };
    showLive();
    countDecode();
    scheduleRefine(next);
  } else if (lastHover && samePrompt(lastHover.prompt, next)) {
    // The mask under the cursor is already decoded: a click shows it with no new decode.
    show(lastHover.reply, next, clickedAt, false);
  } else if (pendingHover && samePrompt(pendingHover.prompt, next)) {
    // It is being decoded: the click shows it when it comes (a newer hover may have
    // replaced it before it started; then the click decodes after all).
    const mine = generation;
    const book = masks;
    const reply = pendingHover.reply;
    book.setPending(next, reply);
    void reply.then((masksOf) => {
      if (mine !== generation) return;
      if (masksOf) book.setFast(next, masksOf);
      if (next !== prompt) return;
      if (masksOf) show(masksOf, next, clickedAt, false);
      else void decode(next, false);
    });
  } else void decode(next, false);
}

// ---------------------------------------------------------------- saving

/** Saves, deletes and relabels under way (a save's wait for its fp32 mask and its
 * retries included): leaving the page meanwhile asks first, as the work would be lost. */
let writes = 0;

function guarded<A extends unknown[], R>(work: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  return async (...args: A) => {
    writes++;
    try {
      return await work(...args);
    } finally {
      writes--;
    }
  };
}

window.addEventListener("beforeunload", (event) => {
  if (writes > 0) event.preventDefault();
});

const accept = guarded(async (): Promise<void> => {
  const pressedAt = performance.now();
  if (isEmpty(prompt)) return say("Click an object first.");
  if (!currentLabel) return say("This project has no label classes yet: a manager adds them.", true);
  const keep = prompt;
  const label = currentLabel;
  const mine = generation;
  const url = config.annotationsUrl;
  const book = masks;
  const imageSize = size;
  // What is saved is the candidate the user saw, even if the exact decode, still to
  // come, would rank another first.
  if (onScreen?.prompt === keep) book.pick(keep, book.candidate(keep, onScreen.masks));
  if (!book.hasExact(keep)) say("Saving…");
  const exact = refining ? refine(keep) : null;
  setPrompt(EMPTY_PROMPT, false); // the next click starts a new object at once
  // The exact masks; the fast ones if there is no exact decoder or it failed (the
  // click's own decode, which may still be running when Enter comes right after it).
  let masksOf = exact ? await exact : null;
  const approximate = exact !== null && !masksOf;
  if (approximate) console.warn("the exact decoder failed: saving the fast decoder's mask");
  masksOf ??= book.shown(keep)?.masks ?? (await book.pending(keep));
  if (!masksOf) {
    if (isEmpty(prompt) && mine === generation) setPrompt(keep, false);
    return say("Not saved: the mask was not decoded. Press Enter to try again.", true);
  }
  const lowRes = book.chosen(keep, masksOf);
  performance.measure("samlabel:enter-to-mask", { start: pressedAt }); // the wait for the exact decode
  const logits = upscaleLogits(lowRes, manifest.low_res_mask_size, imageSize, manifest.image_size);
  const mask = threshold(logits, manifest.mask_threshold);
  const payload: AnnotationPayload = {
    label_class: label.id,
    rle: encodeRle(mask, imageSize.height, imageSize.width),
    prompts: {
      points: keep.points.map(([x, y]) => [x, y] as const),
      labels: keep.positive.map((p) => (p ? 1 : 0)),
      box: keep.box,
    },
  };
  try {
    const annotation = await save(payload, url, mine);
    if (mine !== generation) return; // saved; the page shows another image now
    undoHistory.record({ kind: "save", annotationId: annotation.id, payload });
    // Said, as the mask saved is then the 8-bit one, which may differ a little.
    say(`Saved as ${label.name}${approximate ? " (the fp32 decoder failed: 8-bit mask)" : ""}.`);
  } catch (error) {
    if (mine !== generation) return say(`An annotation of the previous image was not saved: ${describe(error)}`, true);
    // Nothing is lost: the prompt comes back for another try, unless a new one began.
    if (isEmpty(prompt)) setPrompt(keep, false);
    say(`Not saved: ${describe(error)}. Press Enter to try again.`, true);
  }
});

/** Creates the annotation at ``url`` (by default the image on screen now's), even if the
 * page moves on while the request (or its retries) runs; lists it only if the page still
 * shows the image of generation ``mine``. */
const save = guarded(async (payload: AnnotationPayload, url: string = config.annotationsUrl, mine: number = generation) => {
  const annotation = await withRetry(
    () => createAnnotation(url, payload),
    (attempt) => say(`Saving failed; retrying (${attempt})…`, true),
  );
  if (mine === generation) {
    addSaved(annotation);
    renderAnnotations();
  }
  return annotation;
});

function annotationUrl(id: number): string {
  return config.annotationUrlTemplate.replace(/0\/$/, `${id}/`);
}

const remove = guarded(async (id: number, record = true): Promise<void> => {
  const entry = saved.find((s) => s.annotation.id === id);
  if (!entry) return;
  const mine = generation;
  try {
    await withRetry(
      () => deleteAnnotation(annotationUrl(id), entry.annotation.version),
      (attempt) => say(`Deleting failed; retrying (${attempt})…`, true),
    );
  } catch (error) {
    if (error instanceof HttpError && error.status === 409) {
      return say("Someone changed this annotation meanwhile; reload to see it.", true);
    }
    return say(`Not deleted: ${describe(error)}`, true);
  }
  if (mine !== generation) return; // deleted; the page shows another image now
  saved.splice(saved.indexOf(entry), 1);
  if (record) {
    const { label_class, rle, prompts } = entry.annotation;
    undoHistory.record({ kind: "delete", annotationId: id, payload: { label_class, rle, prompts } });
  }
  syncLayers();
  renderAnnotations();
});

const relabel = guarded(async (id: number, labelId: number): Promise<void> => {
  const entry = saved.find((s) => s.annotation.id === id);
  if (!entry) return;
  const mine = generation;
  try {
    const annotation = await relabelAnnotation(annotationUrl(id), entry.annotation.version, labelId);
    if (mine !== generation) return; // relabelled; the page shows another image now
    entry.annotation = annotation;
    entry.layer = paintMask(decodeRle(entry.annotation.rle), size, colorOf(labelId));
    syncLayers();
    renderAnnotations();
  } catch (error) {
    const stale = error instanceof HttpError && error.status === 409;
    say(stale ? "Someone changed this annotation meanwhile; reload to see it." : `Not relabelled: ${describe(error)}`, true);
  }
});

async function undo(): Promise<void> {
  const action = undoHistory.undo();
  if (!action) return;
  if (action.kind === "prompt") setPrompt(action.before, false);
  else if (action.kind === "save") await remove(action.annotationId, false);
  else undoHistory.renumber(action.annotationId, (await save(action.payload)).id);
}

async function redo(): Promise<void> {
  const action = undoHistory.redo();
  if (!action) return;
  if (action.kind === "prompt") setPrompt(action.after, false);
  else if (action.kind === "save") undoHistory.renumber(action.annotationId, (await save(action.payload)).id);
  else await remove(action.annotationId, false);
}

function describe(error: unknown): string {
  if (error instanceof HttpError) {
    try {
      const body = JSON.parse(error.body) as Record<string, unknown>;
      return `${error.status} ${JSON.stringify(body)}`;
    } catch {
      return `${error.status}`;
    }
  }
  return error instanceof Error ? error.message : String(error);
}

// ---------------------------------------------------------------- lists

function renderLabels(): void {
  labelList.replaceChildren(
    ...labels.map((label) => {
      const item = document.createElement("button");
      item.type = "button";
      item.className = label.id === currentLabel?.id ? "label current" : "label";
      item.style.borderLeftColor = label.color;
      item.textContent = label.shortcut ? `${label.name} (${label.shortcut})` : label.name;
      item.onclick = () => chooseLabel(label);
      return item;
    }),
  );
}

function chooseLabel(label: LabelClass): void {
  currentLabel = label;
  renderLabels();
  showLive();
}

function renderAnnotations(): void {
  annotationList.replaceChildren(
    ...saved.map((entry) => {
      const { annotation } = entry;
      const row = document.createElement("li");
      row.dataset["annotationId"] = String(annotation.id);
      row.className = annotation.id === selected ? "selected" : "";
      const name = document.createElement("span");
      name.textContent = `#${annotation.id} · ${annotation.area.toLocaleString()} px`;
      name.style.borderLeftColor = colorOf(annotation.label_class);
      name.onclick = () => {
        selected = selected === annotation.id ? null : annotation.id;
        syncLayers();
        renderAnnotations();
      };
      const select = document.createElement("select");
      for (const label of labels) select.add(new Option(label.name, String(label.id), false, label.id === annotation.label_class));
      select.onchange = () => void relabel(annotation.id, Number(select.value));
      const toggle = document.createElement("button");
      toggle.type = "button";
      toggle.textContent = entry.visible ? "hide" : "show";
      toggle.onclick = () => {
        entry.visible = !entry.visible;
        syncLayers();
        renderAnnotations();
      };
      const del = document.createElement("button");
      del.type = "button";
      del.textContent = "delete";
      del.onclick = () => void remove(annotation.id);
      row.append(name, select, toggle, del);
      return row;
    }),
  );
}

// ---------------------------------------------------------------- input

const HOVER_REST_MS = 40;
let hoverTimer: ReturnType<typeof setTimeout> | undefined;
let dragStart: [number, number] | null = null;
let panning: { x: number; y: number } | null = null;
let spaceDown = false;

view.canvas.addEventListener("contextmenu", (event) => event.preventDefault());

view.canvas.addEventListener("pointerdown", (event) => {
  if (event.button === 1 || (event.button === 0 && spaceDown)) {
    panning = { x: event.clientX, y: event.clientY };
    return;
  }
  if (event.button === 0) dragStart = view.toImage(event.clientX, event.clientY);
});

view.canvas.addEventListener("pointermove", (event) => {
  if (panning) {
    view.panBy(event.clientX - panning.x, event.clientY - panning.y);
    panning = { x: event.clientX, y: event.clientY };
    return;
  }
  const point = view.toImage(event.clientX, event.clientY);
  if (dragStart) {
    const moved = Math.hypot(point[0] - dragStart[0], point[1] - dragStart[1]) * viewScale();
    if (moved > 4) {
      view.dragBox = [dragStart[0], dragStart[1], point[0], point[1]];
      view.draw();
    }
    return;
  }
  if (hoverTimer !== undefined) clearTimeout(hoverTimer);
  if (isEmpty(prompt) && view.inside(point) && embeddingKey === config.embeddingUrl) {
    // Decode where the cursor rests, not every point it passes: a decode started for a
    // point the cursor already left would only delay the click that follows.
    hoverTimer = setTimeout(() => {
      hoverTimer = undefined;
      if (isEmpty(prompt)) void decode({ points: [point], positive: [true], box: null }, true);
    }, HOVER_REST_MS);
  }
});

view.canvas.addEventListener("pointerup", (event) => {
  clickedAt = performance.now();
  if (hoverTimer !== undefined) clearTimeout(hoverTimer);
  hoverTimer = undefined;
  if (panning) {
    panning = null;
    return;
  }
  const point = view.toImage(event.clientX, event.clientY);
  if (event.button === 2) {
    if (view.inside(point)) setPrompt(addPoint(prompt, point, false));
    return;
  }
  if (event.button !== 0 || !dragStart) return;
  const box = view.dragBox;
  dragStart = null;
  view.dragBox = null;
  if (box) setPrompt(withBox(prompt, box));
  else if (view.inside(point)) setPrompt(addPoint(prompt, point, !event.altKey));
});

view.canvas.addEventListener(
  "wheel",
  (event) => {
    event.preventDefault();
    view.zoomAt(event.clientX, event.clientY, Math.exp(-event.deltaY / 500));
  },
  { passive: false },
);

function viewScale(): number {
  const [x0] = view.toImage(0, 0);
  const [x1] = view.toImage(100, 0);
  return 100 / (x1 - x0);
}

window.addEventListener("keyup", (event) => {
  if (event.key === " ") spaceDown = false;
});

window.addEventListener("keydown", (event) => {
  if (event.target instanceof HTMLInputElement || event.target instanceof HTMLSelectElement) return;
  const key = event.key;
  if (key === " ") {
    spaceDown = true;
    event.preventDefault();
  } else if ((event.ctrlKey || event.metaKey) && key.toLowerCase() === "z") {
    event.preventDefault();
    void (event.shiftKey ? redo() : undo());
  } else if (key === "Enter") {
    event.preventDefault();
    void accept();
  } else if (key === "Escape") {
    setPrompt(EMPTY_PROMPT);
  } else if (key === "Tab" && onScreen?.prompt === prompt && usesCandidates(prompt)) {
    event.preventDefault();
    masks.pick(prompt, (masks.candidate(prompt, onScreen.masks) % 3) + 1);
    showLive();
  } else if (["1", "2", "3"].includes(key) && onScreen?.prompt === prompt && usesCandidates(prompt)) {
    masks.pick(prompt, Number(key));
    showLive();
  } else if ((key === "ArrowRight" || key === "ArrowLeft") && !event.altKey && !event.ctrlKey && !event.metaKey) {
    // (Alt+← is the browser's own back, which popstate handles.)
    event.preventDefault();
    const direction = key === "ArrowRight" ? "next" : "previous";
    if (started) step(direction, event.timeStamp);
    else {
      // The worker is still starting: a new page loses nothing.
      const url = direction === "next" ? config.nextUrl : config.previousUrl;
      if (url) window.location.href = url + window.location.search;
    }
  } else if (key === "Delete" && selected !== null) {
    void remove(selected);
  } else {
    const label = labels.find((l) => l.shortcut && l.shortcut === key);
    if (label) chooseLabel(label);
  }
});

start().catch((error: unknown) => say(`Cannot start the annotator: ${describe(error)}`, true));
