/**
 * Active labelling time, from real interaction: the time between two interactions
 * (pointer or key events) counts when they are at most ``idleAfterMs`` apart; a longer
 * stretch with no interaction is idle and counts for nothing, not even its first minute.
 * The stretch after the last interaction counts only when the page is left (``end``),
 * and then only if it was short. Times are milliseconds on one clock (performance.now()
 * or event time stamps).
 */

export const IDLE_AFTER_MS = 60_000;
/** The most seconds one report may carry (the server's limit). */
export const MAX_REPORT_SECONDS = 300;

export class ActiveTimeCounter {
  private last: number | null = null;
  private pendingMs = 0;

  constructor(private readonly idleAfterMs = IDLE_AFTER_MS) {}

  /** An interaction at ``now``. */
  touch(now: number): void {
    if (this.last !== null && now >= this.last && now - this.last <= this.idleAfterMs) {
      this.pendingMs += now - this.last;
    }
    if (this.last === null || now > this.last) this.last = now;
  }

  /** The page is hidden or left at ``now``: the stretch since the last interaction counts
   * if it was not idle, and the next interaction starts afresh. */
  end(now: number): void {
    this.touch(now);
    this.last = null;
  }

  /** Whether the last interaction was at most ``idleAfterMs`` before ``now``. */
  activeAt(now: number): boolean {
    return this.last !== null && now - this.last <= this.idleAfterMs;
  }

  /** The whole seconds counted and not yet taken, at most ``MAX_REPORT_SECONDS``; the rest
   * (the fraction of a second, or what passed the limit) stays for the next report. */
  take(): number {
    const seconds = Math.min(Math.floor(this.pendingMs / 1000), MAX_REPORT_SECONDS);
    this.pendingMs -= seconds * 1000;
    return seconds;
  }

  /** Milliseconds counted and not yet taken. */
  get pending(): number {
    return this.pendingMs;
  }
}
