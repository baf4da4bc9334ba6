"""Runs a rule set in Pyodide under Node.js, in a process of its own, with limits.

Rule code written by project managers is not trusted, so it never runs in the web app's or
the worker's Python. :func:`run_sandboxed` starts ``node`` on
``runner/run_rules.mjs`` with:

- an empty environment and an empty temporary working folder;
- Node's permission model: it reads Pyodide's files and the runner script, nothing else;
  it writes no file, starts no process or worker, loads no native addon;
- no code generation from strings (``eval``, ``new Function``), so Python code that climbs
  into JavaScript cannot write new JavaScript;
- a network namespace of its own where the system allows one (``unshare -rn``: no
  interface but loopback, and that one down), so no socket reaches anything;
- a ceiling on Python's memory (WebAssembly pages: a rule that allocates too much gets a
  ``MemoryError``), on JavaScript's heap, and on the process's resident memory, watched
  from here; no core files and no file size (``RLIMIT_FSIZE`` 0);
- a clock per rule and image: the runner announces each rule as it starts, and one that
  runs past :attr:`Limits.rule_seconds` is stopped with the process;
- a cap on what the process may print.

A rule stopped for time, memory or output is named in :attr:`SandboxRun.stopped` and in a
warning on the image it was checking; the check then goes on without it from that image,
so the other rules are not affected. Python-side refusals (imports, files, processes,
printing) and a rule's own exceptions come back as warnings from the engine.
"""

from __future__ import annotations

import contextlib
import json
import os
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import IO, Any

import qualityrules

RUNNER = Path(__file__).resolve().parent / "runner" / "run_rules.mjs"
PACKAGE = Path(qualityrules.__file__).resolve().parent
WASM_PAGE = 64 * 1024


class SandboxUnavailable(RuntimeError):
    """Node.js or Pyodide is missing, or Pyodide did not start: no rule could run."""


@dataclass(frozen=True)
class Limits:
    """``rule_seconds``: one rule on one image (or a custom rule's module loading);
    ``startup_seconds``: Node.js and Pyodide starting; ``python_mb``: Python's heap
    (WebAssembly memory); ``process_mb``: the whole process's resident memory;
    ``output_bytes``: what the process may print per image."""

    rule_seconds: float = 2.0
    startup_seconds: float = 60.0
    python_mb: int = 512
    process_mb: int = 1280
    output_bytes: int = 1 << 20


@dataclass
class SandboxRun:
    """``problems[i]``: the problem dicts of image ``i`` in rule order;
    ``stopped``: rule name -> why it was stopped (it did not run after that)."""

    problems: list[list[dict[str, Any]]]
    stopped: dict[str, str] = field(default_factory=dict)
    attempts: int = 0


@dataclass
class _Attempt:
    lines: dict[int, list[dict[str, Any]]]
    finished: bool
    image: int | None = None  # where it stopped: -1 while loading modules
    rule: int | None = None
    reason: str = ""


def run_sandboxed(
    spec: dict[str, Any],
    images: list[dict[str, Any]],
    limits: Limits | None = None,
    *,
    node: str | None = None,
    pyodide_dir: Path | None = None,
) -> SandboxRun:
    """Check ``images`` (``ImageData.to_dict()`` shapes) with every rule of ``spec``,
    custom ones included. Raises :class:`SandboxUnavailable` when nothing could run."""
    limits = limits or Limits()
    node_path = _node(node)
    pyodide = _pyodide(pyodide_dir)
    rules = list(spec.get("rules", []))
    order = {r["name"]: n for n, r in enumerate(rules)}
    result = SandboxRun(problems=[[] for _ in images])
    failures: list[tuple[int, dict[str, Any]]] = []
    start = 0
    while rules and (start < len(images) or result.attempts == 0):
        result.attempts += 1
        attempt = _attempt(node_path, pyodide, {**spec, "rules": rules}, images[start:], limits)
        for index, problems in attempt.lines.items():
            result.problems[start + index] = problems
        if attempt.finished:
            break
        if attempt.rule is None or attempt.rule >= len(rules):
            raise SandboxUnavailable(f"the rules' sandbox failed: {attempt.reason}")
        # Stop the rule that was running, and check again without it from the image it
        # was on (a module that failed to load stops it before the first image).
        culprit = rules.pop(attempt.rule)
        result.stopped[culprit["name"]] = attempt.reason
        start += max(attempt.image or 0, 0)
        where = "while its module loaded" if attempt.image == -1 else "on this image"
        if start < len(images):
            failures.append(
                (
                    start,
                    {
                        "rule": culprit["name"],
                        "severity": "warning",
                        "message": f"the rule was stopped {where}: {attempt.reason}",
                        "annotation_ids": [],
                    },
                )
            )
            result.problems[start] = []
    for index, failure in failures:
        result.problems[index] = sorted(
            [*result.problems[index], failure], key=lambda p: order.get(p["rule"], len(order))
        )
    return result


