"""Polygon mode's drag in headless Chromium: frames per second while a vertex of a
2,000-vertex polygon is dragged, and what one frame costs.

The page is the annotator's own polygon layer and editing state
(``frontend/src/annotator/polygon-bench.ts`` bundles ``PolygonLayer`` and ``PolygonEdit``
over a stand-in for the view), on a mask whose outline simplifies to about 2,000
vertices. The drag is real input: Playwright presses on the vertex and moves the mouse
for ``--seconds``, as fast as Chromium takes the moves; the layer draws at most once per
animation frame. Printed: frames drawn per second during the drag, the draw's time per
frame (p50, p95, max), the trace and the rasterisation a release costs, and the
machine's load.

    .venv/bin/python -m benchmarks.polygon_edit [--vertices 2000] [--seconds 5]
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.machine import cpu_name

ROOT = Path(__file__).resolve().parents[1]
FRONTEND = ROOT / "frontend"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-gpu",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]  # fmt: skip
PAGE = """<!doctype html><meta charset="utf-8">
<style>html, body { margin: 0; height: 100%; background: #1d1f21; }
#stage { position: relative; width: 920px; height: 760px; overflow: hidden; }</style>
<div id="stage"></div><script src="polygon-bench.js"></script>
"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def bundle(out: Path) -> None:
    """The bench page's script, bundled by the front end's esbuild (a classic script:
    Chromium refuses module scripts from file:// pages)."""
    subprocess.run(
        [str(FRONTEND / "node_modules" / ".bin" / "esbuild"),
         str(FRONTEND / "src" / "annotator" / "polygon-bench.ts"), "--bundle", "--format=iife",
         "--target=es2022", f"--outfile={out / 'polygon-bench.js'}", "--log-level=warning"],
        check=True,
    )  # fmt: skip
    (out / "index.html").write_text(PAGE)


def drag(page: Any, seconds: float, in_page: bool) -> dict[str, Any]:
    """Presses on the bench's vertex (real input), moves it around a small circle for
    ``seconds``, releases; the frames drawn per second meanwhile and their draw times
    (ms). ``in_page``: one move per animation frame, dispatched in the page (the most
    a display asks for); else real mouse moves sent by Playwright as fast as they go
    (each waits for the page, so on a loaded machine they come slower than frames)."""
    x0, y0 = page.evaluate("() => window.polygonBench.vertexScreen")
    page.evaluate("() => performance.clearMeasures('samlabel:polygon-draw')")
    page.mouse.move(x0, y0)
    page.mouse.down()
    if in_page:
        result = page.evaluate(
            """([x0, y0, seconds]) => new Promise((resolve) => {
                const layer = document.querySelector('.polygon-layer');
                const before = window.polygonBench.draws();
                let t0 = null;
                let moves = 0;
                const step = (now) => {
                    if (t0 === null) t0 = now;
                    const t = (now - t0) / 1000;
                    if (t >= seconds) {
                        resolve({draws: window.polygonBench.draws() - before, moves, elapsed: t});
                        return;
                    }
                    const a = t * 2 * Math.PI;
                    layer.dispatchEvent(new PointerEvent('pointermove', {bubbles: true,
                        pointerId: 1, pointerType: 'mouse', isPrimary: true,
                        clientX: x0 + 40 * Math.cos(a) - 40, clientY: y0 + 40 * Math.sin(a)}));
                    moves++;
                    requestAnimationFrame(step);
                };
                requestAnimationFrame(step);
            })""",
            [x0, y0, seconds],
        )
        draws, moves, duration = result["draws"], result["moves"], result["elapsed"]
    else:
        draws_before = page.evaluate("() => window.polygonBench.draws()")
        moves = 0
        started = time.perf_counter()
        while (elapsed := time.perf_counter() - started) < seconds:
            angle = elapsed * 2 * math.pi
            page.mouse.move(x0 + 40 * math.cos(angle) - 40, y0 + 40 * math.sin(angle))
            moves += 1
        draws = page.evaluate("() => window.polygonBench.draws()") - draws_before
        duration = time.perf_counter() - started
    page.mouse.up()
    times = page.evaluate(
        "() => performance.getEntriesByName('samlabel:polygon-draw')"
        ".filter((e) => e.detail && e.detail.dragging).map((e) => e.duration)"
    )
    return {"fps": draws / duration, "moves": moves / duration, "times": times or [0.0]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vertices", type=int, default=2000, help="vertices to drag among")
    parser.add_argument("--size", type=int, default=2000, help="the square image's side (px)")
    parser.add_argument("--seconds", type=float, default=5.0, help="how long each drag lasts")
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    load_before = os.getloadavg()
    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load average before: "
          + " ".join(f"{v:.2f}" for v in load_before))  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        out = Path(tmp)
        bundle(out)
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            for zoom in ("fit", "1"):
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                page.on("pageerror", lambda error: print(f"page error: {error}"))
                page.goto(
                    f"file://{out}/index.html?width={args.size}&height={args.size}"
                    f"&vertices={args.vertices}&zoom={zoom}",
                    wait_until="commit",
                )
                page.wait_for_function("() => window.polygonBench !== undefined", timeout=120_000)
                info = page.evaluate(
                    "() => ({vertices: window.polygonBench.vertices, rings: "
                    "window.polygonBench.rings, zoom: window.polygonBench.zoom, tolerance: "
                    "window.polygonBench.tolerance, traceMs: "
                    "window.polygonBench.traceMs, rasteriseMs: window.polygonBench.rasteriseMs})"
                )
                for in_page in (True, False):
                    result = drag(page, args.seconds, in_page)
                    times = result["times"]
                    print(
                        f"zoom {zoom} ({info['zoom']:.3f} screen px per image px), "
                        f"{info['vertices']} vertices in {info['rings']} ring(s) "
                        f"(tolerance {info['tolerance']:.2f} px), "
                        f"{args.size}x{args.size} image, "
                        + ("a move per frame in the page: " if in_page else "real mouse moves: ")
                        + f"{result['fps']:.1f} frames/s while dragging "
                        f"({result['moves']:.0f} moves/s); "
                        f"draw p50 {statistics.median(times):.2f} ms, "
                        f"p95 {percentile(times, 0.95):.2f} ms, max {max(times):.2f} ms "
                        f"over {len(times)} frames"
                    )
                print(
                    f"zoom {zoom}: on release the rings are rasterised in "
                    f"{info['rasteriseMs']:.0f} ms; opening traced the mask in "
                    f"{info['traceMs']:.0f} ms"
                )
                page.close()
        finally:
            browser.close()
    print("load average after: " + " ".join(f"{v:.2f}" for v in os.getloadavg()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
