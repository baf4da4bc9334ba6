"""The browser's decoder of a model, as the web app serves it: read here, never built here.

The ONNX files and their ``manifest.json`` are written into
``inference.registry.onnx_dir(model)`` by the set-up (``python -m export_onnx``) or by the
worker's :func:`webapp.images.tasks.build_decoder`. A web request only reads them. Each
manifest is verified (this code's build version, the model's checkpoint, every file the
browser may fetch present with its sha256) once per state of ``manifest.json`` (path,
size, modification time, inode), so a build that lands later is served without a restart.

When nothing servable is there, :func:`browser_decoder` raises :class:`DecoderMissing`
and :func:`missing_decoder_detail` says what to run, queuing a build on the worker when
the model's weights are here to build from.
"""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from django.db import transaction
from django.utils import timezone

from export_onnx.build import BUILD_VERSION
from export_onnx.manifest import MANIFEST_FORMAT
from inference.registry import UnknownModel, file_sha256, get_model, onnx_dir
from webapp.images.availability import SERVER_PYTHON, weights_problem
from webapp.images.models import DecoderBuild, DecoderBuildStatus
from webapp.images.tasks import queue_decoder_build


@dataclass(frozen=True)
class BrowserDecoder:
    """A verified build of ``model``'s decoders, ready to serve."""

    model: str
    folder: Path
    manifest: dict[str, Any]
    content: bytes  # manifest.json as served: compact JSON, UTF-8
    files: dict[str, str]  # the file names the browser may fetch -> their sha256


class DecoderMissing(Exception):
    """No servable build of a model's decoder; ``str()`` says what is missing, for a
    person (no file-system paths)."""


# model -> (its manifest.json's path and state, what reading it gave: a decoder or why not).
_READ: dict[str, tuple[tuple[str, int, int, int], BrowserDecoder | str]] = {}
_READ_LOCK = threading.Lock()


def decoder_files(manifest: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The decoder files a manifest lists, split decoders' image stages included (never
    the image encoder, which only the worker uses): file name -> its manifest entry."""
    decoders = manifest.get("decoders")
    if not isinstance(decoders, dict):
        raise ValueError("the manifest lists no decoders")
    entries = [
        *decoders.values(),
        *(e["image_stage"] for e in decoders.values() if e.get("image_stage")),
    ]
    return {entry["file"]: entry for entry in entries}


def browser_decoder(model: str) -> BrowserDecoder:
    """The verified build of ``model``'s decoders; :class:`DecoderMissing` when there is
    none. Only reads files: never builds, never downloads."""
    folder = onnx_dir(model)
    path = folder / "manifest.json"
    try:
        stat = path.stat()
    except OSError:
        raise DecoderMissing(f"the decoder files of {model} are not built") from None
    state = (str(path), stat.st_size, stat.st_mtime_ns, stat.st_ino)
    with _READ_LOCK:
        cached = _READ.get(model)
    if cached is None or cached[0] != state:
        cached = (state, _read_build(model, folder))
        with _READ_LOCK:
            _READ[model] = cached
    result = cached[1]
    if isinstance(result, str):
        raise DecoderMissing(result)
    return result


def _read_build(model: str, folder: Path) -> BrowserDecoder | str:
    """The build in ``folder`` verified, or why it cannot be served."""
    try:
        spec = get_model(model)
    except UnknownModel:
        return f"{model} is not a model registered on this server"
    try:
        manifest = json.loads((folder / "manifest.json").read_bytes())
        files = {
            name: (int(entry["size"]), str(entry["sha256"]))
            for name, entry in decoder_files(manifest).items()
        }
        shipped = {manifest.get("browser_decoder"), manifest.get("exact_decoder")}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return f"the decoder manifest of {model} is unreadable ({exc!r})"
    if (
        manifest.get("format") != MANIFEST_FORMAT
        or manifest.get("build_version") != BUILD_VERSION
        or manifest.get("model") != model
    ):
        return (
            f"the decoder files of {model} were built by another version of samlabel "
            f"(build {manifest.get('build_version')}, this one needs {BUILD_VERSION})"
        )
    if manifest.get("checkpoint_sha256") != spec.sha256:
        return f"the decoder files of {model} were built from other weights"
    for name in sorted(map(str, shipped)):
        if name not in manifest["decoders"]:
            return f"the decoder manifest of {model} lacks its decoder {name!r}"
    for name, (size, sha256) in files.items():
        path = folder / name
        try:
            intact = path.stat().st_size == size and file_sha256(path) == sha256
        except OSError:
            intact = False
        if not intact:
            return f"the decoder file {name} of {model} is missing or damaged"
    content = json.dumps(manifest).encode()
    hashes = {name: sha256 for name, (_, sha256) in files.items()}
    return BrowserDecoder(model, folder, manifest, content, hashes)


def missing_decoder_detail(model: str, missing: DecoderMissing) -> str:
    """What a person should know when ``model``'s decoder cannot be served: what is
    missing, and what happens or what to run. When the weights are here, a build is
    asked of the worker (:meth:`DecoderBuild.request`) and sent once committed."""
    build_command = f"{SERVER_PYTHON} -m export_onnx --model {model}"
    what = str(missing)
    what = what[0].upper() + what[1:]
    problem = weights_problem(model)
    if problem is not None:
        return (
            f"{what}, and they cannot be built without the model's weights. {problem} "
            f"Then run `{build_command}` (or let the worker build them)."
        )
    build, queued = DecoderBuild.request(model)
    if queued:
        transaction.on_commit(lambda: queue_decoder_build(model))
    since = timezone.localtime(build.status_changed_at).strftime("%H:%M")
    if build.status == DecoderBuildStatus.FAILED:
        reason = build.failure_reason.rstrip(".")
        return (
            f"{what}, and building them on the worker failed at {since}: {reason}. Run "
            f"`{build_command}` on the server to see the whole error; the worker tries "
            "again an hour after it failed."
        )
    if build.status == DecoderBuildStatus.DONE:
        return (
            f"{what} here, though a worker finished building them at {since}. Run "
            f"`{build_command}` on this server, or give the web server and the workers "
            "the same SAMLABEL_CACHE_DIR."
        )
    return (
        f"{what}. A worker is building them (asked at {since}; this takes a few "
        f"minutes): reload the page then. To build them yourself, run `{build_command}`."
    )
