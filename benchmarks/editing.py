"""``python -m benchmarks.editing``: mask editing in the real annotator, in headless
Chromium against a live server (a temporary SQLite database and media folder, images
encoded with the project's model as they are uploaded).

Printed, with the machine and its load before and after:

- brush stroke to screen on a 24-megapixel image (6000 × 4000), at 100 % and at
  fit-to-window zoom: for each pointer move of a stroke (real mouse input), the time
  from the event's time stamp to the next animation frame after the move was drawn
  (the page's ``samlabel:brush-to-screen`` measures): p50, p95, max; how long the
  stroke's save took after release (RLE, request, new version listed); and the long
  tasks (over 50 ms, the browser's ``longtask`` entries) on the page's main thread
  during the strokes and their saves: each one is a hitch of any move it delays;
- an image with 500 saved masks against one with 3 (same size): how long the page
  takes to be ready with every mask listed, click-to-mask p50 and p95 (the page's
  ``samlabel:click-to-mask`` measures, one single click at a time), and the page's
  JavaScript heap (Chromium's DevTools protocol, ``Performance.getMetrics``).

    .venv/bin/python -m benchmarks.editing [--strokes 4] [--clicks 20] [--masks 500]
        [--others 0] [--part all|brush|masks]
"""

from __future__ import annotations

import argparse
import io
import math
import os
import statistics
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from benchmarks.upload_to_ready import machine

PASSWORD = "a benchmark password 42"
CHROMIUM = "/usr/bin/chromium"
# ForceEagerMeasureMemory: measureUserAgentSpecificMemory answers at once rather than at
# the next garbage collection.
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--enable-blink-features=ForceEagerMeasureMemory"]  # fmt: skip
READY = "() => document.getElementById('annotator-status').textContent.startsWith('Ready')"
# The page's long tasks (over 50 ms on its main thread), [start, duration] in ms, from
# its load on (the benchmark clears the list before the strokes).
LONG_TASKS = """
window.samlabelLongTasks = [];
new PerformanceObserver((list) => {
  for (const e of list.getEntries()) window.samlabelLongTasks.push([e.startTime, e.duration]);
}).observe({ type: "longtask", buffered: true });
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def summary(values: list[float]) -> str:
    if not values:
        return "no samples"
    return (
        f"p50 {statistics.median(values):.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
        f"max {max(values):.1f} ms ({len(values)} samples)"
    )


def picture(width: int, height: int, seed: int) -> bytes:
    """A JPEG of smooth colour gradients with discs on it: objects for SAM to find."""
    from PIL import Image as PILImage
    from PIL import ImageDraw

    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height:8, 0:width:8]
    base = np.stack(
        [(x * 255 // width), (y * 255 // height), ((x + y) * 127 // (width + height))], -1
    )
    small = PILImage.fromarray(base.astype(np.uint8)).resize((width, height))
    draw = ImageDraw.Draw(small)
    for _ in range(40):
        cx, cy = int(rng.integers(0, width)), int(rng.integers(0, height))
        r = int(rng.integers(min(width, height) // 40, min(width, height) // 8))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=colour)
    out = io.BytesIO()
    small.save(out, "JPEG", quality=90)
    return out.getvalue()


def blob_masks(width: int, height: int, count: int, seed: int) -> list[np.ndarray]:
    """``count`` (height, width) uint8 masks: ellipses of 0.05-1 % of the image."""
    rng = np.random.default_rng(seed)
    masks = []
    for _ in range(count):
        cx, cy = rng.uniform(0, width), rng.uniform(0, height)
        rx, ry = rng.uniform(0.01, 0.05) * width, rng.uniform(0.01, 0.05) * height
        x0, x1 = int(max(0, cx - rx)), int(min(width, cx + rx + 1))
        y0, y1 = int(max(0, cy - ry)), int(min(height, cy + ry + 1))
        mask = np.zeros((height, width), np.uint8)
        yy, xx = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.uint8)
        if mask.any():
            masks.append(mask)
    return masks


def side_masks(width: int, height: int, count: int, seed: int) -> Iterator[np.ndarray]:
    """``count`` (height, width) uint8 masks, one at a time: ellipses within the left or
    the right fifth of the image, 1-5 % of its side across."""
    rng = np.random.default_rng(seed)
    fifth = width // 5
    for k in range(count):
        rx, ry = rng.uniform(0.01, 0.05) * width, rng.uniform(0.01, 0.05) * height
        rx = min(rx, fifth / 2 - 1)
        cx = rng.uniform(rx, fifth - rx) + (0 if k % 2 == 0 else width - fifth)
        cy = rng.uniform(ry, height - ry)
        mask = np.zeros((height, width), np.uint8)
        x0, x1 = int(max(0, cx - rx)), int(min(width, cx + rx + 1))
        y0, y1 = int(max(0, cy - ry)), int(min(height, cy + ry + 1))
        yy, xx = np.mgrid[y0:y1, x0:x1]
        mask[y0:y1, x0:x1] = (((xx - cx) / rx) ** 2 + ((yy - cy) / ry) ** 2 <= 1).astype(np.uint8)
        yield mask


def stage_number(page: Any, name: str) -> float:
    return float(page.evaluate(f"() => document.getElementById('annotator-stage').dataset.{name}"))


def to_screen(page: Any, x: float, y: float) -> tuple[float, float]:
    """Image pixel (x, y) -> page coordinates, from the view's transform on the stage."""
    box = page.locator("#annotator-stage").bounding_box()
    scale = stage_number(page, "scale")
    return (
        box["x"] + stage_number(page, "offsetX") + x * scale,
        box["y"] + stage_number(page, "offsetY") + y * scale,
    )


