/**
 * "Start labelling" / "Start reviewing": asks the workflow API for the next image of the
 * member's queue (which holds it for them) and opens the annotator on it, working through
 * the queue; when there is none, says why, with the way back to the project.
 */

import { describe } from "./errors";
import { WorkflowApi, type WorkflowConfig } from "./workflow-api";

const config = JSON.parse(document.getElementById("queue-config")?.textContent ?? "{}") as WorkflowConfig;
const message = document.getElementById("queue-message") as HTMLElement;
const links = document.getElementById("queue-links") as HTMLElement;

function stop(text: string, isError: boolean): void {
  message.textContent = text;
  message.classList.toggle("error", isError);
  links.hidden = false;
}

async function start(): Promise<void> {
  const stage = config.stage ?? "annotate";
  const api = new WorkflowApi(config);
  const answer = await api.next(stage);
  if (!answer.item) return stop(answer.detail, false);
  message.textContent = answer.detail;
  window.location.replace(`${api.pageUrl(answer.item.image)}?queue=${stage}`);
}

start().catch((error: unknown) => stop(`Cannot start: ${describe(error)}`, true));
