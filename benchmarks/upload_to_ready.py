"""``python -m benchmarks.upload_to_ready --grabcut DIR``: seconds from an upload to a
ready image, end to end, one image at a time, with one real Celery worker.

Everything is real but private to the run: a temporary SQLite database and MEDIA_ROOT
(removed afterwards), a redis-server of its own on a free port (or ``--broker URL``),
and one worker subprocess (``celery -A webapp worker --pool solo``) with the encoder the
settings choose (``--backend``, default the worker's own default, ``auto``). Each photo
is uploaded through the API with a token (Django's test client, in this process: the
request's own work, checks, storage and the thumbnail, is measured, not a network), and
the clock stops when the image's row says "ready", polled every 10 ms.

A first, unmeasured upload loads the model in the worker (its time is printed apart),
as a worker that has run for a while has it loaded. Prints a Markdown table per image
(the upload request alone, then upload to ready), the mean and median, and the machine.
"""

from __future__ import annotations

import argparse
import io
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from benchmarks.machine import cpu_name

REPO_ROOT = Path(__file__).resolve().parents[1]
POLL_SECONDS = 0.01
READY_TIMEOUT = 600.0  # seconds one image may take before the run gives up


@dataclass(frozen=True)
class Timing:
    name: str
    size: tuple[int, int]  # width, height
    request_s: float  # the upload request alone
    ready_s: float  # from sending the upload to the row saying "ready"
    task_s: float | None = None  # the worker's task alone, as its log says


def machine() -> str:
    cpu = cpu_name()
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"{cpu}; nproc {os.cpu_count()}; load average {load} (1, 5, 15 min) at the start; "
        f"Python {platform.python_version()}; {time.strftime('%Y-%m-%d %H:%M %Z')}"
    )


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        time.sleep(POLL_SECONDS)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def private_redis(folder: Path) -> Iterator[str]:
    """A redis-server on a free port, without persistence; its URL."""
    if shutil.which("redis-server") is None:
        sys.exit("redis-server is not installed; install it or pass --broker URL")
    port = free_port()
    server = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
         "--appendonly", "no", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )  # fmt: skip
    try:

        def answers() -> bool:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until(answers, 10, f"redis-server on port {port}")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        server.terminate()
        server.wait(10)


@contextmanager
def celery_worker(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """One worker (``--pool solo``: one image at a time, as ``make run`` runs it),
    started and waited for until it says it is ready."""
    command = [
        sys.executable, "-m", "celery", "-A", "webapp", "worker", "-Q", "encode,celery",
        "--pool", "solo", "--loglevel", "INFO", "--hostname", "bench@%h",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip
    with log.open("ab") as out:
        worker = subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=out, stderr=out)
    try:

        def ready() -> bool:
            if worker.poll() is not None:
                sys.exit(f"the worker stopped at start-up; its log:\n{log.read_text()}")
            return " ready." in log.read_text(errors="replace")

        wait_until(ready, 120, "the worker to start")
        yield worker
    finally:
        worker.terminate()
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait(10)


def photos(folder: Path, limit: int | None, enlarge: int) -> list[tuple[str, bytes]]:
    """(file name, content) of the first ``limit`` photos of ``folder/images``; with
    ``enlarge`` > 1, each enlarged that many times (bicubic) and saved as a JPEG of
    quality 90, as a camera's photos are large JPEGs."""
    from PIL import Image as PILImage

    chosen = sorted(p for p in (folder / "images").iterdir() if p.is_file())[:limit]
    if enlarge <= 1:
        return [(p.name, p.read_bytes()) for p in chosen]
    enlarged = []
    for path in chosen:
        with PILImage.open(path) as picture:
            size = (picture.width * enlarge, picture.height * enlarge)
            big = picture.convert("RGB").resize(size, PILImage.Resampling.BICUBIC)
        out = io.BytesIO()
        big.save(out, "JPEG", quality=90)
        enlarged.append((f"{path.stem}.jpg", out.getvalue()))
    return enlarged


def warm_up_picture() -> bytes:
    """A 640×480 JPEG unlike any benchmark photo (its content must not be a duplicate)."""
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "JPEG", quality=90)
    return out.getvalue()


