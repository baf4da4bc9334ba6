/** What the status line says about a failure. */

import { HttpError } from "./cache";

/**
 * A failure in words for the user: the server's own message (a JSON ``detail``) when it
 * sent one, else the status and the body's JSON (a validation error's fields), else the
 * status alone (an HTML error page says nothing useful here).
 */
export function describe(error: unknown): string {
  if (error instanceof HttpError) {
    let body: unknown;
    try {
      body = JSON.parse(error.body);
    } catch {
      return `${error.status}`;
    }
    const detail = (body as { detail?: unknown } | null)?.detail;
    if (typeof detail === "string" && detail) return detail;
    return `${error.status} ${JSON.stringify(body)}`;
  }
  return error instanceof Error ? error.message : String(error);
}