def zoom_to(page: Any, scale: float, at: tuple[float, float]) -> None:
    """Wheel zoom about the page point ``at`` until the view's scale is ``scale``
    (the view zooms by exp(-deltaY / 500) per wheel event)."""
    page.mouse.move(*at)
    for _ in range(5):
        now = stage_number(page, "scale")
        if abs(now / scale - 1) < 1e-3:
            return
        page.mouse.wheel(0, -500 * math.log(scale / now))
        page.wait_for_function(
            "(s) => Number(document.getElementById('annotator-stage').dataset.scale) !== s",
            arg=now,
        )


def brush_strokes(
    page: Any, strokes: int, moves: int, first: float
) -> tuple[list[float], list[float], list[float], list[float]]:
    """Strokes of ``moves`` real mouse moves each, 500 screen pixels wide across the
    middle of the stage, 40 apart downwards from ``first`` screen pixels below its
    centre, each painting pixels the ones before did not; the moves' stroke-to-screen
    times, their own work (stamping the mask and drawing the segment), each stroke's
    save (release to the new version listed) and the long tasks' durations, ms."""
    box = page.locator("#annotator-stage").bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.evaluate(
        "() => { performance.clearMeasures('samlabel:brush-to-screen');"
        " performance.clearMeasures('samlabel:brush-draw'); window.samlabelLongTasks = []; }"
    )
    saves = []
    for k in range(strokes):
        edits = int(stage_number(page, "edits"))
        y = cy + first + 40 * k
        page.mouse.move(cx - 250, y)
        page.mouse.down()
        for i in range(1, moves + 1):
            t = i / moves
            page.mouse.move(cx - 250 + 500 * t, y + 10 * math.sin(6 * t))
        released = time.perf_counter()
        page.mouse.up()
        page.wait_for_function(
            "(n) => Number(document.getElementById('annotator-stage').dataset.edits) > n && "
            "document.getElementById('annotator-stage').dataset.editSaving === '0' || "
            "document.getElementById('annotator-status').textContent.includes('Not saved')",
            arg=edits,
            timeout=120_000,
        )
        saves.append((time.perf_counter() - released) * 1000)
    times = page.evaluate(
        "() => performance.getEntriesByName('samlabel:brush-to-screen').map((e) => e.duration)"
    )
    draws = page.evaluate(
        "() => performance.getEntriesByName('samlabel:brush-draw').map((e) => e.duration)"
    )
    long = page.evaluate("() => window.samlabelLongTasks.map(([, duration]) => duration)")
    return times, draws, saves, long


def long_tasks(durations: list[float]) -> str:
    if not durations:
        return "no long task"
    return f"{len(durations)} long tasks, max {max(durations):.0f} ms"