def run(uploads: list[tuple[str, bytes]], worker_env: dict[str, str], log: Path) -> list[Timing]:
    """Upload each photo and wait for it to be ready, one after another."""
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.urls import reverse
    from PIL import Image as PILImage
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    from webapp.images.models import Image
    from webapp.projects.models import Project

    call_command("migrate", verbosity=0)
    user = get_user_model().objects.create_user("bench", password="not-used-for-login")
    project = Project.create_with_owner(user, name="Upload to ready")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=user).key}")
    url = reverse("image-list", kwargs={"project_pk": project.pk})

    def upload(name: str, content: bytes) -> tuple[float, float]:
        start = time.perf_counter()
        response = client.post(
            url, {"files": [SimpleUploadedFile(name, content)]}, format="multipart"
        )
        request_s = time.perf_counter() - start
        if response.status_code != 201:
            sys.exit(f"uploading {name} answered {response.status_code}: {response.content!r}")
        result = response.json()["results"][0]
        if result.get("result") != "created":
            sys.exit(f"{name} was not created: {result}")
        image_id = result["id"]

        def ready() -> bool:
            status = Image.objects.filter(pk=image_id).values_list("status", flat=True).first()
            if status == "failed":
                sys.exit(f"{name} failed to encode; the worker's log is {log}")
            return status == "ready"

        wait_until(ready, READY_TIMEOUT, f"{name} to be ready")
        return request_s, time.perf_counter() - start

    timings = []
    with celery_worker(worker_env, log):
        _, cold_s = upload("warm-up.jpg", warm_up_picture())
        print(f"Warm-up upload (the worker loads the model): {cold_s:.2f} s\n", flush=True)
        for name, content in uploads:
            with PILImage.open(io.BytesIO(content)) as picture:
                size = picture.size
            request_s, ready_s = upload(name, content)
            timings.append(Timing(name, size, request_s, ready_s))
            print(f"  {len(timings)}: {name} {ready_s:.2f} s", file=sys.stderr, flush=True)
    return timings


TASK_DONE = re.compile(r"encode_image\[[^]]+\] succeeded in ([0-9.]+)s")


def with_task_times(timings: list[Timing], log: str) -> list[Timing]:
    """``timings`` with each image's task time from the worker's log (one task at a time,
    in upload order, after the warm-up's)."""
    seconds = [float(s) for s in TASK_DONE.findall(log)][1:]
    if len(seconds) != len(timings):
        return timings
    return [replace(t, task_s=s) for t, s in zip(timings, seconds, strict=True)]


def table(timings: list[Timing]) -> str:
    """Markdown: one row per photo, then the mean, median and slowest of each column."""
    rows = [
        "| # | photo | width × height | upload request, s | worker task, s | upload → ready, s |",
        "|---|---|---|---|---|---|",
    ]

    def seconds(value: float | None) -> str:
        return "" if value is None else f"{value:.3f}"

    for n, t in enumerate(timings, 1):
        rows.append(
            f"| {n} | {t.name} | {t.size[0]} × {t.size[1]} | {t.request_s:.3f} | "
            f"{seconds(t.task_s)} | {t.ready_s:.3f} |"
        )
    columns = [
        [t.request_s for t in timings],
        [t.task_s for t in timings if t.task_s is not None],
        [t.ready_s for t in timings],
    ]
    for label, summary in (
        (f"mean of {len(timings)}", statistics.mean),
        ("median", statistics.median),
        ("slowest", max),
    ):
        cells = " | ".join(seconds(summary(c)) if c else "" for c in columns)
        rows.append(f"| {label} | | | {cells} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.upload_to_ready",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--grabcut", type=Path, required=True, help="folder of the GrabCut set (images/)"
    )
    parser.add_argument("--limit", type=int, help="only the first N photos")
    parser.add_argument(
        "--enlarge",
        type=int,
        default=1,
        help="upload each photo enlarged N times, as a JPEG (camera-sized uploads)",
    )
    parser.add_argument(
        "--backend",
        choices=["auto", "torch", "onnx"],
        default=None,
        help="the worker's SAMLABEL_ENCODER_BACKEND (default: as set, else auto)",
    )
    parser.add_argument("--broker", help="a Redis URL to use instead of a private redis-server")
    parser.add_argument("--worker-log", type=Path, help="keep a copy of the worker's log here")
    args = parser.parse_args(argv)
    if not (args.grabcut / "images").is_dir():
        parser.error(f"{args.grabcut / 'images'} is not a folder")

    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="upload-to-ready-") as tmp:
        folder = Path(tmp)
        (folder / "media").mkdir()
        env: dict[str, Any] = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "SAMLABEL_S3_BUCKET": "",
        }
        if args.backend:
            env["SAMLABEL_ENCODER_BACKEND"] = args.backend
        with private_redis(folder) if args.broker is None else _given(args.broker) as broker:
            env["CELERY_BROKER_URL"] = broker
            os.environ.update(env)
            os.environ["ALLOWED_HOSTS"] = "testserver"
            import django

            django.setup()
            from django.conf import settings

            print(
                f"Worker: one process, --pool solo; SAMLABEL_ENCODER_BACKEND="
                f"{settings.SAMLABEL_ENCODER_BACKEND}; model {settings.SAMLABEL_MODEL}"
            )
            log = folder / "worker.log"
            uploads = photos(args.grabcut, args.limit, args.enlarge)
            timings = with_task_times(run(uploads, env, log), log.read_text())
            if args.worker_log:
                shutil.copyfile(log, args.worker_log)
            chosen = [line for line in log.read_text().splitlines() if "] encoding " in line]
            if chosen:
                print(f"Encoder: {chosen[0].split('] ', 1)[-1]}")
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    print(f"\nLoad average at the end: {load}\n")
    print(table(timings))
    return 0


@contextmanager
def _given(url: str) -> Iterator[str]:
    yield url


if __name__ == "__main__":
    sys.exit(main())
