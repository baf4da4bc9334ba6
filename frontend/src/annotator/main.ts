/**
 * The annotator page: click, box or hover to get SAM's mask from the decoder running
 * in this browser on the server's embedding; Enter saves it with the chosen label. The
 * keys are listed on the page (input.ts's table).
 *
 * A click shows the fast (8-bit) decoder's mask at once; a moment later, unless the user
 * acts again, the exact decoder (fp32, equal to PyTorch's) decodes the same prompt and its
 * mask replaces the fast one. Enter saves the exact mask, waiting for it if need be.
 *
 * This module only wires the parts together: each image shown gets a fresh ImageSession
 * (session.ts: prompt, masks, undo, saved annotations); InputHandler (input.ts) turns
 * events into intents, which go to the session on screen; View (view.ts) draws. Moving to
 * another image (arrow keys, the browser's back and forward) happens in place: the
 * decoder worker and its session stay, the image's configuration, bitmap and embedding
 * were prefetched, and the old image's session is closed and a new one made.
 *
 * With ``?queue=annotate`` or ``?queue=review`` the page works through the member's queue
 * (WorkQueue, queue.ts): Ctrl+Enter submits and opens the next image, A / R review. On
 * every page the image's workflow state is shown, the holder's lease is kept while they
 * work, and active time is reported (ActivityReporter, activity.ts).
 */

import type { Size } from "../lib/transform";
import { type LabelClass, listAll, serverStore } from "./api";
import { fetchImmutable } from "./cache";
import { FALLBACK_COLOR, LabelClasses, storedClassMemory } from "./classes";
import { type ImageConfig, readPageConfig } from "./config";
import { DecoderClient } from "./decoder-client";
import { EmbeddingLoader } from "./embeddings";
import { describe } from "./errors";
import { InputHandler, type Intents, keyHelp } from "./input";
import { ActivityReporter } from "./activity";
import { confirmIn } from "./dialogs";
import { HistoryPanel } from "./history-panel";
import { IssueBoard } from "./issue-board";
import { openIssuesQuestion } from "./issues";
import { type Manifest, chooseDecoders, modelFrame } from "./manifest";
import { ImageNavigator, type LoadedImage, historyState, loadBitmap } from "./navigation";
import { renderAnnotations, renderClasses, renderKeyHelp } from "./panel";
import {
  type CandidateShown,
  type DecodeTiming,
  type DecoderPort,
  ImageSession,
  type ModelFrame,
  type SessionContext,
  type WriteGuard,
} from "./session";
import { WorkQueue } from "./queue";
import { PolygonMode, createPolygonPanel } from "./polygon-mode"; // polygon mode (#16)
import { EditOverlay } from "./edit-overlay"; // mask editing (#16)
import { unpaintedLayer } from "./edit-layer"; // mask editing (#16)
import { EditTools } from "./edit-tools"; // mask editing (#16)
import { ProposalTools } from "./proposal-tools";
import { ClassSuggester, describeHint, describeSuggestion } from "./suggestions";
import { View, paintAnnotation, paintLive } from "./view";
import { WorkflowApi } from "./workflow-api";
import { CropDetail, visibleWindow } from "./crop-detail"; // crop detail (#16)
import { paintCropLive } from "./crop-paint"; // crop detail (#16)
import { RulesPanel } from "./rules-panel"; // quality rules (#17)

// The fp32 decoder's first decode also starts its session, a few hundred ms of the
// worker's time: it is done this long after the first image is clickable, while a person
// looks at the image, rather than just after their first click, when the second may come.
const WARM_EXACT_AFTER_MS = 1000;
// The neighbours are prefetched a moment after an image becomes clickable: the first
// click on an image often comes at once, and the downloads, image decoding and float16
// conversion would otherwise take CPU from its decode.
const PREFETCH_AFTER_MS = 400;

const pageConfig = readPageConfig();
const element = (id: string): HTMLElement => document.getElementById(id) as HTMLElement;
const root = document.querySelector(".annotator") as HTMLElement;
const stage = element("annotator-stage");
const statusLine = element("annotator-status");
const decodeLine = element("annotator-decode-time");
const candidateLine = element("annotator-candidate");
const labelList = element("annotator-labels");
const annotationList = element("annotator-annotations");
const view = new View(stage, { height: pageConfig.height, width: pageConfig.width });

