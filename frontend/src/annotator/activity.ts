/**
 * Active labelling time, reported to the workflow API: real interaction (pointer and key
 * events on the page) is counted by an ActiveTimeCounter (idle stretches left out), and
 * what it counted is sent every minute and when the page is hidden or left.
 */

import { ActiveTimeCounter } from "../lib/active-time";
import type { WorkflowApi } from "./workflow-api";

export const REPORT_EVERY_MS = 60_000;
const INTERACTIONS = ["pointerdown", "pointermove", "keydown", "wheel"] as const;

export class ActivityReporter {
  readonly counter = new ActiveTimeCounter();
  private readonly timer: ReturnType<typeof setInterval>;

  constructor(private readonly api: WorkflowApi) {
    const touch = (): void => this.counter.touch(performance.now());
    for (const type of INTERACTIONS) window.addEventListener(type, touch, { passive: true, capture: true });
    this.timer = setInterval(() => void this.report(false), REPORT_EVERY_MS);
    // "hidden" comes before the page is left, closed or frozen; pagehide covers browsers
    // that skip it when the page is unloaded.
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "hidden") this.leave();
    });
    window.addEventListener("pagehide", () => this.leave());
  }

  /** Whether the person interacted within the last minute. */
  get active(): boolean {
    return this.counter.activeAt(performance.now());
  }

  stop(): void {
    clearInterval(this.timer);
  }

  private leave(): void {
    this.counter.end(performance.now());
    void this.report(true);
  }

  /** Sends what was counted, in reports of at most 300 s. A failed report is lost: the
   * figure is a measure, not a record anyone must keep. */
  private async report(leaving: boolean): Promise<void> {
    // The API counts labelling time: a viewer's is measured and dropped.
    if (!this.api.config.canAnnotate) {
      while (this.counter.take() > 0);
      return;
    }
    for (let seconds = this.counter.take(); seconds > 0; seconds = this.counter.take()) {
      try {
        await this.api.reportActiveTime(seconds, leaving);
      } catch {
        return;
      }
    }
  }
}