def clicks_to_mask(page: Any, image: Any, clicks: int, seed: int) -> list[float]:
    """``clicks`` single clicks (each prompt cleared with Esc first) at random points of
    the image; the page's click-to-mask times, ms."""
    rng = np.random.default_rng(seed)
    page.evaluate("() => performance.clearMeasures('samlabel:click-to-mask')")
    for _ in range(clicks):
        page.keyboard.press("Escape")
        before = int(
            stage_number(page, "decodes")
            if page.evaluate(
                "() => document.getElementById('annotator-stage').dataset.decodes !== undefined"
            )
            else 0
        )
        x, y = rng.uniform(0.1, 0.9) * image.width, rng.uniform(0.1, 0.9) * image.height
        page.mouse.click(*to_screen(page, x, y))
        page.wait_for_function(
            "(n) => Number(document.getElementById('annotator-stage').dataset.decodes || 0) > n",
            arg=before,
            timeout=120_000,
        )
    page.keyboard.press("Escape")
    return page.evaluate(
        "() => performance.getEntriesByName('samlabel:click-to-mask').map((e) => e.duration)"
    )


def click_parts(page: Any) -> str:
    """Where the page's last click-to-mask times went, as medians: the decoder worker's
    decode, the reply's way back to the page, and the drawing (ms, each from the click)."""
    parts = page.evaluate(
        "() => performance.getEntriesByName('samlabel:click-to-mask')"
        ".map((e) => [e.detail.decodeMs, e.detail.replyMs, e.detail.drawnMs])"
    )
    if not parts:
        return "no clicks measured"
    decode, reply, drawn = (statistics.median(column) for column in zip(*parts, strict=True))
    return f"median decode {decode:.1f} ms, reply at {reply:.1f} ms, drawn at {drawn:.1f} ms"


def memory_mb(page: Any) -> str:
    """The page's memory: its main thread's JavaScript heap (DevTools protocol; typed
    arrays' contents are outside it) and what the browser attributes to the page with
    its workers and array buffers (``performance.measureUserAgentSpecificMemory``, which
    the cross-origin isolated annotator may call; canvases' pixels are in neither)."""
    cdp = page.context.new_cdp_session(page)
    cdp.send("Performance.enable")
    metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
    cdp.detach()
    whole = page.evaluate(
        "() => performance.measureUserAgentSpecificMemory ? "
        "performance.measureUserAgentSpecificMemory().then((m) => m.bytes) : null"
    )
    heap = metrics["JSHeapUsedSize"] / 2**20
    return f"JS heap {heap:.0f} MB" + (
        "" if whole is None else f", page with workers {whole / 2**20:.0f} MB"
    )


def open_page(page: Any, url: str, rows: int) -> float:
    """Opens the annotator at ``url``; seconds until it is ready with ``rows`` listed."""
    started = time.perf_counter()
    page.goto(url)
    page.wait_for_function(READY, timeout=300_000)
    page.wait_for_function(
        "(n) => document.querySelectorAll('#annotator-annotations li').length === n",
        arg=rows,
        timeout=300_000,
    )
    return time.perf_counter() - started