/** The image on screen; null until the manifest is read. */
let session: ImageSession | null = null;
/** Polygon mode (#16), made with the side panel below. */
let polygonMode: PolygonMode | null = null;
/** Mask editing (#16): brush, eraser, SAM add/subtract, merge, split, fill holes. */
let editTools: EditTools | null = null;
let context: SessionContext | null = null;
let frame: ModelFrame | null = null;
let client: DecoderClient | null = null;
let embeddings: EmbeddingLoader | null = null;
/** Switches images in place, once the worker is ready (before, the arrow keys load
 * another page). */
let imageNavigator: ImageNavigator | null = null;
let refining = false;
let exactStarted = false; // an fp32 decode was asked for
let readyMessage = "Ready. Click an object.";
const stageReady = {
  annotate: " Ctrl+Enter submits the image.",
  review: " A / R: accept / reject the outlined annotation; Shift+A / Shift+R: the whole image.",
};

function say(message: string, isError = false): void {
  statusLine.textContent = message;
  statusLine.classList.toggle("error", isError);
}

/** States and counters on the stage's data attributes, for tests and people. */
function mark(name: string, value: number | string): void {
  stage.dataset[name] = String(value);
}

function bump(name: string): void {
  mark(name, Number(stage.dataset[name] ?? 0) + 1);
}

// ---------------------------------------------------------------- the project's classes

function localStorageOrNull(): Storage | null {
  try {
    return window.localStorage;
  } catch {
    return null; // storage disabled
  }
}

const suggestionLine = element("annotator-suggestion");
const classes = new LabelClasses(
  () => listAll<LabelClass>(pageConfig.labelClassesUrl),
  storedClassMemory(localStorageOrNull(), `samlabel:label-class:${root.dataset["projectId"]}:${root.dataset["userId"]}`),
  () => {
    renderClasses(labelList, classes, chooseClass);
    const suggested = classes.suggestion;
    const hint = classes.hint;
    suggestionLine.textContent = suggested
      ? describeSuggestion(suggested.label.name, suggested.confidence)
      : hint
        ? describeHint(hint.label.name, hint.confidence, hint.label.shortcut)
        : "";
    suggestionLine.dataset["kind"] = hint ? "hint" : "suggestion";
    mark("suggested", suggested?.label.id ?? "");
    mark("hinted", hint?.label.id ?? "");
    renderSaved();
    drawLive();
  },
);

/** The user's choice of a class (a key or the list): a suggestion never replaces it for
 * the object under way, and a selected proposal is accepted with it at once. */
function chooseClass(label: LabelClass): void {
  suggester.userChose();
  classes.choose(label);
  proposalTools.acceptSelected();
}

// ---------------------------------------------------------------- class suggestions

const suggester = new ClassSuggester({
  knownClasses: () => new Set(classes.all.map((label) => label.id)),
  suggest: (id, confidence, preselect) => classes.suggest(id, confidence, preselect),
  answered: () => bump("suggestionAnswers"),
});
/** Whether an object is under way (a prompt, or a selected proposal), to tell when it
 * ends (saved, accepted or given up): a suggestion is for one object. */
let objectUnderWay = false;

function followObject(): void {
  const s = session;
  if (!s) return;
  const underWay = s.prompt.points.length > 0 || s.prompt.box !== null || proposalTools.selected !== null;
  if (objectUnderWay && !underWay) suggester.objectEnded();
  objectUnderWay = underWay;
  if (s.promptMaskOnScreen) suggester.maskShown(s.image.suggestClassUrl, s.prompt, () => s.promptMaskRle());
}

// ---------------------------------------------------------------- writes

/** Saves, deletes and relabels under way (a save's wait for its fp32 mask and its
 * retries included): leaving the page meanwhile asks first, as the work would be lost. */
let writes = 0;
/** Waiting for the writes under way to end (a submit waits for the last save). */
let writesDoneWaiters: (() => void)[] = [];
const writeGuard: WriteGuard = {
  async run(work) {
    mark("writes", ++writes);
    try {
      return await work();
    } finally {
      mark("writes", --writes);
      queue.written(); // outside a queue, the first save may have started the image
      if (writes === 0) {
        for (const resolve of writesDoneWaiters) resolve();
        writesDoneWaiters = [];
      }
    }
  },
};

function writesDone(): Promise<void> {
  return writes === 0 ? Promise.resolve() : new Promise((resolve) => writesDoneWaiters.push(resolve));
}

