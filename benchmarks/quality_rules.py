"""``python -m benchmarks.quality_rules``: quality rules (issue 17) in the browser, on the
server and on the worker, against a live server with a temporary SQLite database and
media folder (the image encoded with the project's model as it is uploaded).

Printed, with the machine and its load before and after:

- Pyodide ready in the browser (headless Chromium): seconds from the annotator being
  clickable (``samlabel:ready``) to the rules' worker being ready (``samlabel:rules-ready``),
  on a first visit (empty cache) and on a second (cached);
- one check of an image with 50 annotations: in the browser (the worker's time for the
  check) and on the server (built-ins natively; with a custom rule in the sandbox: the
  first check, which starts Pyodide, then a warm runner's), ms;
- the whole-project check (the worker's task, run in this process) of ``--images`` images
  of 10 annotations each with built-ins and a custom rule, and that time extrapolated to
  10,000 images (linear: the task checks in batches of SAMLABEL_RULES_BATCH);
- the annotator's click-to-mask (``samlabel:click-to-mask``) with the rules' worker loaded
  beside it and in a project without rules (no worker), p50 and p95.

    .venv/bin/python -m benchmarks.quality_rules [--images 1000] [--clicks 20] [--rounds 1]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.editing import (
    CHROMIUM,
    CHROMIUM_ARGS,
    PASSWORD,
    blob_masks,
    clicks_to_mask,
    open_page,
    picture,
    summary,
)
from benchmarks.upload_to_ready import machine

CUSTOM: dict[str, Any] = {
    "name": "one person",
    "source": "def check(image):\n"
    "    people = [a for a in image.annotations if a.label == 'person']\n"
    "    if len(people) > 1:\n"
    "        return [warning(f'{len(people)} people', *people)]\n"
    "    return []\n",
}
BUILTINS: list[dict[str, Any]] = [
    {"name": "big things", "builtin": "min_area", "params": {"areas": {"thing": 200}}},
    {"name": "max things", "builtin": "max_instances", "params": {"max": {"thing": 40}}},
    {"name": "one part", "builtin": "one_part", "params": {}},
    {"name": "no overlap", "builtin": "no_overlap", "params": {}},
]


def rows_of(image: Any, label: Any, owner: Any, masks: list[np.ndarray]) -> list[Any]:
    from webapp.annotations import rle
    from webapp.annotations.models import Annotation

    rows = []
    for mask in masks:
        encoded = rle.encode(mask)
        rows.append(Annotation(image=image, label_class=label, rle=encoded,
                               bbox=rle.bbox(encoded), area=rle.area(encoded),
                               author=owner, last_editor=owner))  # fmt: skip
    return rows


def server_figures(project: Any, image: Any) -> None:
    from qualityrules.ruleset import has_custom
    from webapp.qualityrules.checking import check, image_data, images_with_annotations
    from webapp.qualityrules.models import RuleSetVersion

    (loaded,) = images_with_annotations([image.pk])
    data = image_data(loaded)
    for rules in (BUILTINS, [*BUILTINS, CUSTOM]):
        version = RuleSetVersion.save_new(project, rules, None)
        times = []
        for _ in range(11):
            started = time.perf_counter()
            check(version, [data])
            times.append((time.perf_counter() - started) * 1000)
        where = (
            "in the sandbox (Pyodide under Node.js)" if has_custom(version.spec()) else "natively"
        )
        print(
            f"server, one check of {len(data['annotations'])} annotations {where}: first "
            f"{times[0]:.0f} ms, then median {statistics.median(times[1:]):.1f} ms"
        )


def project_check(owner: Any, images: int) -> None:
    from webapp.annotations.models import Annotation
    from webapp.images.models import Image
    from webapp.projects.models import LabelClass, Project
    from webapp.qualityrules.models import ProjectCheck, RuleSetVersion
    from webapp.qualityrules.tasks import check_project

    project = Project.create_with_owner(owner, name="Project check benchmark")
    label = LabelClass.objects.create(project=project, name="thing", color="#00a0ff")
    LabelClass.objects.create(project=project, name="person", color="#ff0000")
    rows = [
        Image(project=project, file="bench/none.png", original_name=f"image{n}.png",
              sha256=hashlib.sha256(str(n).encode()).hexdigest(), status="ready",
              width=600, height=400)
        for n in range(images)
    ]  # fmt: skip
    stored = Image.objects.bulk_create(rows)
    masks = blob_masks(600, 400, 10, 11)
    for start in range(0, len(stored), 200):
        batch = [
            r for image in stored[start : start + 200] for r in rows_of(image, label, owner, masks)
        ]
        Annotation.objects.bulk_create(batch)
    version = RuleSetVersion.save_new(project, [*BUILTINS, CUSTOM], owner)
    job = ProjectCheck.objects.create(project=project, ruleset_version=version.version)
    started = time.perf_counter()
    check_project(job.pk)
    took = time.perf_counter() - started
    job.refresh_from_db()
    assert job.state == "done", job.failure
    print(
        f"project check of {job.images_checked:,} images × 10 annotations (built-ins and a "
        f"custom rule, sandboxed): {took:.1f} s; extrapolated to 10,000 images: "
        f"{took * 10_000 / job.images_checked / 60:.1f} min (measured on {images:,})"
    )


def rules_ready_s(page: Any) -> float:
    page.wait_for_function(
        "() => document.getElementById('annotator-stage').dataset.rules === 'ready'",
        timeout=600_000,
    )
    page.wait_for_function(
        "() => document.getElementById('annotator-stage').dataset.rulesCheckMs !== undefined",
        timeout=120_000,
    )
    return (
        float(
            page.evaluate(
                "() => performance.getEntriesByName('samlabel:rules-ready')[0].startTime"
                " - performance.getEntriesByName('samlabel:ready')[0].startTime"
            )
        )
        / 1000
    )


def run(args: argparse.Namespace, server_url: str) -> None:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from playwright.sync_api import sync_playwright

    from webapp.annotations.models import Annotation
    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import LabelClass, Project
    from webapp.qualityrules.models import RuleSetVersion

    owner = get_user_model().objects.create_user("bench", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Rules benchmark")
    label = LabelClass.objects.create(project=project, name="thing", color="#00a0ff")
    LabelClass.objects.create(project=project, name="person", color="#ff0000")
    image = ingest_upload(
        project, SimpleUploadedFile("fifty.jpg", picture(1200, 800, 1)), owner
    ).image
    assert image is not None
    image.refresh_from_db()
    assert image.status == "ready", image.failure_reason
    Annotation.objects.bulk_create(rows_of(image, label, owner, blob_masks(1200, 800, 50, 2)))
    count = Annotation.objects.filter(image=image).count()

    server_figures(project, image)
    url = f"{server_url}/projects/{project.pk}/images/{image.pk}/annotate/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            page = context.new_page()
            page.on("pageerror", lambda error: print(f"page error: {error}"))
            page.goto(f"{server_url}/accounts/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state()

            for visit in ("first visit", "cached"):
                open_page(page, url, count)
                ready = rules_ready_s(page)
                check_ms = float(
                    page.evaluate(
                        "() => document.getElementById('annotator-stage').dataset.rulesCheckMs"
                    )
                )
                print(
                    f"browser, {visit}: Pyodide and the rules ready {ready:.1f} s after the page; "
                    f"one check of {count} annotations {check_ms:.0f} ms"
                )
            pooled: dict[bool, list[float]] = {True: [], False: []}
            # Rounds alternate which comes first, so that a trend in the machine's load
            # falls on both alike.
            for round_ in range(args.rounds):
                for with_rules in (True, False) if round_ % 2 == 0 else (False, True):
                    spec = [*BUILTINS, CUSTOM] if with_rules else []  # none: no worker
                    RuleSetVersion.save_new(project, spec, owner)
                    open_page(page, url, count)
                    wanted = "ready" if with_rules else "none"
                    page.wait_for_function(
                        "() => document.getElementById('annotator-stage').dataset.rules"
                        f" === {wanted!r}",
                        timeout=180_000,
                    )
                    times = clicks_to_mask(page, image, args.clicks, 7 + round_)
                    pooled[with_rules] += times
                    what = "with the rules' worker loaded" if with_rules else "without rules"
                    print(f"round {round_ + 1}, click to mask {what}: {summary(times)}")
            for with_rules, what in ((True, "with the rules' worker"), (False, "without rules")):
                print(f"click to mask {what}, all rounds: {summary(pooled[with_rules])}")
        finally:
            browser.close()

    project_check(owner, args.images)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.quality_rules", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--images", type=int, default=1000, help="images in the project check")
    parser.add_argument("--clicks", type=int, default=20, help="clicks with and without rules")
    parser.add_argument(
        "--rounds", type=int, default=1, help="alternating rounds of clicks with and without"
    )
    args = parser.parse_args(argv)

    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="rules-bench-") as tmp:
        folder = Path(tmp)
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "SAMLABEL_S3_BUCKET": "",
            # The ORM is called between Playwright's (synchronous) calls.
            "DJANGO_ALLOW_ASYNC_UNSAFE": "true",
        })  # fmt: skip
        import django

        django.setup()
        from django.core.management import call_command
        from pytest_django.live_server_helper import LiveServer

        call_command("migrate", verbosity=0)
        server = LiveServer("localhost:0")
        try:
            run(args, server.url)
        finally:
            server.stop()
    print("\nLoad average at the end: " + ", ".join(f"{x:.2f}" for x in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
