// The project page's exports: start one (reviewers and up), follow its progress until its
// zip can be downloaded, and cancel, retry or delete one (reviewers and up). The page asks
// the server again only while an export is pending or running. Plain JavaScript.
"use strict";

(function () {
  const section = document.getElementById("exports");
  if (!section) return;
  const url = section.dataset.url;
  const csrfToken = document.querySelector("[name=csrfmiddlewaretoken]").value;
  const list = document.getElementById("export-list");
  const form = document.getElementById("export-form");
  const message = document.getElementById("export-message");
  const split = document.getElementById("export-split");
  let timer = null;

  function row(exp) {
    const item = document.createElement("li");
    item.dataset.exportId = exp.id;
    const options = exp.options || {};
    const what = `${exp.format}${options.mask_format && exp.format === "coco" ? " (" + options.mask_format + ")" : ""}` +
      ({ all: ", all images", annotated: ", annotated images only", accepted: ", accepted images only" }[options.image_scope] || "") +
      (exp.format === "yolo" && options.val_fraction !== undefined
        ? (options.val_fraction > 0 ? `, val ${options.val_fraction} (seed ${options.seed})` : ", one split")
        : "") +
      (options.include_images === false ? ", no images" : "");
    const when = new Date(exp.created_at).toLocaleString();
    item.dataset.status = exp.status;
    item.append(`#${exp.id} · ${what} · ${when} · `);
    if (exp.status === "done" && exp.download_url) {
      const link = document.createElement("a");
      link.href = exp.download_url;
      link.textContent = "download";
      item.append(link);
    } else if (exp.status === "failed") {
      item.append(`failed: ${exp.error}`);
    } else if (exp.status === "cancelled") {
      item.append("cancelled");
    } else {
      const bar = document.createElement("progress");
      bar.max = exp.progress_total || 1;
      bar.value = exp.progress_done;
      item.append(`${exp.status} `, bar, ` ${exp.progress_done} of ${exp.progress_total}`);
    }
    if (exp.expires_at) {
      const expiry = document.createElement("span");
      expiry.className = "muted";
      expiry.textContent = ` · kept until ${new Date(exp.expires_at).toLocaleString()}`;
      item.append(expiry);
    }
    if (form) for (const action of actions(exp)) item.append(" ", action);
    return item;
  }

  // Cancel (pending, running), retry (failed, cancelled) and delete (any) buttons.
  function actions(exp) {
    const base = `${url}${exp.id}/`;
    const buttons = [];
    const active = exp.status === "pending" || exp.status === "running";
    if (active) buttons.push(button("Cancel", "cancel", () => act(exp, "POST", `${base}cancel`, "cancelled")));
    if (exp.status === "failed" || exp.status === "cancelled") {
      buttons.push(button("Retry", "retry", () => act(exp, "POST", `${base}retry`, "queued again")));
    }
    buttons.push(button("Delete", "delete", () => {
      const question = active ? `Stop and delete export #${exp.id}?` : `Delete export #${exp.id} and its file?`;
      if (window.confirm(question)) act(exp, "DELETE", base, "deleted");
    }));
    return buttons;
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

  async function act(exp, method, actionUrl, done) {
    const response = await fetch(actionUrl, {
      method,
      credentials: "same-origin",
      headers: { Accept: "application/json", "X-CSRFToken": csrfToken },
    });
    const body = response.status === 204 ? {} : await response.json().catch(() => ({}));
    message.textContent = response.ok
      ? `Export #${exp.id} ${done}.`
      : `Export #${exp.id}: ${body.detail || `refused (${response.status})`}`;
    refresh();
  }

  async function refresh() {
    const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
    if (!response.ok) return;
    const body = await response.json();
    const exports = Array.isArray(body) ? body : body.results;
    list.replaceChildren(...exports.map(row));
    if (exports.length === 0) {
      const empty = document.createElement("li");
      empty.className = "muted";
      empty.id = "export-empty";
      empty.textContent = form
        ? "No exports yet."
        : "No exports yet. A reviewer, manager or owner can make one; you can download it here.";
      list.append(empty);
    }
    const busy = exports.some((e) => e.status === "pending" || e.status === "running");
    clearTimeout(timer);
    if (busy) timer = setTimeout(refresh, 2000);
  }

  if (form) {
    // The split applies to YOLO only; the other formats have no place for it.
    const showSplit = () => { split.hidden = form.elements.format.value !== "yolo"; };
    form.elements.format.addEventListener("change", showSplit);
    showSplit();
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const data = new FormData(form);
      const payload = {
        format: data.get("format"),
        mask_format: data.get("mask_format"),
        include_images: data.get("include_images") === "on",
        image_scope: data.get("image_scope"),
        val_fraction: Number(data.get("val_fraction")),
        seed: Number(data.get("seed")),
      };
      message.textContent = "Starting the export…";
      const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", Accept: "application/json", "X-CSRFToken": csrfToken },
        body: JSON.stringify(payload),
      });
      const body = await response.json().catch(() => ({}));
      message.textContent = response.ok
        ? (body.status === "done" ? "Export ready." : "Export queued; it is written by the worker.")
        : body.detail ? `Export not started: ${body.detail}` : `Export refused: ${JSON.stringify(body)}`;
      refresh();
    });
  }
  refresh();
})();