// ---------------------------------------------------------------- the workflow

const workflowApi = new WorkflowApi(pageConfig.workflow);
const activity = new ActivityReporter(workflowApi);
const queue = new WorkQueue(
  workflowApi,
  pageConfig.workflow.stage,
  pageConfig.workflow.userName,
  {
    session: () => session,
    goTo: (configUrl, pressedAt) => imageNavigator?.goTo(configUrl, pressedAt),
    prefetch: (images) => {
      for (const image of images) {
        imageNavigator?.prefetch(image.configUrl);
        embeddings?.prefetch(image.embeddingUrl, image.embeddingSha256);
      }
    },
    writesDone,
    confirmSubmit: async (s) => {
      const question = openIssuesQuestion(await issueBoard.openNow(s.image.imageId));
      return question === null || confirmIn(element("annotator-confirm") as HTMLDialogElement, question);
    },
    annotationsChanged: () => renderSaved(),
    submitReason: (s) => rulesPanel?.reason(s) ?? Promise.resolve(""), // quality rules (#17)
    rulesRefused: (s, move, refusal) => rulesPanel?.refused(s, move, refusal), // the server's refusal (#17)
    say,
    mark,
  },
  {
    bar: element("annotator-work"),
    position: element("annotator-queue-position"),
    state: element("annotator-work-state"),
    end: element("annotator-end"),
    endMessage: element("annotator-end-message"),
    reasonDialog: element("annotator-reason") as HTMLDialogElement,
  },
  () => activity.active,
);
for (const [id, act] of [
  ["annotator-submit", () => queue.submit(performance.now())],
  ["annotator-release", () => queue.release()],
  ["annotator-accept-image", () => queue.review("accept", true, performance.now())],
  ["annotator-reject-image", () => queue.review("reject", true, performance.now())],
] as const) {
  const button = document.getElementById(id);
  button?.addEventListener("mousedown", (event) => event.preventDefault()); // keeps the keys on the image
  button?.addEventListener("click", () => void act());
}

window.addEventListener("beforeunload", (event) => {
  if (writes > 0) event.preventDefault();
});

// ---------------------------------------------------------------- quality rules (#17)

const keysTitle = element("annotator-keys").previousElementSibling;
const rulesPanel = pageConfig.rules
  ? new RulesPanel(
      pageConfig.rules,
      {
        session: () => session,
        className: (id) => classes.all.find((label) => label.id === id)?.name ?? "",
        select: (id) => session?.selectOnly(id),
        mark,
      },
      keysTitle?.parentElement as HTMLElement,
      keysTitle,
      element("annotator-reason") as HTMLDialogElement,
    )
  : null;

// ---------------------------------------------------------------- drawing the session

function drawLive(): void {
  const s = session;
  if (!s || !frame) return;
  const lowRes = s.liveLogits;
  const color = classes.current?.color ?? FALLBACK_COLOR;
  // crop detail (#16): a mask decoded in a crop is drawn over the crop's box.
  const crop = s.liveFrame;
  view.live = !lowRes
    ? null
    : crop
      ? paintCropLive(lowRes, frame.lowResMaskSize, crop, frame.imageSize, frame.maskThreshold, color)
      : paintLive(lowRes, frame.lowResMaskSize, s.size, frame.imageSize, frame.maskThreshold, color);
  mark("liveFrame", !lowRes ? "" : crop ? "crop" : "image");
  view.prompt = s.prompt;
  view.proposals = proposalTools.drawing();
  view.draw();
  followObject();
  // Whether the mask on screen is the exact decoder's, for tests and people.
  mark("exact", s.exactOnScreen ? "1" : "0");
  showCandidate(s.candidate);
}

function showCandidate(shown: CandidateShown | null): void {
  mark("candidate", shown ? shown.index : "");
  candidateLine.textContent = shown
    ? `candidate ${shown.index} of ${shown.count}${shown.index === shown.best ? " (SAM's best)" : ""} · Tab for the next`
    : "";
}

// ---------------------------------------------------------------- issues and history

const { canAnnotate, canReview } = pageConfig.workflow;
const issueBoard = new IssueBoard(
  workflowApi,
  canReview,
  canAnnotate || canReview,
  { changed: () => renderSaved(), say, mark },
  {
    section: element("annotator-issues-section"),
    list: element("annotator-issues"),
    showResolved: element("annotator-show-resolved") as HTMLInputElement,
    commentDialog: element("annotator-reason") as HTMLDialogElement,
  },
);

