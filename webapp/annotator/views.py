"""The annotator page. The page itself is static; everything it needs (image, embedding,
decoder, annotations) it fetches from the API with the signed-in user's session. It
switches images in place, fetching the next image's configuration as JSON.

With ``?queue=annotate`` or ``?queue=review`` the page works through the member's queue
(webapp.workflow): "Start labelling" and "Start reviewing" open ``annotate/next/``, which
asks the workflow API for the next image and opens the annotator on it."""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path

from django.contrib.auth.decorators import login_required
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_safe

from webapp.annotator.image_config import image_config
from webapp.annotator.workflow_config import STAGES, queue_stage, workflow_config
from webapp.images.models import Image
from webapp.projects.access import project_for
from webapp.projects.models import Action
from webapp.workflow.annotator_api import upcoming

# Built by the front end (npm run build); not in git.
ASSETS = Path(__file__).resolve().parent / "assets"
CONTENT_TYPES = {
    ".js": "text/javascript",
    ".mjs": "text/javascript",
    ".wasm": "application/wasm",
    ".map": "application/json",
    # Quality rules (#17): Pyodide's standard library and lock file, the rules package.
    ".zip": "application/zip",
    ".json": "application/json",
}
# A cross-origin isolated page may only start workers whose scripts say they accept
# it; static file servers do not send these headers, so the annotator serves its own.
ISOLATION_HEADERS = {
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Embedder-Policy": "require-corp",
}


def _ort_folder() -> str:
    """The build's ``ort-<version>`` folder of onnxruntime-web's wasm files."""
    folders = sorted(p.name for p in ASSETS.glob("ort-*") if p.is_dir())
    return folders[-1] if folders else "ort-missing"


def _pyodide_folder() -> str:
    """The build's ``pyodide-<version>`` folder of Pyodide's runtime files."""
    folders = sorted(p.name for p in ASSETS.glob("pyodide-*") if p.is_dir())
    return folders[-1] if folders else "pyodide-missing"


@lru_cache(maxsize=64)
def _asset_etag(path: Path, mtime_ns: int, size: int) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()[:32]


@require_safe
def asset(request: HttpRequest, name: str) -> HttpResponse:
    """The annotator's scripts and onnxruntime-web's wasm files, with isolation headers."""
    if "\x00" in name:
        raise Http404("No such file.")
    path = (ASSETS / name).resolve()
    if ASSETS.resolve() not in path.parents or path.suffix not in CONTENT_TYPES:
        raise Http404("No such file.")
    if not path.is_file():
        raise Http404("No such file: build the front end (make setup).")
    stat = path.stat()
    etag = f'"{_asset_etag(path, stat.st_mtime_ns, stat.st_size)}"'
    if request.headers.get("If-None-Match") == etag:
        response: HttpResponse = HttpResponseNotModified()
    else:
        response = FileResponse(path.open("rb"), content_type=CONTENT_TYPES[path.suffix])
    response["ETag"] = etag
    # onnxruntime-web's files sit in a folder named after its version: they never change
    # under that name, and a cached copy lets the browser reuse the compiled wasm.
    immutable = name.startswith(("ort-", "pyodide-"))
    response["Cache-Control"] = "public, max-age=31536000, immutable" if immutable else "no-cache"
    response["Cross-Origin-Resource-Policy"] = "same-origin"
    for header, value in ISOLATION_HEADERS.items():
        response[header] = value
    return response


@login_required
def annotate(request: HttpRequest, project_pk: int, image_pk: int) -> HttpResponse:
    project = project_for(request.user, project_pk, Action.VIEW)
    image = get_object_or_404(Image, pk=image_pk, project=project)
    config = {
        **image_config(project, image),
        # The annotator's own build; the same for every image, so not in image_config.
        "workerUrl": reverse("annotator:asset", args=["decoder.worker.js"]),
        "wasmPaths": request.build_absolute_uri(
            reverse("annotator:asset", args=[f"{_ort_folder()}/x"])
        )[:-1],
        "workflow": workflow_config(project, request.user, queue_stage(request.GET.get("queue"))),
        # Quality rules (#17): checked in the browser by Pyodide, from these files.
        "rules": {
            "rulesUrl": reverse("quality-rules", args=[project.pk]),
            "workerUrl": reverse("annotator:asset", args=["rules.worker.js"]),
            "pyodideUrl": reverse("annotator:asset", args=[f"{_pyodide_folder()}/x"])[:-1],
            "packageUrl": reverse("annotator:asset", args=["qualityrules.json"]),
            "checksUrlTemplate": reverse("image-rule-checks", args=[project.pk, 0]),
        },
    }
    response = render(
        request,
        "annotator/annotate.html",
        {
            "project": project,
            "image": image,
            "config": config,
            "can_annotate": project.allows(request.user, Action.ANNOTATE),
        },
    )
    # Cross-origin isolation lets onnxruntime-web use several threads.
    for header, value in ISOLATION_HEADERS.items():
        response[header] = value
    return response


@login_required
@require_safe
def annotate_config(request: HttpRequest, project_pk: int, image_pk: int) -> JsonResponse:
    """The page's configuration for another image (see image_config), fetched as JSON
    when the page switches images without a reload."""
    project = project_for(request.user, project_pk, Action.VIEW)
    image = get_object_or_404(Image, pk=image_pk, project=project)
    response = JsonResponse(image_config(project, image))
    # Which embeddings are ready changes as images are encoded: always ask again.
    response["Cache-Control"] = "private, no-cache"
    return response


@login_required
@require_safe
def queue_start(request: HttpRequest, project_pk: int) -> HttpResponse:
    """ "Start labelling" (``?stage=annotate``) and "Start reviewing" (``?stage=review``): a
    small page whose script asks the workflow API for the next image (a POST: it claims
    the image) and opens the annotator on it, or says why there is none."""
    project = project_for(request.user, project_pk, Action.VIEW)
    stage = request.GET.get("stage", "annotate")
    if stage not in STAGES:
        raise Http404(f"No such queue: {stage}. Queues: {', '.join(STAGES)}.")
    config = workflow_config(project, request.user, stage)
    # The stage as asked, even when the role cannot review: the API then says why not.
    config["stage"] = stage
    return render(
        request,
        "annotator/queue_start.html",
        {"project": project, "stage": stage, "config": config},
    )


@login_required
@require_safe
def upcoming_images(request: HttpRequest, project_pk: int) -> JsonResponse:
    """The images the member's queue (``?stage=``) would give them after image ``?after=``,
    for the page to download ahead: ``{"images": [{"imageId", "configUrl",
    "embeddingUrl", "embeddingSha256"}]}`` (the hash null while not encoded)."""
    project = project_for(request.user, project_pk, Action.VIEW)
    stage = request.GET.get("stage", "annotate")
    if stage not in STAGES:
        raise Http404(f"No such queue: {stage}.")
    after = request.GET.get("after", "")
    exclude = int(after) if after.isdigit() and len(after) < 19 else None
    items = upcoming(project, request.user, project.role_of(request.user), stage, exclude)
    images = []
    for item in items:
        embedding = item.image.embedding_for(project.model)
        images.append(
            {
                "imageId": item.image.pk,
                "configUrl": reverse("annotator:annotate-config", args=[project.pk, item.pk]),
                "embeddingUrl": reverse("image-embedding", args=[project.pk, item.pk]),
                "embeddingSha256": embedding.sha256 if embedding is not None else None,
            }
        )
    response = JsonResponse({"images": images})
    response["Cache-Control"] = "private, no-cache"
    return response
