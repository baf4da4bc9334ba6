/**
 * The page's side of the quality rules' worker: started when the page asks (after the
 * page is ready, never on a click's path), it answers each check with the image's
 * problems. A check that takes longer than ``checkTimeoutMs`` (a rule that never ends)
 * ends the worker; the next check starts a new one.
 */

import type { FromRulesWorker, RuleImage, RuleProblem, RuleSpec, ToRulesWorker } from "./protocol";

export interface RulesClientOptions {
  readonly workerUrl: string;
  readonly pyodideUrl: string; // folder of Pyodide's files, ending with "/"
  readonly packageUrl: string; // the qualityrules package as {"qualityrules/x.py": source}
  readonly spec: RuleSpec;
  readonly checkTimeoutMs?: number;
  /** Told when the worker is ready (Pyodide started, rules loaded), with the time it took. */
  readonly onReady?: (startMs: number) => void;
}

export interface RulesResult {
  readonly problems: readonly RuleProblem[];
  readonly ms: number; // the check's time in the worker
}

export class RulesClient {
  private worker: Worker | null = null;
  private ready: Promise<void> | null = null;
  private next = 1;
  private waiting = new Map<number, { resolve: (r: RulesResult) => void; reject: (e: Error) => void }>();

  constructor(private readonly options: RulesClientOptions) {}

  /** Starts the worker (Pyodide's download and start) if it is not running; resolves
   * when it is ready. */
  start(): Promise<void> {
    if (this.ready) return this.ready;
    const worker = new Worker(this.options.workerUrl, { type: "module" });
    this.worker = worker;
    this.ready = new Promise<void>((resolve, reject) => {
      worker.onmessage = (event: MessageEvent<FromRulesWorker>) => {
        const message = event.data;
        if (message.type === "ready") {
          this.options.onReady?.(message.startMs);
          resolve();
        } else if (message.type === "checked") {
          this.waiting.get(message.id)?.resolve({ problems: message.problems, ms: message.ms });
          this.waiting.delete(message.id);
        } else if (message.id === null) {
          reject(new Error(message.message));
          this.stop(message.message);
        } else {
          this.waiting.get(message.id)?.reject(new Error(message.message));
          this.waiting.delete(message.id);
        }
      };
      worker.onerror = (event) => {
        const why = event.message || "the rules' worker failed";
        reject(new Error(why));
        this.stop(why);
      };
    });
    const init: ToRulesWorker = {
      type: "init",
      pyodideUrl: this.options.pyodideUrl,
      packageUrl: this.options.packageUrl,
      spec: this.options.spec,
    };
    worker.postMessage(init);
    return this.ready;
  }

  /** The problems of ``image``; rejects when the rules failed or took too long. */
  async check(image: RuleImage): Promise<RulesResult> {
    await this.start();
    const worker = this.worker;
    if (!worker) throw new Error("the rules' worker stopped");
    const id = this.next++;
    const timeout = this.options.checkTimeoutMs ?? 10_000;
    return new Promise<RulesResult>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.stop(`the rules took longer than ${timeout / 1000} s`);
      }, timeout);
      this.waiting.set(id, {
        resolve: (r) => {
          clearTimeout(timer);
          resolve(r);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      const message: ToRulesWorker = { type: "check", id, image };
      worker.postMessage(message);
    });
  }

  /** Ends the worker; checks under way fail with ``why``. */
  stop(why = "stopped"): void {
    this.worker?.terminate();
    this.worker = null;
    this.ready = null;
    for (const waiter of this.waiting.values()) waiter.reject(new Error(why));
    this.waiting.clear();
  }
}