def _attempt(
    node: str,
    pyodide: Path,
    spec: dict[str, Any],
    images: list[dict[str, Any]],
    limits: Limits,
) -> _Attempt:
    request = json.dumps(
        {
            "pyodide": str(pyodide),
            "package": _package_sources(),
            "spec": spec,
            "images": images,
        }
    ).encode()
    with tempfile.TemporaryDirectory(prefix="samlabel-rules-") as empty:
        process = subprocess.Popen(
            [*_namespace_prefix(), node, *_node_flags(pyodide, limits), str(RUNNER)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=empty,
            env={},
            start_new_session=True,
            preexec_fn=_child_limits,
        )
        return _watch(process, request, limits, len(images))


def _watch(
    process: subprocess.Popen[bytes], request: bytes, limits: Limits, count: int
) -> _Attempt:
    assert process.stdin and process.stdout and process.stderr
    state: dict[str, Any] = {"marked": time.monotonic(), "at": None, "started": False}
    lines: dict[int, list[dict[str, Any]]] = {}
    errors: list[str] = []
    out_budget = [limits.output_bytes * max(count, 1) + 4096]
    finished = threading.Event()

    def feed(pipe: IO[bytes]) -> None:
        try:
            pipe.write(request)
            pipe.close()
        except (BrokenPipeError, OSError):
            pass

    def read_out(pipe: IO[bytes]) -> None:
        for raw in iter(lambda: pipe.readline(limits.output_bytes + 1), b""):
            out_budget[0] -= len(raw)
            if out_budget[0] < 0 or not raw.endswith(b"\n"):
                state["overflow"] = True
                return
            message = json.loads(raw)
            if message.get("done"):
                finished.set()
            else:
                lines[int(message["i"])] = message["problems"]

    def read_err(pipe: IO[bytes]) -> None:
        for raw in iter(lambda: pipe.readline(4096), b""):
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if text.startswith("@ "):
                _, image, rule = text.split()
                state["at"] = (int(image), int(rule))
                state["marked"] = time.monotonic()
                state["started"] = True
            elif text.startswith("! "):
                errors.append(text[2:][:500])

    threads = [
        threading.Thread(target=feed, args=(process.stdin,), daemon=True),
        threading.Thread(target=read_out, args=(process.stdout,), daemon=True),
        threading.Thread(target=read_err, args=(process.stderr,), daemon=True),
    ]
    for thread in threads:
        thread.start()
    reason = ""
    while process.poll() is None:
        time.sleep(0.02)
        allowed = limits.rule_seconds if state["started"] else limits.startup_seconds
        if time.monotonic() - state["marked"] > allowed:
            reason = (
                f"it ran longer than {limits.rule_seconds:g} s"
                if state["started"]
                else f"Pyodide did not start within {limits.startup_seconds:g} s"
            )
        elif state.get("overflow"):
            reason = f"it wrote more than {limits.output_bytes:,} bytes of results"
        elif (rss := _resident_mb(process.pid)) > limits.process_mb:
            reason = f"its process used more than {limits.process_mb} MB ({rss} MB)"
        if reason:
            _kill(process)
            break
    process.wait()
    for thread in threads[1:]:
        thread.join(timeout=5)
    if finished.is_set() and not reason and process.returncode == 0:
        return _Attempt(lines, True)
    if not reason:
        reason = errors[-1] if errors else f"the runner exited with status {process.returncode}"
        if process.returncode and process.returncode < 0:
            reason = f"the runner was killed by signal {-process.returncode}"
    at = state["at"]
    return _Attempt(
        lines,
        False,
        image=None if at is None else at[0],
        rule=None if at is None else at[1],
        reason=reason,
    )


def _kill(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)


def _resident_mb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) // 1024
    except (OSError, ValueError):
        pass
    return 0


def _child_limits() -> None:
    """In the child before exec: no core dumps, no file of any size."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))


def _node_flags(pyodide: Path, limits: Limits) -> list[str]:
    return [
        "--no-warnings",
        "--experimental-permission",
        f"--allow-fs-read={pyodide}/",
        f"--allow-fs-read={RUNNER}",
        "--disallow-code-generation-from-strings",
        "--max-old-space-size=256",
        f"--wasm-max-mem-pages={limits.python_mb * (1 << 20) // WASM_PAGE}",
    ]


def _node(node: str | None) -> str:
    found = shutil.which(node or os.environ.get("SAMLABEL_NODE", "node"))
    if not found:
        raise SandboxUnavailable("Node.js was not found (set SAMLABEL_NODE to its path)")
    return found


def _pyodide(pyodide_dir: Path | None) -> Path:
    default = Path(__file__).resolve().parents[2] / "frontend" / "node_modules" / "pyodide"
    path = (pyodide_dir or Path(os.environ.get("SAMLABEL_PYODIDE_DIR", default))).resolve()
    if not (path / "pyodide.mjs").is_file():
        raise SandboxUnavailable(
            f"Pyodide was not found in {path} (run scripts/setup.sh, which installs it)"
        )
    return path


@cache
def _package_sources() -> dict[str, str]:
    return {
        f"qualityrules/{path.relative_to(PACKAGE)}": path.read_text()
        for path in sorted(PACKAGE.rglob("*.py"))
    }


@cache
def _namespace_prefix() -> tuple[str, ...]:
    """``unshare -rn`` (a network namespace of its own) where the system allows one;
    ``SAMLABEL_RULES_NETNS=0`` turns it off, ``=1`` requires it."""
    wanted = os.environ.get("SAMLABEL_RULES_NETNS", "auto")
    if wanted == "0":
        return ()
    unshare = shutil.which("unshare")
    works = False
    if unshare:
        probe = subprocess.run(
            [unshare, "-rn", "true"], capture_output=True, timeout=10, check=False
        )
        works = probe.returncode == 0
    if works:
        return (str(unshare), "-rn")
    if wanted == "1":
        raise SandboxUnavailable("SAMLABEL_RULES_NETNS=1 but `unshare -rn` does not work here")
    return ()
