// The project page's dataset import: send a COCO or YOLO file, then show the outcome (a
// small file is imported during the request) or follow the worker's progress (a larger
// one), asking again only while it is pending or running; cancel, retry or delete past
// imports from the list. #import-message's data-status holds the state shown: sending,
// pending, running, done, failed or cancelled. Plain JavaScript, no framework.
"use strict";

(function () {
  const section = document.getElementById("imports");
  if (!section) return;
  const url = section.dataset.url;
  const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const form = document.getElementById("import-form");
  const message = document.getElementById("import-message");
  const bar = document.getElementById("import-progress");
  const problemList = document.getElementById("import-problems");
  const list = document.getElementById("import-list");
  const SHOWN_PROBLEMS = 50;
  const STAGES = { checking: "checking images", masks: "checking masks", storing: "storing images" };
  let timer = null;

  function counts(result) {
    return `${result.images_created} images added, ${result.images_matched} matched, ` +
      `${result.label_classes_created} classes created, ${result.annotations_created} annotations`;
  }

  function progressText(item) {
    const stage = STAGES[item.stage] || "waiting for a worker";
    return item.progress_total ? `${stage}, ${item.progress_done} of ${item.progress_total}` : stage;
  }

  function show(item) {
    message.dataset.status = item.status;
    problemList.replaceChildren();
    bar.hidden = !(item.status === "pending" || item.status === "running");
    if (item.status === "done") {
      message.textContent = `Imported ${item.original_name}: ${counts(item.result)}. Reload to see the images.`;
    } else if (item.status === "failed") {
      const problems = item.problems || [];
      message.textContent = `Nothing was imported from ${item.original_name}: ` +
        `${problems.length} problem${problems.length === 1 ? "" : "s"}.`;
      problemList.replaceChildren(...problems.slice(0, SHOWN_PROBLEMS).map((p) => {
        const line = document.createElement("li");
        line.textContent = `${p.record} · ${p.field}: ${p.problem}`;
        return line;
      }));
      if (problems.length > SHOWN_PROBLEMS) {
        const more = document.createElement("li");
        more.textContent = `… and ${problems.length - SHOWN_PROBLEMS} more`;
        problemList.append(more);
      }
    } else if (item.status === "cancelled") {
      message.textContent = `Cancelled: nothing was imported from ${item.original_name}.`;
    } else {
      message.textContent = `Importing ${item.original_name} on the worker: ${progressText(item)}.`;
      bar.max = item.progress_total || 1;
      bar.value = item.progress_done;
    }
  }

  function row(item) {
    const line = document.createElement("li");
    line.dataset.importId = item.id;
    const when = new Date(item.created_at).toLocaleString();
    const what = item.status === "done" ? counts(item.result)
      : item.status === "failed" ? `failed (${(item.problems || []).length} problems)`
        : `${item.status}: ${progressText(item)}`;
    line.dataset.status = item.status;
    line.textContent = `#${item.id} · ${item.format} · ${item.original_name} · ${when} · ${what}`;
    const active = item.status === "pending" || item.status === "running";
    if (active) line.append(" ", button("Cancel", "cancel", () => act(item, "POST", `${item.url}cancel`)));
    if (item.can_retry) line.append(" ", button("Retry", "retry", () => act(item, "POST", `${item.url}retry`)));
    line.append(" ", button("Delete", "delete", () => {
      const question = active
        ? `Stop import #${item.id} and delete its record?`
        : `Delete the record of import #${item.id}? The images it added stay.`;
      if (window.confirm(question)) act(item, "DELETE", item.url);
    }));
    return line;
  }

  function button(label, action, onClick) {
    const element = document.createElement("button");
    element.type = "button";
    element.className = "link";
    element.dataset.action = action;
    element.textContent = label;
    element.addEventListener("click", onClick);
    return element;
  }

  // Cancel, retry or delete ``item``, then show where it stands (and follow it again
  // when it was queued again).
  async function act(item, method, actionUrl) {
    const response = await fetch(actionUrl, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
    });
    const body = response.status === 204 ? null : await response.json().catch(() => null);
    if (response.status === 204) {
      clearTimeout(timer);
      message.dataset.status = "deleted";
      message.textContent = `Import #${item.id} deleted.`;
      bar.hidden = true;
      problemList.replaceChildren();
    } else if (response.ok && body) {
      show(body);
      if (body.status === "pending" || body.status === "running") {
        follow(body.url);
        return;
      }
      clearTimeout(timer);
    } else {
      message.textContent = `Import #${item.id}: ${(body && body.detail) || `refused (${response.status})`}`;
    }
    refreshList();
  }

  async function refreshList() {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return [];
    const body = await response.json();
    const items = Array.isArray(body) ? body : body.results;
    list.replaceChildren(...items.map(row));
    return items;
  }

  async function follow(itemUrl) {
    clearTimeout(timer);
    const response = await fetch(itemUrl, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (response.status === 404) {
      refreshList(); // deleted meanwhile
      return;
    }
    if (!response.ok) {
      message.dataset.status = "failed";
      message.textContent = `Cannot read the import's status (${response.status}).`;
      return;
    }
    const item = await response.json();
    show(item);
    if (item.status === "pending" || item.status === "running") {
      timer = setTimeout(() => follow(itemUrl), 1000);
    }
    refreshList();
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const data = new FormData(form);
    data.set("create_missing_classes", data.get("create_missing_classes") === "on" ? "true" : "false");
    button.disabled = true;
    message.dataset.status = "sending";
    message.textContent = "Sending the dataset…";
    problemList.replaceChildren();
    try {
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
        body: data,
      });
      const body = await response.json().catch(() => null);
      if (body && body.status) {
        show(body);
        if (response.status === 202) follow(body.url);
        else refreshList();
      } else if (body && body.problems) {
        show({ status: "failed", original_name: "the form", problems: body.problems });
      } else {
        message.dataset.status = "failed";
        message.textContent = body && body.detail
          ? `Nothing was imported: ${body.detail}`
          : `The import was refused (${response.status}).`;
      }
    } catch (error) {
      message.dataset.status = "failed";
      message.textContent = `The dataset could not be sent: ${error}`;
    } finally {
      button.disabled = false;
    }
  });

  // After a reload, pick up an import that is still running.
  refreshList().then((items) => {
    const busy = items.find((i) => i.status === "pending" || i.status === "running");
    if (busy) follow(busy.url);
  });
})();
