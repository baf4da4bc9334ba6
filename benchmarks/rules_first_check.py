"""``python -m benchmarks.rules_first_check``: the first custom-rule check of a process
(issue 17), the check a submit waits for after a deploy, with and without the sandbox's
spare runner started ahead (``webapp.qualityrules.sandbox.warm_spare``).

Each round checks one image of 50 annotations with the quality rules benchmark's rule
set (four built-ins and one manager's Python rule, so the whole set runs in Pyodide under
Node.js) in a process pool emptied first:

- cold: no runner at all, the check starts Node.js and Pyodide (as before the spare);
- spare ready: ``warm_spare()`` was called (as the annotator's opening or the worker's
  start does) and Pyodide has started, as when the person labels for a while first;
- spare just started: the check comes right after ``warm_spare()`` (a submit within a
  second of opening the page), so it waits for what is left of the start.

Printed: the machine and its load before and after, each round's times and the medians,
and how long ``warm_spare()`` itself took (it must never hold a request).

    .venv/bin/python -m benchmarks.rules_first_check [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

from benchmarks.editing import blob_masks
from benchmarks.machine import cpu_name
from benchmarks.quality_rules import BUILTINS, CUSTOM
from inference import rle as codec
from webapp.qualityrules.sandbox import POOL, Limits, run_sandboxed, warm_spare

STARTUP_SECONDS = 180.0


def image_of(count: int) -> dict[str, Any]:
    """``ImageData.to_dict()`` of a 1024 x 768 image with ``count`` ellipses, half of them
    people (the custom rule then finds several)."""
    annotations = []
    for n, mask in enumerate(blob_masks(1024, 768, count, seed=17), start=1):
        encoded = codec.encode(mask.astype(bool))
        label = "person" if n % 2 else "thing"
        annotations.append(
            {"id": n, "label": label, "box": codec.bbox(encoded), "area": int(mask.sum()),
             "rle": encoded}
        )  # fmt: skip
    return {"width": 1024, "height": 768, "name": "bench.png", "annotations": annotations}


def load() -> str:
    return ", ".join(f"{x:.2f}" for x in os.getloadavg())


def timed_check(image: dict[str, Any], key: tuple[Any, ...]) -> float:
    spec = {"version": 1, "rules": [*BUILTINS, CUSTOM]}
    started = time.perf_counter()
    run = run_sandboxed(spec, [image], Limits(), key=key)
    elapsed = time.perf_counter() - started
    assert not run.stopped and run.problems[0], run
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    image = image_of(50)
    print(f"machine: {cpu_name()}; nproc {os.cpu_count()}; load average {load()} at the start")
    figures: dict[str, list[float]] = {"cold": [], "spare ready": [], "spare just started": []}
    warm_call: list[float] = []
    names = list(figures)
    for round_ in range(args.rounds):
        # Each round starts with another case, so that no case always follows the same.
        for name in names[round_ % 3 :] + names[: round_ % 3]:
            POOL.close_all()
            if name != "cold":
                began = time.perf_counter()
                starting = warm_spare(Limits())
                warm_call.append(time.perf_counter() - began)
                assert starting is not None, "no spare could be started"
                starting.join()  # the process is there (Popen), Pyodide starting in it
                if name == "spare ready" and not POOL.spare_ready(STARTUP_SECONDS):
                    raise SystemExit("the spare did not start Pyodide in time")
            seconds = timed_check(image, ("bench", round_, name))
            figures[name].append(seconds)
            print(f"round {round_ + 1}, {name}: {seconds:.2f} s (load {load()})", flush=True)
    POOL.close_all()
    for name, times in figures.items():
        listed = ", ".join(f"{t:.2f}" for t in times)
        print(f"first check, {name}: median {statistics.median(times):.2f} s ({listed})")
    print(f"warm_spare() call itself: at most {max(warm_call) * 1000:.1f} ms")
    print(f"load average {load()} at the end")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
