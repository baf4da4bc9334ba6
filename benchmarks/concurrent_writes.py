"""``python -m benchmarks.concurrent_writes``: a worker's export of thousands of
annotations while annotators save, on the default set-up (a SQLite file, the folder
broker, one real Celery worker), or on the database ``--database URL`` names.

Everything is private to the run: a temporary SQLite database (unless ``--database``),
MEDIA_ROOT and broker folder, and one worker subprocess (``--pool solo``, as ``make run``
runs it). The project has ``--images`` pictures and ``--annotations`` annotations in all.
For each export format, ``--annotators`` threads save one annotation each every
``--every`` seconds through the API (Django's test client in this process, one database
connection per thread, as the web server's threads have) while the export runs on the
worker; the clock stops when the export's row says done or failed.

Prints, per format: the export's outcome and seconds, the saves made meanwhile, their
latency (median, 95th percentile, slowest) and how many failed, then the machine.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchmarks.upload_to_ready import celery_worker, machine, wait_until

EXPORT_TIMEOUT = 900.0  # seconds


class Annotator(threading.Thread):
    """Saves one annotation every ``every`` seconds through the API until stopped; keeps
    each save's latency and each failure (a status other than 201, or an exception)."""

    def __init__(self, token: str, url: str, body: dict[str, Any], every: float) -> None:
        super().__init__(daemon=True)
        self.token, self.url, self.body, self.every = token, url, body, every
        self.latencies: list[float] = []
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        from django.db import connections
        from rest_framework.test import APIClient

        client = APIClient(raise_request_exception=False)
        client.credentials(HTTP_AUTHORIZATION=f"Token {self.token}")
        try:
            while not self.stop.is_set():
                start = time.perf_counter()
                try:
                    response = client.post(self.url, self.body, format="json")
                    if response.status_code != 201:
                        self.failures.append(f"{response.status_code}: {response.content[:200]!r}")
                except Exception as exc:  # what a user sees as a failed save
                    self.failures.append(repr(exc))
                self.latencies.append(time.perf_counter() - start)
                self.stop.wait(self.every)
        finally:
            connections.close_all()


def picture(serial: int, width: int, height: int) -> bytes:
    import numpy as np
    from PIL import Image as PILImage

    pixels = np.random.default_rng(serial).integers(0, 256, (height, width, 3), dtype=np.uint8)
    out = io.BytesIO()
    PILImage.fromarray(pixels).save(out, "PNG")
    return out.getvalue()


