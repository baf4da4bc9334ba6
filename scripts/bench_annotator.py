"""Speed of the annotator in headless Chromium against a running server.

Prints, for the decoder the app ships and for the baseline (SAM's standard fp32 decoder
run as SAM's own web demo runs it: one thread, full-size output), measured in the same
run: decode time and click-to-mask-on-screen time (p50, p95) over clicks with 1, 3 and
6 points; embedding bytes and download time; time from opening an image to its first
mask, first visit and cached; and the same for the next image, reached with the → key
(the page switches in place; it prefetched that image's configuration, pixels and
embedding).

By default each click comes as soon as the last mask is on screen, sooner than the page
starts its exact decode (the fp32 re-decode that replaces the 8-bit mask, see
frontend/src/annotator/main.ts). With --pause-ms the script waits that long before each
click, as a person looks at the mask, so the exact decodes run between the clicks, as
they do for a person; each prompt then ends with Enter pressed as soon as its last mask
is on screen, and the script measures how long the save waited for the exact mask.

    .venv/bin/python scripts/bench_annotator.py --username U --password P --project ID

The project needs at least two encoded images. Loopback servers only; the run is bounded
by --prompts (per point count) and each wait by a timeout.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from typing import Any
from urllib.parse import urlsplit

from playwright.sync_api import sync_playwright

CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


class Session:
    def __init__(self, browser: Any, args: argparse.Namespace) -> None:
        self.args = args
        self.context = browser.new_context(viewport={"width": 1200, "height": 800})
        self.page = self.context.new_page()
        self.page.goto(f"{args.url}/accounts/login/")
        self.page.fill("input[name=username]", args.username)
        self.page.fill("input[name=password]", args.password)
        self.page.click("button[type=submit]")
        self.page.wait_for_load_state()

    def annotator_url(self, image_id: int, query: str) -> str:
        return f"{self.args.url}/projects/{self.args.project}/images/{image_id}/annotate/{query}"

    def wait_ready(self) -> None:
        self.page.wait_for_function(
            "() => document.getElementById('annotator-status').textContent.startsWith('Ready')",
            timeout=120_000,
        )

    def image_size(self) -> tuple[int, int]:
        header = self.page.locator("header span").first.text_content() or "1×1"
        width, height = header.split("×")
        return int(width), int(height)

    def screen(self, x: float, y: float) -> tuple[float, float]:
        width, height = self.image_size()
        box = self.page.locator("#annotator-stage").bounding_box()
        scale = min(box["width"] / width, box["height"] / height)
        return (box["x"] + (box["width"] - width * scale) / 2 + x * scale,
                box["y"] + (box["height"] - height * scale) / 2 + y * scale)  # fmt: skip

    def click(self, x: float, y: float, button: str = "left") -> None:
        # Waits for the page's decode counter to change without polling the page: a
        # wait_for_function polls on every animation frame, which keeps the page drawing
        # frames and takes CPU from the decoder on a 2-core machine; a person's page is
        # idle while the decoder runs.
        self.page.evaluate(
            """() => { const stage = document.getElementById('annotator-stage');
                window.__benchDecoded = new Promise((resolve, reject) => {
                    new MutationObserver((_, o) => { o.disconnect(); resolve(); })
                        .observe(stage, {attributeFilter: ['data-decodes']});
                    setTimeout(() => reject(new Error('no mask within 60 s')), 60000);
                }); }"""
        )
        self.page.mouse.click(*self.screen(x, y), button=button)
        self.page.evaluate("window.__benchDecoded")

    def durations(self, name: str) -> list[float]:
        return self.page.evaluate(f"performance.getEntriesByName('{name}').map(m => m.duration)")

    def save(self) -> None:
        """Enter, then until the page lists one more annotation."""
        rows = self.page.locator("#annotator-annotations li").count()
        self.page.keyboard.press("Enter")
        self.page.wait_for_function(
            f"() => document.querySelectorAll('#annotator-annotations li').length > {rows}",
            polling=20,
        )

    def measures(self) -> list[dict[str, float]]:
        return self.page.evaluate(
            """() => performance.getEntriesByName('samlabel:click-to-mask').map(m => (
                {total: m.duration, decode: m.detail.decodeMs, points: m.detail.points}))"""
        )

    def embedding_resource(self) -> dict[str, float]:
        return self.page.evaluate(
            """() => { const e = performance.getEntriesByType('resource')
                  .filter(r => r.name.endsWith('/embedding')).pop();
                return e ? {bytes: e.encodedBodySize, ms: e.duration} : {bytes: 0, ms: 0}; }"""
        )

    def start_timings(self) -> dict[str, float]:
        """In the page: ms from navigation start to DOMContentLoaded and to clickable
        (``samlabel:ready``), and the decoder worker's own start phases."""
        return self.page.evaluate(
            """() => { const nav = performance.getEntriesByType('navigation')[0];
                const ready = performance.getEntriesByName('samlabel:ready')[0];
                const worker = performance.getEntriesByName('samlabel:decoder-ready')[0];
                return {loaded: nav.domContentLoadedEventEnd, ready: ready.startTime,
                        ...(worker ? worker.detail : {})}; }"""
        )

    def open_to_first_mask(self, image_id: int, query: str) -> float:
        """ms from starting to open the page to the first click's mask on screen."""
        start = time.perf_counter()
        self.page.goto(self.annotator_url(image_id, query))
        self.wait_ready()
        width, height = self.image_size()
        self.page.mouse.move(*self.screen(width * 0.31, height * 0.47))
        self.click(width * 0.3, height * 0.45)
        return 1000 * (time.perf_counter() - start)