const historyPanel = new HistoryPanel(
  workflowApi,
  {
    className: (id) => classes.all.find((label) => label.id === id)?.name ?? "no class",
    ghost: (ghost) => {
      view.ghost = ghost;
      view.draw();
    },
    say,
  },
  {
    section: element("annotator-history-section"),
    title: element("annotator-history-title"),
    review: element("annotator-history-review"),
    list: element("annotator-history"),
    close: element("annotator-history-close"),
  },
);

/** Shift+Enter: the prompt's mask replaces the selected annotation's. */
function replaceMask(): boolean {
  const s = session;
  if (!s) return true;
  if (s.selected === null) say("Select the annotation to fix in the list first; Enter saves a new one.", true);
  else {
    const fixed = s.selected;
    void s.save(fixed).then(() => {
      // The history shown gets the new version.
      if (historyPanel.annotation === fixed && !s.isClosed) void historyPanel.show(fixed);
    });
  }
  return true;
}

function renderSaved(): void {
  const s = session;
  if (!s) return;
  proposalTools.annotationsChanged(s);
  editTools?.annotationsChanged(); // mask editing (#16): follows the selection
  suggester.labelled();
  const boxes = new Map(s.annotations.map(({ annotation }) => [annotation.id, annotation.bbox ?? []]));
  view.pins = issueBoard.pins(boxes);
  if (historyPanel.annotation !== null && !boxes.has(historyPanel.annotation)) historyPanel.close();
  view.layers = s.annotations.map(({ annotation, visible }) => ({
    // the annotation under edit is not painted: the edit overlay shows it (#16)
    ...(annotation.id === editTools?.hiddenId
      ? unpaintedLayer(classes.colorOf(annotation.label_class))
      : paintAnnotation(annotation, classes.colorOf(annotation.label_class))),
    // polygon mode and mask editing (#16) draw the annotation under edit themselves
    visible: visible && annotation.id !== polygonMode?.editingId && annotation.id !== editTools?.hiddenId,
    highlighted: annotation.id === s.selected,
  }));
  view.draw();
  renderAnnotations(annotationList, s.annotations, s.selected, classes, {
    select: (id) => s.select(id),
    relabel: (id, labelId) => void s.relabel(id, labelId),
    toggleVisible: (id) => s.toggleVisible(id),
    remove: (id) => void s.remove(id),
    history: workflowApi.config.historyUrlTemplate ? (id) => void historyPanel.show(id) : undefined,
    historyShown: historyPanel.annotation,
    verdictOf: (id) => queue.verdictOf(id),
  });
  rulesPanel?.annotationsChanged(s); // quality rules (#17)
}

function showTiming(timing: DecodeTiming): void {
  const shownFor = session;
  requestAnimationFrame(() => {
    const onScreenMs = performance.now() - timing.since;
    // The line is the image on screen's: a decode of the previous one says nothing of it.
    if (session === shownFor) {
      decodeLine.textContent = `decode ${timing.decodeMs.toFixed(0)} ms · on screen ${onScreenMs.toFixed(0)} ms`;
    }
    if (!timing.hover) {
      const { decodeMs, replyMs, drawnMs, points } = timing;
      performance.measure("samlabel:click-to-mask", { start: timing.since, detail: { decodeMs, replyMs, drawnMs, points } });
    }
  });
}

/** Shows everything of the session on screen, as it is now. */
function renderSession(): void {
  decodeLine.textContent = ""; // nothing decoded on this image yet
  drawLive();
  renderSaved();
}

// ---------------------------------------------------------------- input

// ---------------------------------------------------------------- proposals

const proposalTools = new ProposalTools(
  {
    session: () => session,
    currentClass: () => classes.current,
    writes: writeGuard,
    changed: () => {
      view.proposals = proposalTools.drawing();
      view.draw();
      followObject();
    },
    selected: (proposal) => {
      const s = session;
      if (proposal && s) suggester.proposalShown(s.image.suggestClassUrl, proposal.rle, proposal.suggestion);
      // Hovered masks of SAM give way to the selection.
      if (proposal) s?.dropHover();
    },
    say,
    mark,
  },
  {
    section: element("annotator-proposals-section"),
    count: element("annotator-proposals-count"),
    minIou: element("annotator-accept-min-iou") as HTMLInputElement,
    acceptAll: element("annotator-accept-all") as HTMLButtonElement,
    acceptSuggested: element("annotator-accept-suggested") as HTMLButtonElement,
  },
);

