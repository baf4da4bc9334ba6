// The project page: forms that talk to the JSON API, the encoding progress, the image
// upload with its per-file report, the gallery that follows new images, their status and
// their workflow state without a reload, deleting images, and giving images out (assign,
// split among members, take back, skip, reopen). Plain JavaScript, no framework.
"use strict";

(function () {
  const root = document.getElementById("project");
  if (!root) return;
  const csrfToken = root.querySelector("[name=csrfmiddlewaretoken]").value;
  const POLL_MS = 2000;

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

  function plural(count, word, many) {
    return count + " " + (count === 1 ? word : many || word + "s");
  }

  async function sendJson(url, method, body) {
    const options = { method, headers: { "X-CSRFToken": csrfToken }, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options);
  }

  // <form data-api="URL" data-method="PATCH"> sends its fields as JSON and reloads the
  // page (or goes to data-next) on success; the API's message is shown on failure.
  // data-confirm asks first; data-confirm-name keeps the button disabled until the
  // first field holds exactly that text (deleting a project).
  for (const form of document.querySelectorAll("form[data-api]")) {
    const mustType = form.dataset.confirmName;
    if (mustType !== undefined) {
      const field = form.querySelector("input");
      const button = form.querySelector("button[type=submit]");
      field.addEventListener("input", () => {
        button.disabled = field.value !== mustType;
      });
    }
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      if (mustType !== undefined && form.querySelector("input").value !== mustType) return;
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
      const body = method === "DELETE" ? undefined : Object.fromEntries(new FormData(form));
      // A checkbox says true or false (FormData would leave an unchecked one out).
      if (body) {
        for (const box of form.querySelectorAll("input[type=checkbox][name]")) {
          body[box.name] = box.checked;
        }
      }
      try {
        const response = await sendJson(form.dataset.api, method, body);
        if (response.ok) {
          window.location.assign(form.dataset.next || window.location.href);
          return;
        }
        const reply = await response.json().catch(() => null);
        error.textContent = errorText(reply, "The server refused: " + response.status + ".");
      } catch (failure) {
        error.textContent = "Could not reach the server: " + failure.message;
      }
    });
  }

  // --- The gallery: the server renders the first view; polling keeps it current. ---
  const gallery = document.getElementById("gallery");
  const grid = document.getElementById("grid");
  const canManage = Boolean(gallery.dataset.canManage);

  function annotateUrl(id) {
    return gallery.dataset.annotateUrl.replace("/images/0/", "/images/" + id + "/");
  }

  function makeTile(image) {
    const tile = document.createElement("figure");
    tile.className = "tile";
    tile.dataset.imageId = String(image.id);
    tile.dataset.name = image.original_name;
    tile.dataset.annotations = "0";
    const link = document.createElement("a");
    link.href = annotateUrl(image.id);
    link.title = "Annotate " + image.original_name;
    const picture = document.createElement("img");
    picture.loading = "lazy";
    picture.alt = image.original_name;
    link.append(picture);
    tile.append(link);
    if (canManage) {
      const pick = document.createElement("input");
      pick.type = "checkbox";
      pick.className = "pick";
      pick.value = String(image.id);
      pick.setAttribute("aria-label", "Select " + image.original_name);
      const remove = document.createElement("button");
      remove.type = "button";
      remove.className = "tile-delete";
      remove.title = "Delete " + image.original_name;
      remove.setAttribute("aria-label", "Delete " + image.original_name);
      remove.textContent = "×";
      tile.append(pick, remove);
    }
    const caption = document.createElement("figcaption");
    caption.className = "caption";
    const name = document.createElement("span");
    name.className = "name";
    name.title = image.original_name;
    name.textContent = image.original_name;
    const badge = document.createElement("span");
    badge.className = "badge";
    caption.append(name, badge);
    const work = document.createElement("div");
    work.className = "work";
    tile.append(caption, work);
    return tile;
  }

  // The tile's workflow line: state, who it is given to, open issues.
  function showWork(tile, image) {
    const work = tile.querySelector(".work");
    if (!work || !image.state) return;
    const state = document.createElement("span");
    state.className = "state " + image.state;
    state.textContent = image.state;
    const parts = [state];
    if (image.assignee) {
      const who = document.createElement("span");
      who.className = "assignee";
      who.title = "Given to " + image.assignee;
      who.textContent = "→ " + image.assignee;
      parts.push(who);
    }
    if (image.open_issues) {
      const issues = document.createElement("span");
      issues.className = "issues";
      issues.title = plural(image.open_issues, "open issue");
      issues.textContent = "⚑ " + image.open_issues;
      parts.push(issues);
    }
    work.replaceChildren(...parts);
    tile.dataset.state = image.state;
  }

  // The caption's annotation count.
  function showCount(tile, image) {
    if (image.annotation_count === undefined) return;
    tile.dataset.annotations = String(image.annotation_count);
    const caption = tile.querySelector(".caption");
    let count = caption.querySelector(".count");
    if (!image.annotation_count) {
      if (count) count.remove();
      return;
    }
    if (!count) {
      count = document.createElement("span");
      count.className = "count";
      caption.querySelector(".badge").before(count);
    }
    count.textContent = String(image.annotation_count);
    count.title = plural(image.annotation_count, "annotation");
  }

  function updateTile(tile, image) {
    const picture = tile.querySelector("img");
    if (image.thumbnail_url && picture.getAttribute("src") !== image.thumbnail_url) {
      picture.src = image.thumbnail_url;
    }
    const badge = tile.querySelector(".badge");
    badge.className = "badge " + image.status;
    badge.textContent = image.status;
    if (image.failure_reason) badge.title = image.failure_reason;
    else badge.removeAttribute("title");
    showWork(tile, image);
    showCount(tile, image);
  }

  function listUrl() {
    const url = new URL(gallery.dataset.listUrl, window.location.href);
    url.searchParams.set("page", gallery.dataset.page);
    return url;
  }

  function pageLink(number, text) {
    const url = new URL(window.location.href);
    url.searchParams.set("page", String(number));
    const link = document.createElement("a");
    link.href = url.search;
    link.textContent = text;
    return link;
  }

  function showPagination(count) {
    const nav = document.getElementById("pagination");
    const size = Number(gallery.dataset.pageSize);
    const pages = Math.max(1, Math.ceil(count / size));
    const page = Number(gallery.dataset.page);
    const parts = [];
    if (page > 1) parts.push(pageLink(page - 1, "← Previous"));
    const where = document.createElement("span");
    where.className = "muted";
    where.textContent = "Page " + page + " of " + pages;
    parts.push(where);
    if (page < pages) parts.push(pageLink(page + 1, "Next →"));
    nav.replaceChildren(...parts);
    nav.hidden = pages < 2;
  }

  // Show the page's images as the API lists them now: new tiles for new images, badges
  // and thumbnails brought up to date, tiles of deleted images gone.
  function showImages(reply) {
    const wanted = new Set(reply.results.map((image) => String(image.id)));
    for (const tile of grid.querySelectorAll(".tile")) {
      if (!wanted.has(tile.dataset.imageId)) tile.remove();
    }
    // In the order the API lists them (the sort may be by state or by count).
    for (const image of reply.results) {
      let tile = grid.querySelector('.tile[data-image-id="' + image.id + '"]');
      if (!tile) tile = makeTile(image);
      grid.append(tile);
      updateTile(tile, image);
    }
    const filtered = new URL(gallery.dataset.listUrl, window.location.href).search !== "";
    document.getElementById("gallery-count").textContent =
      plural(reply.count, "image") + (filtered ? (reply.count === 1 ? " matches" : " match") : "");
    document.getElementById("gallery-empty").hidden = reply.count > 0;
    showPagination(reply.count);
    selectionChanged();
  }

  async function refreshGallery() {
    const response = await fetch(listUrl(), { credentials: "same-origin" });
    if (response.status === 404 && Number(gallery.dataset.page) > 1) {
      // The page emptied (its images were deleted): show the one before.
      gallery.dataset.page = String(Number(gallery.dataset.page) - 1);
      return refreshGallery();
    }
    if (!response.ok) throw new Error("the server answered " + response.status);
    showImages(await response.json());
  }

  // --- Encoding progress: poll while any image is pending or encoding. ---
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
    bar.dataset.busy = waiting ? "1" : "";
    // The project's deletion notice counts its images too.
    const deleteCount = document.getElementById("delete-image-count");
    if (deleteCount) deleteCount.textContent = p.total + (p.total === 1 ? " image" : " images");
    return waiting;
  }

  async function refreshProgress() {
    const response = await fetch(root.dataset.progressUrl, { credentials: "same-origin" });
    if (!response.ok) throw new Error("the server answered " + response.status);
    return showProgress(await response.json());
  }

  async function poll() {
    let waiting = 1;
    try {
      waiting = await refreshProgress();
      await refreshGallery();
    } catch (failure) {
      text.textContent = "Progress unavailable: " + failure.message;
    }
    if (waiting === 0) {
      polling = false;
      gallery.dataset.polling = "";
      return;
    }
    setTimeout(poll, POLL_MS);
  }

  // Polls at once, then every 2 s until nothing is pending or encoding any more.
  function startPolling() {
    if (polling) return;
    polling = true;
    gallery.dataset.polling = "1";
    poll();
  }

  if (bar.dataset.busy) {
    polling = true;
    gallery.dataset.polling = "1";
    setTimeout(poll, POLL_MS);
  }

  // --- Selecting and deleting images (managers). ---
  const selectAll = document.getElementById("select-all");
  const deleteSelected = document.getElementById("delete-selected");
  const galleryMessage = document.getElementById("gallery-message");

  function picked() {
    return Array.from(grid.querySelectorAll(".pick:checked")).map((box) => box.closest(".tile"));
  }

  function selectionChanged() {
    if (!deleteSelected) return;
    const tiles = picked();
    for (const button of workButtons) button.disabled = tiles.length === 0;
    const all = grid.querySelectorAll(".pick").length;
    deleteSelected.disabled = tiles.length === 0;
    deleteSelected.textContent = tiles.length
      ? "Delete " + plural(tiles.length, "selected image")
      : "Delete selected";
    selectAll.checked = all > 0 && tiles.length === all;
    selectAll.indeterminate = tiles.length > 0 && tiles.length < all;
  }

  function confirmation(tiles) {
    const annotations = tiles.reduce((sum, t) => sum + Number(t.dataset.annotations || 0), 0);
    const what = tiles.length === 1 ? tiles[0].dataset.name : plural(tiles.length, "image");
    return (
      "Delete " + what +
      (annotations ? " and " + plural(annotations, "annotation") + " on " + (tiles.length === 1 ? "it" : "them") : "") +
      "? The files and embeddings go too. This cannot be undone."
    );
  }

  async function deleteTiles(tiles) {
    if (!tiles.length || !window.confirm(confirmation(tiles))) return;
    galleryMessage.textContent = "";
    const ids = tiles.map((tile) => Number(tile.dataset.imageId));
    try {
      const response = await sendJson(gallery.dataset.bulkDeleteUrl, "POST", { ids });
      const reply = await response.json().catch(() => null);
      if (!response.ok) {
        galleryMessage.textContent = errorText(reply, "The server refused: " + response.status + ".");
        return;
      }
      for (const tile of tiles) tile.remove();
      selectionChanged();
      await refreshProgress();
      await refreshGallery();
    } catch (failure) {
      galleryMessage.textContent = "Could not delete: " + failure.message;
    }
  }

  if (canManage) {
    grid.addEventListener("change", (event) => {
      if (event.target.classList.contains("pick")) selectionChanged();
    });
    grid.addEventListener("click", (event) => {
      const button = event.target.closest(".tile-delete");
      if (button) deleteTiles([button.closest(".tile")]);
    });
    selectAll.addEventListener("change", () => {
      for (const box of grid.querySelectorAll(".pick")) box.checked = selectAll.checked;
      selectionChanged();
    });
    deleteSelected.addEventListener("click", () => deleteTiles(picked()));
  }

  // --- Giving images out (managers): the selected tiles are given to a member, split
  // evenly among several, taken back, skipped (with a reason) or reopened. ---
  const workMessage = document.getElementById("work-message");
  const workButtons = ["assign-selected", "split-selected", "unassign-selected",
    "skip-selected", "reopen-selected"]
    .map((id) => document.getElementById(id))
    .filter(Boolean);

  function pickedIds() {
    return picked().map((tile) => Number(tile.dataset.imageId));
  }

  async function afterWork(text) {
    workMessage.className = "muted";
    workMessage.textContent = text;
    await refreshGallery();
  }

  function workFailed(text) {
    workMessage.className = "error";
    workMessage.textContent = text;
  }

  async function assignPicked(people) {
    const stage = document.getElementById("work-stage").value;
    const body = { stage, images: pickedIds() };
    if (people === null) body.to = null;
    else if (people.length === 1) body.to = people[0];
    else body.split_among = people;
    try {
      const response = await sendJson(gallery.dataset.assignUrl, "POST", body);
      const reply = await response.json().catch(() => null);
      if (!response.ok) {
        workFailed(errorText(reply, "The server refused: " + response.status + "."));
        return;
      }
      const counts = Object.entries(reply.counts)
        .map(([who, n]) => (who ? who + ": " + n : plural(n, "image") + " taken back"))
        .join(", ");
      await afterWork("Done (" + stage + "): " + counts + ".");
    } catch (failure) {
      workFailed("Could not reach the server: " + failure.message);
    }
  }

  // One move per image; the refusals (an image held by someone, say) are listed.
  async function movePicked(action, reason) {
    const refused = [];
    let moved = 0;
    for (const tile of picked()) {
      const url = gallery.dataset.moveUrl
        .replace("/images/0/", "/images/" + tile.dataset.imageId + "/")
        .replace(/skip\/$/, action + "/");
      try {
        const response = await sendJson(url, "POST", { reason: reason || "" });
        if (response.ok) moved += 1;
        else {
          const reply = await response.json().catch(() => null);
          refused.push(errorText(reply, tile.dataset.name + ": " + response.status));
        }
      } catch (failure) {
        refused.push(tile.dataset.name + ": " + failure.message);
      }
    }
    await afterWork(action + ": " + plural(moved, "image") + " done.");
    if (refused.length) workFailed(workMessage.textContent + " Refused: " + refused.join(" "));
  }

  if (workButtons.length) {
    document.getElementById("assign-selected").addEventListener("click", () => {
      assignPicked([document.getElementById("work-to").value]);
    });
    document.getElementById("split-selected").addEventListener("click", () => {
      const people = Array.from(document.getElementById("work-split").selectedOptions)
        .map((option) => option.value);
      if (!people.length) {
        workFailed("Choose the members to split the images among.");
        return;
      }
      assignPicked(people);
    });
    document.getElementById("unassign-selected").addEventListener("click", () => assignPicked(null));
    document.getElementById("skip-selected").addEventListener("click", () => {
      const reason = window.prompt("Why are these images skipped?");
      if (reason) movePicked("skip", reason);
    });
    document.getElementById("reopen-selected").addEventListener("click", () => movePicked("reopen"));
  }

  // --- Class suggestions: how sure one must be before the annotator pre-selects it,
  // as the server measured it on this project's labelled annotations. ---
  const calibration = document.getElementById("suggestion-calibration");
  if (calibration) void describeCalibration(calibration);

  function percent(share) {
    return Math.round(share * 100) + " %";
  }

  async function describeCalibration(line) {
    let state;
    try {
      const response = await fetch(line.dataset.url, { credentials: "same-origin" });
      if (!response.ok) throw new Error("HTTP " + response.status);
      state = await response.json();
    } catch (error) {
      line.textContent = "Class suggestions: their pre-selection could not be read (" + error.message + ").";
      return;
    }
    const measured = state.calibration.evaluated;
    const target = percent(state.target_right);
    if (state.preselect_at === null) {
      line.textContent =
        "Class suggestions are not pre-selected here: voted for by the others, the project's " +
        plural(measured, "labelled annotation") + " got the right class less than " + target +
        " of the time at any confidence. Choose each class yourself.";
    } else if (state.calibration.right_when_preselected === null) {
      line.textContent =
        "Class suggestions are pre-selected when at least half the nearest labelled annotations agree, " +
        "until there are enough labels to measure how often that is right (" +
        plural(measured, "labelled annotation") + " so far).";
    } else {
      line.textContent =
        "Class suggestions are pre-selected from " + percent(state.preselect_at) +
        " of the neighbours' votes: voted for by the others, the project's labelled annotations " +
        "that reach it got the right class " + percent(state.calibration.right_when_preselected) +
        " of the time (" + plural(measured, "vote") + " measured; the aim is " + target + ").";
    }
    line.dataset.state = state.preselect_at === null ? "never" : state.calibration.right_when_preselected === null ? "unmeasured" : "measured";
  }

  // --- Upload: files go in batches, so that one request stays small and a failure
  // costs little; the bar follows the bytes sent across all batches. ---
  const uploadForm = document.getElementById("upload-form");
  if (!uploadForm) return;
  const BATCH_FILES = 20;
  const uploadBar = document.getElementById("upload-bar");
  const uploadText = document.getElementById("upload-text");
  const results = document.getElementById("upload-results");

  // What became of one file: {name, result: "created"|"duplicate"|"rejected", reason}.
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
        // {"results": [{"name", "result", "reason"}]}, also when the status is 400 or
        // 413 because every file was rejected.
        const reply = xhr.response;
        if (reply && Array.isArray(reply.results)) {
          resolve(reply.results);
          return;
        }
        const reason = errorText(reply, "the server answered " + xhr.status);
        resolve(files.map((file) => ({ name: file.name, result: "rejected", reason })));
      };
      xhr.onerror = () => {
        const reason = "the upload was interrupted";
        resolve(files.map((file) => ({ name: file.name, result: "rejected", reason })));
      };
      xhr.send(body);
    });
  }

  // "12 uploaded, 1 duplicate, 2 rejected": only the outcomes that happened.
  function summary(outcomes) {
    const count = (kind) => outcomes.filter((o) => o.result === kind).length;
    const parts = [];
    if (count("created")) parts.push(count("created") + " uploaded");
    if (count("duplicate")) parts.push(plural(count("duplicate"), "duplicate"));
    if (count("rejected")) parts.push(count("rejected") + " rejected");
    return parts.join(", ") + ".";
  }

  // Each file that was not added, with why; rejected ones first.
  function showProblems(outcomes) {
    const problems = outcomes
      .filter((o) => o.result !== "created")
      .sort((a, b) => (a.result === b.result ? 0 : a.result === "rejected" ? -1 : 1));
    results.replaceChildren(
      ...problems.map((o) => {
        const item = document.createElement("li");
        const badge = document.createElement("span");
        badge.className = "badge " + o.result;
        badge.textContent = o.result;
        const why = o.result === "duplicate" ? "already in this project" : o.reason || "not usable";
        item.append(badge, " " + o.name + " — " + why);
        return item;
      }),
    );
  }

  uploadForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const files = Array.from(uploadForm.elements.files.files);
    if (!files.length) return;
    const button = uploadForm.querySelector("button");
    button.disabled = true;
    uploadText.dataset.done = "";
    results.replaceChildren();
    uploadBar.hidden = false;
    uploadBar.value = 0;
    const totalBytes = files.reduce((sum, f) => sum + f.size, 0) || 1;
    const outcomes = [];
    let sent = 0;
    for (let i = 0; i < files.length; i += BATCH_FILES) {
      const batch = files.slice(i, i + BATCH_FILES);
      batch.bytes = batch.reduce((sum, f) => sum + f.size, 0);
      uploadText.textContent = "Uploading " + (i + 1) + "–" + (i + batch.length) + " of " + files.length + "…";
      outcomes.push(...(await sendBatch(batch, sent, totalBytes)));
      sent += batch.bytes;
      uploadBar.value = sent / totalBytes;
    }
    uploadText.textContent = summary(outcomes);
    uploadText.dataset.done = "1";
    showProblems(outcomes);
    button.disabled = false;
    uploadForm.reset();
    startPolling();
  });
})();