def run_config(browser: Any, args: argparse.Namespace, images: list[int], query: str) -> dict:
    out: dict[str, Any] = {}
    s = Session(browser, args)
    out["first visit: open → first mask (ms)"] = s.open_to_first_mask(images[0], query)
    emb = s.embedding_resource()
    out["embedding bytes"] = emb["bytes"]
    out["embedding download, first visit (ms)"] = emb["ms"]
    first = s.start_timings()
    out["cached: open → first mask (ms)"] = s.open_to_first_mask(images[0], query)
    cached = s.start_timings()
    for visit, t in (("first visit", first), ("cached", cached)):
        out[f"{visit}: page loaded → ready to click, in the page (ms)"] = t["ready"] - t["loaded"]
        out[f"{visit}: navigation → ready to click, in the page (ms)"] = t["ready"]
        if "firstSessionMs" in t:
            phases = [t["firstSessionMs"], t["decoderSessionMs"], t["warmUpMs"]]
            out[f"{visit}: worker: first session / decoder session / warm-up (ms)"] = " / ".join(
                f"{p:,.0f}" for p in phases
            )

    width, height = s.image_size()
    rng = __import__("random").Random(7)
    s.page.evaluate("performance.clearMeasures()")
    for n_points in (1, 3, 6):
        for _ in range(args.prompts):
            s.page.keyboard.press("Escape")
            for i in range(n_points):
                x = width * rng.uniform(0.2, 0.8)
                y = height * rng.uniform(0.2, 0.8)
                time.sleep(args.pause_ms / 1000)
                # Move there first: like a person, the cursor rests before the click.
                s.page.mouse.move(*s.screen(x + 3, y + 3))
                s.click(x, y, "left" if i % 3 != 2 else "right")
            if args.pause_ms:
                s.save()
    for name, key in (
        ("samlabel:exact-decode", "exact decode, asked → answered (ms)"),
        ("samlabel:enter-to-mask", "Enter right after the last mask → mask to save (ms)"),
    ):
        if values := s.durations(name):
            out[key] = values
    for m in s.measures():
        key = int(m["points"])
        if key not in (1, 3, 6):
            continue  # the clicks on the way to 3 or 6 points
        out.setdefault(f"decode ms, {key} point(s)", []).append(m["decode"])
        out.setdefault(f"click → mask on screen ms, {key} point(s)", []).append(m["total"])

    # The next images: their configuration, pixels and embedding were prefetched while
    # the one before was open (a person spends more than the 1.5 s waited here on each).
    # The → key switches in place, as a user does: from the key press to the first
    # click's mask on screen; the page also measures key → clickable itself.
    for following in images[1:]:
        time.sleep(1.5)
        s.page.evaluate("performance.clearMeasures('samlabel:click-to-mask')")
        start = time.perf_counter()
        s.page.keyboard.press("ArrowRight")
        # The address and the status change together when the page switches.
        s.page.wait_for_url(f"**/images/{following}/annotate/**")
        s.wait_ready()
        w2, h2 = s.image_size()
        s.page.mouse.move(*s.screen(w2 * 0.5 + 2, h2 * 0.5 + 2))
        s.click(w2 * 0.5, h2 * 0.5)
        total = 1000 * (time.perf_counter() - start)
        clickable = s.page.evaluate(
            "performance.getEntriesByName('samlabel:switch-to-clickable').pop()?.duration ?? NaN"
        )
        # The page records the measure in the frame after the mask is drawn, which can
        # come after the decode counter the click waited for.
        s.page.wait_for_function(
            "() => performance.getEntriesByName('samlabel:click-to-mask').length > 0"
        )
        first_mask = s.measures()[0]["total"]
        for key, value in (
            ("→ first mask, driven by Playwright", total),
            ("→ clickable, in the page", clickable),
            ("its first click → mask on screen, in the page", first_mask),
            ("the two in the page", clickable + first_mask),
        ):
            out.setdefault(f"next image (prefetched): {key} (ms)", []).append(value)
    s.context.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--url", default="http://127.0.0.1:8000")
    parser.add_argument("--username", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--project", type=int, required=True)
    parser.add_argument(
        "--images", type=int, nargs="+", help="encoded image ids, in the project's order"
    )
    parser.add_argument("--next", type=int, default=5, help="how many times to press → (default 5)")
    parser.add_argument(
        "--also",
        nargs="*",
        default=[],
        metavar="DECODER:THREADS",
        help="more decoders of the manifest to measure, e.g. lowres_fp32:2, or the "
        "annotator's query for the shipped one, e.g. ?refine=0 (no exact decodes)",
    )
    parser.add_argument(
        "--pause-ms",
        type=int,
        default=0,
        help="wait before each click, as a person looks at the mask, and save each prompt",
    )
    parser.add_argument(
        "--prompts",
        type=int,
        default=34,
        help="prompts per point count (34 × (1+3+6) = 340 clicks)",
    )
    args = parser.parse_args(argv)
    host = urlsplit(args.url).hostname or ""
    if not (host == "localhost" or host.startswith("127.") or host == "::1"):
        parser.error("the benchmark only drives servers on this machine (loopback)")

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path="/usr/bin/chromium",
                                             headless=True, args=CHROMIUM_ARGS)  # fmt: skip
        images = args.images
        if not images:
            s = Session(browser, args)
            listing = s.page.request.get(
                f"{args.url}/api/projects/{args.project}/images/?status=ready"
            ).json()
            images = [item["id"] for item in listing["results"][: args.next + 1]]
            s.context.close()
        if len(images) < 2:
            parser.error("the project needs two encoded images")
        configs = {
            "shipped (manifest's browser decoder, 2 threads if isolated)": "",
            "baseline (standard fp32, 1 thread, full-size output)": "?decoder=fp32&threads=1",
        }
        for extra in args.also:
            if extra.startswith("?"):  # the annotator's own query, as is
                configs[f"shipped, {extra}"] = extra
                continue
            decoder, _, threads = extra.partition(":")
            query = f"?decoder={decoder}" + (f"&threads={threads}" if threads else "")
            configs[f"{decoder}, {threads or 'auto'} thread(s)"] = query
        results = {name: run_config(browser, args, images, q) for name, q in configs.items()}
        version = browser.version
        browser.close()

    print(f"Machine: {platform.processor() or platform.machine()}, "
          f"{__import__('os').cpu_count()} cores; headless Chromium {version}\n")  # fmt: skip
    names = list(results)
    print("| measure | " + " | ".join(names) + " |")
    print("|---|" + "---|" * len(names))
    for key in results[names[0]]:
        cells = []
        for name in names:
            value = results[name].get(key)
            if isinstance(value, list):
                p50, p95 = statistics.median(value), percentile(value, 0.95)
                cells.append(f"p50 {p50:.0f}, p95 {p95:.0f} (n={len(value)})")
            elif isinstance(value, str):
                cells.append(value)
            elif value is not None:
                cells.append(f"{value:,.0f}")
        print(f"| {key} | " + " | ".join(cells) + " |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