// ---------------------------------------------------------------- polygon mode (#16)

const keyHelpList = element("annotator-keys");
polygonMode = new PolygonMode(
  {
    selected: () => {
      const s = session;
      return s?.selected == null ? null : (s.annotationById(s.selected) ?? null);
    },
    annotationUrl: (id) => (session?.image.annotationUrlTemplate ?? "").replace(/0\/$/, `${id}/`),
    colorOf: (labelClass) => classes.colorOf(labelClass),
    saved: (annotation, before) => {
      const s = session;
      if (!s || s.annotationById(annotation.id) === null) return; // another image is on screen
      s.refreshAnnotation(annotation);
      const changes = [{ kind: "mask" as const, id: annotation.id, before, after: annotation.rle }];
      s.recordEdit({ kind: "edit", what: "polygon edit", changes });
      if (historyPanel.annotation === annotation.id) void historyPanel.show(annotation.id);
    },
    editing: () => renderSaved(),
    write: (work) => writeGuard.run(work),
    say,
    mark,
  },
  view,
  stage,
  createPolygonPanel(keyHelpList.parentElement as HTMLElement, keyHelpList.previousElementSibling),
);

// ---------------------------------------------------------------- mask editing (#16)

editTools = new EditTools(
  {
    session: () => session,
    say,
    mark,
    colorOf: (labelClass) => classes.colorOf(labelClass),
    zoom: () => view.zoom,
    changed: () => renderSaved(),
  },
  new EditOverlay(stage, view),
);
{
  const tools = editTools;
  const afterDraw = view.afterDraw;
  view.afterDraw = () => {
    afterDraw?.();
    tools.redrawOverlay();
  };
}

const intents: Intents = {
  point: (at, positive, shift = false) => {
    if (issueBoard.armed && positive) void issueBoard.pinAt(at);
    else if (editTools?.click(at, positive, shift)) return; // mask editing (#16)
    else if (!proposalTools.click(at, positive, shift)) session?.click(at, positive);
  },
  box: (box) => session?.box(box),
  hover: (at) => {
    if (issueBoard.armed) return; // a pin's click makes no mask
    if (editTools?.active) return; // mask editing (#16): no SAM masks under an edit tool
    if (proposalTools.hover(at)) session?.dropHover();
    else session?.hover(at);
  },
  clear: () => {
    if (editTools?.escape()) return; // mask editing (#16)
    if (issueBoard.armed) {
      issueBoard.disarm();
      say("No issue pinned.");
    } else if (!proposalTools.deselect()) session?.clear();
  },
  save: () => {
    if (!proposalTools.acceptSelected()) void session?.save();
  },
  undo: () => void session?.undo(),
  redo: () => void session?.redo(),
  nextCandidate: () => session?.nextCandidate(),
  chooseCandidate: (index) => session?.chooseCandidate(index) ?? false,
  step: (direction, at) => step(direction, at),
  deleteSelected: () => session?.deleteSelected(),
  chooseClass: (key) => {
    const label = classes.byShortcut(key);
    if (label) chooseClass(label);
    return label !== undefined;
  },
  toggleProposals: () => proposalTools.toggle(),
  togglePolygons: () => polygonMode?.toggle() ?? false, // polygon mode (#16)
  // mask editing (#16)
  editTool: (tool) => editTools?.choose(tool) ?? false,
  brushSize: (step) => editTools?.resize(step) ?? false,
  fillHoles: () => editTools?.fillHoles() ?? false,
  mergeNext: () => editTools?.armMerge() ?? false,
  split: () => editTools?.split() ?? false,
  painting: () => editTools?.painting ?? false,
  paint: (phase, at, timeStamp) => editTools?.paint(phase, at, timeStamp),
  submit: () => queue.submit(performance.now()),
  review: (verdict, whole) => queue.review(verdict, whole, performance.now()),
  pinIssue: () => issueBoard.armPin(),
  replaceMask,
};
new InputHandler(view.canvas, window, view, intents);
renderKeyHelp(element("annotator-keys"), keyHelp(queue.stage, canReview));

// ---------------------------------------------------------------- images and sessions