def run(args: argparse.Namespace, server_url: str) -> None:
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from playwright.sync_api import sync_playwright

    from webapp.annotations import rle
    from webapp.annotations.models import Annotation
    from webapp.annotations.services import create_annotation
    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import LabelClass, Project

    owner = get_user_model().objects.create_user("bench", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Editing benchmark")
    label = LabelClass.objects.create(project=project, name="thing", color="#00a0ff")

    def upload(name: str, width: int, height: int, seed: int) -> Any:
        started = time.perf_counter()
        image = ingest_upload(
            project, SimpleUploadedFile(name, picture(width, height, seed)), owner
        ).image
        assert image is not None, f"{name} was not stored"
        image.refresh_from_db()
        assert image.status == "ready", image.failure_reason
        took = time.perf_counter() - started
        print(f"{name}: {width}×{height} uploaded and encoded in {took:.1f} s")
        return image

    def annotate(image: Any, masks: list[np.ndarray]) -> None:
        for mask in masks:
            create_annotation(image, author=owner, label_class=label.pk, rle=rle.encode(mask))

    def annotate_rows(image: Any, masks: Iterable[np.ndarray]) -> int:
        """Rows only (no versions, events or class-suggestion features): what the page
        reads is the same, and 500 full saves take minutes."""
        rows = []
        for mask in masks:
            encoded = rle.encode(mask)
            rows.append(Annotation(image=image, label_class=label, rle=encoded,
                                   bbox=rle.bbox(encoded), area=rle.area(encoded),
                                   author=owner, last_editor=owner))  # fmt: skip
        Annotation.objects.bulk_create(rows)
        return len(rows)

    if args.part in ("all", "brush"):
        large = upload("large.jpg", 6000, 4000, 1)
        target = np.zeros((large.height, large.width), np.uint8)
        target[1950:2050, 2950:3050] = 1
        # Other masks, shown while the target is edited, in the left and right fifths of
        # the image (the strokes stay in its middle).
        others = annotate_rows(large, side_masks(large.width, large.height, args.others, 6))
        annotate(large, [target])
    few = upload("few.jpg", args.side * 3 // 2, args.side, 2)
    many = upload("many.jpg", args.side * 3 // 2, args.side, 3)
    started = time.perf_counter()
    annotate(few, blob_masks(few.width, few.height, 3, 4))
    many_masks = blob_masks(many.width, many.height, args.masks, 5)
    annotate_rows(many, many_masks)
    print(f"{len(many_masks) + 3} masks saved in {time.perf_counter() - started:.1f} s\n")

    def page_url(image: Any) -> str:
        return f"{server_url}/projects/{project.pk}/images/{image.pk}/annotate/"

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(viewport={"width": 1200, "height": 800})
            context.add_init_script(LONG_TASKS)
            page = context.new_page()
            page.on("pageerror", lambda error: print(f"page error: {error}"))
            page.goto(f"{server_url}/accounts/login/")
            page.fill("input[name=username]", "bench")
            page.fill("input[name=password]", PASSWORD)
            page.click("button[type=submit], input[type=submit]")
            page.wait_for_load_state()

            if args.part in ("all", "brush"):
                # ---- brush on 24 megapixels
                opened = open_page(page, page_url(large), 1 + others)
                print(
                    f"24 MP image with {others} other masks: ready in {opened:.1f} s; "
                    f"{memory_mb(page)}"
                )
                page.keyboard.press("b")
                page.mouse.click(*to_screen(page, 3000, 2000))  # selects the annotation
                page.wait_for_function(
                    "() => document.getElementById('annotator-stage').dataset.editTarget !== ''"
                )
                fit = stage_number(page, "scale")
                # Fit: strokes from 300 screen px above the centre; 100 %: below the centre,
                # between the fit strokes (each stroke must change pixels to be saved).
                for name, scale, first in (("fit to window", fit, -300.0), ("100 %", 1.0, 150.0)):
                    box = page.locator("#annotator-stage").bounding_box()
                    assert box is not None
                    zoom_to(
                        page, scale, (box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
                    )
                    times, draws, saves, long = brush_strokes(page, args.strokes, args.moves, first)
                    brush = int(stage_number(page, "brushSize"))
                    print(
                        f"brush at {name} (scale {stage_number(page, 'scale'):.3f}), {brush} px "
                        f"brush: stroke to screen {summary(times)}; the move's own work "
                        f"{summary(draws)}; save after release p50 "
                        f"{statistics.median(saves):.0f} ms, max {max(saves):.0f} ms; "
                        f"{long_tasks(long)} on the main thread"
                    )
                print(f"24 MP image after the strokes: {memory_mb(page)}\n")

            if args.part in ("all", "masks"):
                # ---- many saved masks
                for name, image, rows in (
                    ("3 masks", few, 3),
                    (f"{len(many_masks)} masks", many, len(many_masks)),
                ):
                    fresh = context.new_page()
                    opened = open_page(fresh, page_url(image), rows)
                    times = clicks_to_mask(fresh, image, args.clicks, 7)
                    parts = click_parts(fresh)
                    memory = memory_mb(fresh)
                    print(
                        f"{image.width}×{image.height} with {name}: ready with all listed in "
                        f"{opened:.1f} s; click to mask {summary(times)} ({parts}); {memory}"
                    )
                    fresh.close()
        finally:
            browser.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.editing", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--strokes", type=int, default=4, help="brush strokes per zoom")
    parser.add_argument("--moves", type=int, default=60, help="pointer moves per stroke")
    parser.add_argument(
        "--others", type=int, default=0, help="other masks shown on the 24 MP image"
    )
    parser.add_argument("--clicks", type=int, default=20, help="clicks per image")
    parser.add_argument("--masks", type=int, default=500, help="saved masks on the crowded image")
    parser.add_argument("--side", type=int, default=2000, help="the crowded image's height (px)")
    parser.add_argument(
        "--part", choices=["all", "brush", "masks"], default="all", help="what to measure"
    )
    args = parser.parse_args(argv)

    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="editing-bench-") as tmp:
        folder = Path(tmp)
        os.environ.update({
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATABASE_URL": f"sqlite:///{folder / 'db.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "CELERY_TASK_ALWAYS_EAGER": "1",
            "SAMLABEL_S3_BUCKET": "",
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