def build_project(images: int, annotations: int, width: int, height: int) -> dict[str, Any]:
    """A project with ``images`` pictures and ``annotations`` square masks spread over
    them; the owner's token and the first image's annotation URL."""
    import hashlib

    import numpy as np
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from rest_framework.authtoken.models import Token

    from webapp.annotations import rle
    from webapp.annotations.models import Annotation
    from webapp.images.models import Image
    from webapp.projects.models import LabelClass, Project

    user = get_user_model().objects.create_user("bench", password="not-used-for-login")
    project = Project.create_with_owner(user, name="Concurrent writes")
    label = LabelClass.objects.create(project=project, name="thing")
    rows = []
    for n in range(images):
        content = picture(n, width, height)
        rows.append(
            Image.objects.create(
                project=project,
                file=ContentFile(content, name="upload.png"),
                original_name=f"photo{n}.png",
                width=width,
                height=height,
                sha256=hashlib.sha256(content).hexdigest(),
            )
        )
    mask = np.zeros((height, width), dtype=bool)
    mask[height // 4 : height // 2, width // 4 : width // 2] = True
    encoded = rle.encode(mask)
    Annotation.objects.bulk_create(
        (
            Annotation(
                image=rows[n % images],
                label_class=label,
                rle=encoded,
                bbox=rle.bbox(encoded),
                area=rle.area(encoded),
                author=user,
            )
            for n in range(annotations)
        ),
        batch_size=500,
    )
    small = np.zeros((height, width), dtype=bool)
    small[2:8, 2:8] = True
    return {
        "project": project,
        "token": Token.objects.create(user=user).key,
        "save_url": f"/api/projects/{project.pk}/images/{rows[0].pk}/annotations/",
        "save_body": {"rle": rle.encode(small), "label_class": label.pk},
    }


def export_while_saving(
    world: dict[str, Any], export_format: str, annotators: int, every: float
) -> dict[str, Any]:
    from rest_framework.test import APIClient

    from webapp.exports.models import Export

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {world['token']}")
    threads = [
        Annotator(world["token"], world["save_url"], world["save_body"], every)
        for _ in range(annotators)
    ]
    for thread in threads:
        thread.start()
    start = time.perf_counter()
    response = client.post(
        f"/api/projects/{world['project'].pk}/exports/",
        {"format": export_format, "image_scope": "annotated"},
        format="json",
    )
    if response.status_code not in (201, 202):
        sys.exit(f"starting the export answered {response.status_code}: {response.content!r}")
    export_id = response.json()["id"]

    def finished() -> bool:
        status = Export.objects.filter(pk=export_id).values_list("status", flat=True).first()
        return status in {"done", "failed"}

    try:
        wait_until(finished, EXPORT_TIMEOUT, f"the {export_format} export")
    finally:
        seconds = time.perf_counter() - start
        for thread in threads:
            thread.stop.set()
        for thread in threads:
            thread.join(60)
    export = Export.objects.get(pk=export_id)
    latencies = sorted(x for t in threads for x in t.latencies)
    failures = [f for t in threads for f in t.failures]
    return {
        "format": export_format,
        "status": export.status,
        "error": getattr(export, "error", ""),
        "seconds": seconds,
        "saves": len(latencies),
        "failed": len(failures),
        "first_failure": failures[0] if failures else "",
        "p50": statistics.median(latencies) if latencies else float("nan"),
        # Nearest rank: the smallest latency that 95% of the saves did not exceed.
        "p95": latencies[math.ceil(0.95 * len(latencies)) - 1] if latencies else float("nan"),
        "max": latencies[-1] if latencies else float("nan"),
    }


def table(results: list[dict[str, Any]]) -> str:
    rows = [
        "| format | export | export, s | saves meanwhile | failed saves "
        "| save p50, ms | save p95, ms | slowest save, ms |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        rows.append(
            f"| {r['format']} | {r['status']} | {r['seconds']:.1f} | {r['saves']} | "
            f"{r['failed']} | {1000 * r['p50']:.0f} | {1000 * r['p95']:.0f} | "
            f"{1000 * r['max']:.0f} |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.concurrent_writes",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--annotations", type=int, default=3500)
    parser.add_argument("--size", type=int, nargs=2, default=(640, 480), metavar=("W", "H"))
    parser.add_argument("--annotators", type=int, default=1)
    parser.add_argument("--every", type=float, default=1.0, help="seconds between saves")
    parser.add_argument("--formats", nargs="+", default=["coco", "masks"])
    parser.add_argument("--database", help="a database URL instead of a temporary SQLite file")
    args = parser.parse_args(argv)

    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="concurrent-writes-") as tmp:
        folder = Path(tmp)
        (folder / "media").mkdir()
        env: dict[str, Any] = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATABASE_URL": args.database or f"sqlite:///{folder / 'db.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "SAMLABEL_S3_BUCKET": "",
            "CELERY_BROKER_URL": "filesystem://",
            "SAMLABEL_BROKER_DIR": str(folder / "broker"),
        }
        for sub in ("queue", "processed", "control"):
            (folder / "broker" / sub).mkdir(parents=True)
        os.environ.update(env)
        os.environ["ALLOWED_HOSTS"] = "testserver"
        import django

        django.setup()
        from django.core.management import call_command

        call_command("migrate", verbosity=0)
        width, height = args.size
        world = build_project(args.images, args.annotations, width, height)
        print(
            f"Database: {env['DATABASE_URL'].split(':', 1)[0]}; {args.images} images of "
            f"{width} × {height}, {args.annotations} annotations; {args.annotators} "
            f"annotator(s) saving every {args.every} s; one worker, --pool solo\n"
        )
        results = []
        with celery_worker(env, folder / "worker.log"):
            for export_format in args.formats:
                result = export_while_saving(world, export_format, args.annotators, args.every)
                results.append(result)
                print(f"  {export_format}: {result['status']} in {result['seconds']:.1f} s",
                      file=sys.stderr, flush=True)  # fmt: skip
                if result["first_failure"] or result["status"] != "done":
                    print(f"  first failure: {result['first_failure'] or result['error']}",
                          file=sys.stderr)  # fmt: skip
    print(table(results))
    return 0 if all(r["status"] == "done" and not r["failed"] for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