/** Closes the session on screen and makes ``image``'s. */
function beginSession(image: ImageConfig, ctx: SessionContext): ImageSession {
  session?.close();
  polygonMode?.leave(); // polygon mode (#16)
  session = new ImageSession(image, ctx);
  editTools?.imageShown(); // mask editing (#16)
  proposalTools.imageShown(session);
  renderSession();
  queue.imageShown(image);
  historyPanel.close();
  issueBoard.load(image.imageId);
  return session;
}

/** Lists ``s``'s saved annotations; in review, the first comes up for a verdict. */
async function loadAnnotations(s: ImageSession): Promise<void> {
  await s.loadAnnotations();
  if (!s.isClosed) queue.annotationsLoaded(s);
}

/** Makes ``s``'s image clickable; then, a moment later, prefetches its neighbours. */
async function makeClickable(s: ImageSession, pressedAt?: number): Promise<void> {
  if (!(await s.open())) return;
  performance.mark("samlabel:ready");
  if (pressedAt !== undefined) {
    performance.measure("samlabel:switch-to-clickable", { start: pressedAt, detail: { imageId: s.image.imageId } });
  }
  say(readyMessage);
  setTimeout(() => {
    if (!s.isClosed) prefetchAround(s.image);
  }, PREFETCH_AFTER_MS);
}

/** Hands the next images' embeddings to the worker, and has their configurations and
 * bitmaps loaded. */
function prefetchAround(image: ImageConfig): void {
  // In a queue the next image is the queue's, not the project's next one.
  if (queue.prefetchAfter(image)) return;
  imageNavigator?.prefetchAround(image);
  for (const url of image.prefetchEmbeddingUrls) embeddings?.prefetch(url, image.embeddingSha256s[url] ?? null);
}

/** The arrow keys. */
function step(direction: "next" | "previous", pressedAt: number): void {
  if (imageNavigator) return imageNavigator.step(direction, pressedAt);
  // The worker is still starting: a new page loses nothing.
  const url = direction === "next" ? pageConfig.nextUrl : pageConfig.previousUrl;
  if (url) window.location.href = url + window.location.search;
  else queue.atEnd(direction, pageConfig.projectName);
}

/** Shows another image, with a session of its own; the worker, its session and the
 * label classes (the project's) stay. */
function showImage({ config: image, bitmap }: LoadedImage, push: boolean, pressedAt: number): void {
  if (!context) return;
  view.show(bitmap, { height: image.height, width: image.width });
  const opened = beginSession(image, context);
  element("annotator-image-name").textContent = image.imageName;
  element("annotator-image-size").textContent = `${image.width}×${image.height}`;
  document.title = `${image.imageName} · ${image.projectName}`;
  // Keep the query (?decoder=…&threads=…), so that a reload keeps the same decoder.
  if (push) window.history.pushState(historyState(image), "", image.pageUrl + window.location.search);
  say("Loading…");
  imageNavigator?.keepAround(image);
  Promise.all([loadAnnotations(opened), makeClickable(opened, pressedAt)]).catch((error: unknown) => {
    if (!opened.isClosed) say(`Cannot open this image: ${describe(error)}`, true);
  });
}

window.addEventListener("popstate", (event) => {
  const state = event.state as { configUrl?: unknown } | null;
  if (typeof state?.configUrl !== "string") return;
  if (!imageNavigator) return window.location.reload();
  imageNavigator.follow(state.configUrl, event.timeStamp);
});

// ---------------------------------------------------------------- start

