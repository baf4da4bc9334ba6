// The project page: forms that talk to the JSON API, the encoding progress bar and the
// image upload. Plain JavaScript, no framework.
"use strict";

(function () {
  const root = document.getElementById("project");
  if (!root) return;
  const csrfToken = root.querySelector("[name=csrfmiddlewaretoken]").value;

  // Turn any JSON error body of the API into one readable sentence per problem.
  function errorText(body, fallback) {
    if (!body || typeof body !== "object") return fallback;
    const parts = [];
    for (const [field, value] of Object.entries(body)) {
      const text = Array.isArray(value) ? value.join(" ") : String(value);
      parts.push(field === "detail" || field === "non_field_errors" ? text : field + ": " + text);
    }
    return parts.join(" ") || fallback;
  }

  // <form data-api="URL" data-method="PATCH"> sends its fields as JSON and reloads the
  // page (or goes to data-next) on success; the API's message is shown on failure.
  for (const form of document.querySelectorAll("form[data-api]")) {
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (form.dataset.confirm && !window.confirm(form.dataset.confirm)) return;
      let error = form.querySelector(".error");
      if (!error) {
        error = document.createElement("p");
        error.className = "error";
        error.setAttribute("role", "alert");
        form.append(error);
      }
      error.textContent = "";
      const method = form.dataset.method || "POST";
      const options = { method, headers: { "X-CSRFToken": csrfToken }, credentials: "same-origin" };
      if (method !== "DELETE") {
        options.headers["Content-Type"] = "application/json";
        options.body = JSON.stringify(Object.fromEntries(new FormData(form)));
      }
      try {
        const response = await fetch(form.dataset.api, options);
        if (response.ok) {
          window.location.assign(form.dataset.next || window.location.href);
          return;
        }
        const body = await response.json().catch(() => null);
        error.textContent = errorText(body, "The server refused: " + response.status + ".");
      } catch (failure) {
        error.textContent = "Could not reach the server: " + failure.message;
      }
    });
  }

  // Encoding progress: poll every 2 s while any image is pending or encoding.
  const bar = document.getElementById("progress-bar");
  const text = document.getElementById("progress-text");
  let polling = false;

  function showProgress(p) {
    bar.max = Math.max(p.total, 1);
    bar.value = p.ready + p.failed;
    const waiting = p.pending + p.encoding;
    text.textContent =
      p.ready + " of " + p.total + " ready" +
      (p.failed ? ", " + p.failed + " failed" : "") +
      (waiting ? ", " + waiting + " waiting" : "");
    return waiting;
  }

  async function poll() {
    try {
      const response = await fetch(root.dataset.progressUrl, { credentials: "same-origin" });
      if (response.ok && showProgress(await response.json()) === 0) {
        polling = false;
        document.getElementById("progress-done").hidden = false;
        return;
      }
    } catch (failure) {
      text.textContent = "Progress unavailable: " + failure.message;
    }
    setTimeout(poll, 2000);
  }

  function startPolling() {
    if (polling) return;
    polling = true;
    setTimeout(poll, 2000);
  }

  if (bar.dataset.busy) startPolling();

  // Upload: files go in batches, so that one request stays small and a failure costs
  // little; the bar follows the bytes sent across all batches.
  const uploadForm = document.getElementById("upload-form");
  if (!uploadForm) return;
  const BATCH_FILES = 20;
  const uploadBar = document.getElementById("upload-bar");
  const uploadText = document.getElementById("upload-text");
  const results = document.getElementById("upload-results");

  function showResult(name, status, reason) {
    const item = document.createElement("li");
    const badge = document.createElement("span");
    badge.className = "badge " + status;
    badge.textContent = status;
    item.append(badge, " " + name + (reason ? " — " + reason : ""));
    results.append(item);
  }

  function sendBatch(files, sentBefore, totalBytes) {
    return new Promise((resolve) => {
      const body = new FormData();
      for (const file of files) body.append("files", file);
      const xhr = new XMLHttpRequest();
      xhr.open("POST", root.dataset.uploadUrl);
      xhr.setRequestHeader("X-CSRFToken", csrfToken);
      xhr.responseType = "json";
      xhr.upload.onprogress = (event) => {
        uploadBar.value = (sentBefore + event.loaded * (files.bytes / event.total)) / totalBytes;
      };
      xhr.onload = () => {
        // {"results": [{"name", "result": "created"|"duplicate"|"rejected", "reason"}]},
        // also when the status is 400 or 413 because every file was rejected.
        const reply = xhr.response;
        if (reply && Array.isArray(reply.results)) {
          for (const r of reply.results) showResult(r.name, r.result, r.reason || "");
        } else {
          const reason = errorText(reply, "the server answered " + xhr.status);
          for (const file of files) showResult(file.name, "rejected", reason);
        }
        resolve();
      };
      xhr.onerror = () => {
        for (const file of files) showResult(file.name, "rejected", "the upload was interrupted");
        resolve();
      };
      xhr.send(body);
    });
  }

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(uploadForm.elements.files.files);
    if (!files.length) return;
    const button = uploadForm.querySelector("button");
    button.disabled = true;
    results.replaceChildren();
    uploadBar.hidden = false;
    uploadBar.value = 0;
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0) || 1;
    let sent = 0;
    for (let i = 0; i < files.length; i += BATCH_FILES) {
      const batch = files.slice(i, i + BATCH_FILES);
      batch.bytes = batch.reduce((sum, f) => sum + f.size, 0);
      uploadText.textContent = "Uploading " + (i + 1) + "–" + (i + batch.length) + " of " + files.length + "…";
      await sendBatch(batch, sent, totalBytes);
      sent += batch.bytes;
      uploadBar.value = sent / totalBytes;
    }
    uploadText.textContent = "Uploaded " + files.length + " file" + (files.length === 1 ? "" : "s") + ".";
    button.disabled = false;
    uploadForm.reset();
    document.getElementById("progress-done").hidden = true;
    startPolling();
  });
})();