async function start(): Promise<void> {
  say("Loading…");
  window.history.replaceState(historyState(pageConfig), "");
  // The worker's script (onnxruntime's JavaScript) loads while the manifest is fetched.
  const worker = new Worker(pageConfig.workerUrl, { type: "module" });
  const manifest = (await (await fetchImmutable(pageConfig.manifestUrl, null)).json()) as Manifest;
  const choice = chooseDecoders(
    manifest,
    new URLSearchParams(window.location.search),
    pageConfig.decoderBaseUrl,
    pageConfig.wasmPaths,
    self.crossOriginIsolated,
    navigator.hardwareConcurrency,
  );
  frame = modelFrame(manifest);
  refining = choice.refining;
  const decoderClient = new DecoderClient(worker, choice.init);
  client = decoderClient;
  const loader = new EmbeddingLoader(decoderClient);
  embeddings = loader;
  let decoding = 0; // fast decodes asked and not answered, for tests and people
  // crop detail (#16): crops' embeddings, asked for when the user zooms into a large image.
  const cropDetail = new CropDetail(
    {
      session: () => session,
      window: () => visibleWindow(view.transform, view.canvas, view.size),
      worker: decoderClient,
      mark,
      outline: (box) => {
        view.detailOutline = box;
        view.draw();
      },
    },
    decodeLine.parentElement ?? decodeLine,
  );
  const decoder: DecoderPort = {
    decode(input) {
      if (input.key) cropDetail.ensure(input.key); // crop detail (#16)
      mark("decoding", ++decoding);
      return decoderClient.decode(input).finally(() => mark("decoding", --decoding));
    },
    exact(key, input) {
      cropDetail.ensure(key); // crop detail (#16)
      exactStarted = true;
      return decoderClient.exact(key, input);
    },
  };
  context = {
    decoder,
    embeddings: loader,
    store: serverStore,
    classes,
    writes: writeGuard,
    model: frame,
    refining: choice.refining,
    fastIsExact: choice.fastIsExact,
    events: {
      say,
      live: drawLive,
      annotations: renderSaved,
      decoded: showTiming,
      count: bump,
    },
  };
  // The embedding downloads (and, for a split decoder, its image stage waits in the
  // worker) while onnxruntime starts, rather than after.
  const first = pageConfig;
  const firstSha256 = first.embeddingSha256s[first.embeddingUrl];
  if (firstSha256) loader.prefetch(first.embeddingUrl, firstSha256);
  const threads = choice.init.threads;
  readyMessage = `Ready (${threads} thread${threads > 1 ? "s" : ""}). Click an object.`;
  if (queue.stage) readyMessage += stageReady[queue.stage];
  const firstSession = beginSession(first, context);
  const [bitmap, timings] = await Promise.all([
    loadBitmap(first.imageUrl),
    decoderClient.ready(),
    classes.ready,
    loadAnnotations(firstSession),
  ]);
  performance.mark("samlabel:decoder-ready", { detail: timings });
  view.image = bitmap;
  view.draw();
  imageNavigator = new ImageNavigator(
    { config: first, bitmap },
    {
      current: () => session?.image ?? pageConfig,
      show: showImage,
      say,
      mark,
      atEnd: (direction) => queue.atEnd(direction, session?.image.projectName ?? pageConfig.projectName),
    },
  );
  // In a queue, the image the queue gives (the one on screen, unless another is held).
  queue.start(first, performance.now()).catch((error: unknown) => say(`Cannot open your queue: ${describe(error)}`, true));
  await makeClickable(firstSession);
  setTimeout(warmUpDrawing, 0);
  setTimeout(warmUpExact, WARM_EXACT_AFTER_MS);
  rulesPanel?.startWhenIdle(); // quality rules (#17): Pyodide loads off the click path
}

/** One fp32 decode of a dummy click on the image on screen, unless one was asked for
 * already: it starts the fp32 session and makes its first run's allocations. */
function warmUpExact(): void {
  const s = session;
  if (!refining || exactStarted || !client || !s?.isClickable) return;
  exactStarted = true;
  const dummy = { coords: new Float32Array(4), labels: Float32Array.of(1, -1), maskInput: null };
  void client.exact(s.image.embeddingUrl, { ...dummy, origSize: [s.size.height, s.size.width] });
}

/** Runs the live mask's resize, paint and outline loops a few times on dummy logits (the
 * top half set), once the page is ready: the first calls of these million-pixel loops,
 * before the JavaScript engine optimises them, took 30-50 ms each, and making the canvas
 * 40-50 ms, which the first clicks would otherwise pay. */
function warmUpDrawing(): void {
  const s = session;
  if (!frame || !s) return;
  const size: Size = s.size;
  const cells = frame.lowResMaskSize * frame.lowResMaskSize;
  const dummy = new Float32Array(cells).fill(frame.maskThreshold + 1, 0, cells / 2);
  for (let i = 0; i < 3; i++) {
    paintLive(dummy, frame.lowResMaskSize, size, frame.imageSize, frame.maskThreshold, "#000000");
  }
  // The live mask's canvas is shared: paint again whatever mask was on it.
  if (s.liveLogits) drawLive();
}

start().catch((error: unknown) => say(`Cannot start the annotator: ${describe(error)}`, true));
