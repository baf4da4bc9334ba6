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
  runs past :attr:`Limits.rule_seconds` is stopped with the process (which is then not
  used again);
- a cap on what the process may print.

Starting Pyodide costs seconds of processor time, so processes are kept warm
(:class:`RunnerPool`): one that finished a check waits for the next check of the same rule
set (one project's rules at one version, never another's), and a spare that has already
started waits for the next rule set. :func:`warm_spare` starts that spare ahead of the
first check (at a worker process's start, or once a web process sees a project with
custom rules), in the background, so that not even the first check after a deploy waits
for Pyodide. The same limits hold for every check a process serves.

A rule stopped for time, memory or output is named in :attr:`SandboxRun.stopped` and in a
warning on the image it was checking; the check then goes on without it from that image,
so the other rules are not affected. Python-side refusals (imports, files, processes,
printing) and a rule's own exceptions come back as warnings from the engine.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import queue
import resource
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import OrderedDict
from collections.abc import Hashable
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
    ``output_bytes``: what the process may print per image; ``warm_rule_sets``: how many
    rule sets keep a process waiting for their next check (0: every check starts a process
    of its own and none is kept, no spare either); ``reuse_checks``: checks a process
    serves before it is replaced."""

    rule_seconds: float = 2.0
    startup_seconds: float = 60.0
    python_mb: int = 512
    process_mb: int = 1280
    output_bytes: int = 1 << 20
    warm_rule_sets: int = 2
    reuse_checks: int = 100


@dataclass
class SandboxRun:
    """``problems[i]``: the problem dicts of image ``i`` in rule order;
    ``stopped``: rule name -> why it was stopped (it did not run after that)."""

    problems: list[list[dict[str, Any]]]
    stopped: dict[str, str] = field(default_factory=dict)
    attempts: int = 0
    pids: list[int] = field(default_factory=list)  # the runner process of each attempt


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
    key: Hashable | None = None,
    node: str | None = None,
    pyodide_dir: Path | None = None,
) -> SandboxRun:
    """Check ``images`` (``ImageData.to_dict()`` shapes) with every rule of ``spec``,
    custom ones included. Raises :class:`SandboxUnavailable` when nothing could run.

    ``key`` names the rule set (the project and its rules' version): a process that
    finished a check of the same key and limits is used again (see :class:`Limits`),
    so that only the first check pays for Pyodide's start. None: a process of its own,
    ended after the check."""
    limits = limits or Limits()
    node_path = _node(node)
    pyodide = _pyodide(pyodide_dir)
    rules = list(spec.get("rules", []))
    order = {r["name"]: n for n, r in enumerate(rules)}
    result = SandboxRun(problems=[[] for _ in images])
    failures: list[tuple[int, dict[str, Any]]] = []
    start = 0
    first_key = key
    while rules and (start < len(images) or result.attempts == 0):
        result.attempts += 1
        # After a stop the rule set is not the one named by ``key`` any more.
        runner = POOL.checkout(
            first_key if result.attempts == 1 else None, node_path, pyodide, limits
        )
        attempt = runner.check({**spec, "rules": rules}, images[start:], limits)
        result.pids.append(runner.pid)
        POOL.checkin(runner, reusable=attempt.finished)
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


class _Runner:
    """One sandboxed ``node`` process running ``run_rules.mjs``: it starts Pyodide as soon
    as it is made, then checks one request at a time (:meth:`check`) until it is closed,
    stopped for a limit, or its input ends. Two threads turn its output into events."""

    def __init__(self, node: str, pyodide: Path | str, limits: Limits) -> None:
        self.owner = os.getpid()
        self.checks = 0
        self.key: Hashable | None = None
        self.spawned = time.monotonic()
        self.ready = False
        self.started = threading.Event()  # set when the runner says Pyodide is ready
        self.events: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.limits = limits
        self.base: tuple[str, str, Limits] = (node, str(pyodide), limits)
        self._empty = tempfile.TemporaryDirectory(prefix="samlabel-rules-")
        self.process = subprocess.Popen(
            [*_namespace_prefix(), node, *_node_flags(pyodide, limits), str(RUNNER), str(pyodide)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=self._empty.name,
            env={},
            start_new_session=True,
            preexec_fn=_child_limits,
        )
        self.pid = self.process.pid
        assert self.process.stdout and self.process.stderr
        self._readers = [
            threading.Thread(target=self._read_out, args=(self.process.stdout,), daemon=True),
            threading.Thread(target=self._read_err, args=(self.process.stderr,), daemon=True),
        ]
        for thread in self._readers:
            thread.start()
        self._send(json.dumps({"package": _package_sources()}).encode() + b"\n")

    def alive(self) -> bool:
        return self.process.poll() is None and self.owner == os.getpid()

    def _send(self, data: bytes) -> None:
        def feed() -> None:
            try:
                assert self.process.stdin
                self.process.stdin.write(data)
                self.process.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

        threading.Thread(target=feed, daemon=True).start()

    def _read_out(self, pipe: IO[bytes]) -> None:
        for raw in iter(lambda: pipe.readline(self.limits.output_bytes + 1), b""):
            if not raw.endswith(b"\n"):
                self.events.put(("overflow", None))
                return
            self.events.put(("line", raw))
        self.events.put(("closed", None))

    def _read_err(self, pipe: IO[bytes]) -> None:
        for raw in iter(lambda: pipe.readline(4096), b""):
            text = raw.decode("utf-8", "replace").rstrip("\n")
            if text.startswith("@ "):
                _, image, rule = text.split()
                self.events.put(("mark", (int(image), int(rule))))
            elif text == "ready":
                self.started.set()
                self.events.put(("ready", None))
            elif text.startswith("! "):
                self.events.put(("error", text[2:][:500]))
            elif text.strip():
                self.events.put(("noise", text[:500]))

    def check(self, spec: dict[str, Any], images: list[dict[str, Any]], limits: Limits) -> _Attempt:
        """Send one request and watch it: the clock is ``startup_seconds`` until Pyodide is
        ready and the request read, then ``rule_seconds`` from each rule's start."""
        self.checks += 1
        self._send(json.dumps({"spec": spec, "images": images}).encode() + b"\n")
        marked = self.spawned if not self.ready else time.monotonic()
        started = False
        at: tuple[int, int] | None = None
        lines: dict[int, list[dict[str, Any]]] = {}
        errors: list[str] = []
        noise: list[str] = []  # what else node wrote (an uncaught error's trace)
        budget = limits.output_bytes * max(len(images), 1) + 4096
        reason = ""
        closed = False
        while True:
            try:
                kind, value = self.events.get(timeout=0.02)
            except queue.Empty:
                kind, value = "", None
            if kind == "ready":
                self.ready, marked = True, time.monotonic()
            elif kind == "mark":
                at, started, marked = value, True, time.monotonic()
            elif kind == "error":
                errors.append(value)
            elif kind == "noise":
                noise.append(value)
            elif kind == "closed":
                closed = True
            elif kind == "overflow":
                budget = -1
            elif kind == "line":
                budget -= len(value)
                if budget >= 0:
                    message = json.loads(value)
                    if message.get("done"):
                        return _Attempt(lines, True)
                    lines[int(message["i"])] = message["problems"]
            allowed = limits.rule_seconds if started else limits.startup_seconds
            if time.monotonic() - marked > allowed:
                reason = (
                    f"it ran longer than {limits.rule_seconds:g} s"
                    if started
                    else f"Pyodide did not start within {limits.startup_seconds:g} s"
                )
            elif budget < 0:
                reason = f"it wrote more than {limits.output_bytes:,} bytes of results"
            elif (rss := _resident_mb(self.pid)) > limits.process_mb:
                reason = f"its process used more than {limits.process_mb} MB ({rss} MB)"
            elif closed and self.process.poll() is not None and self.events.empty():
                break
            if reason:
                break
        self.close()
        if not reason:
            reason = errors[-1] if errors else self._exit_reason(noise)
            if self.process.returncode and self.process.returncode < 0:
                reason = f"the runner was killed by signal {-self.process.returncode}"
        return _Attempt(
            lines,
            False,
            image=None if at is None else at[0],
            rule=None if at is None else at[1],
            reason=reason,
        )

    def _exit_reason(self, noise: list[str]) -> str:
        said = f" ({' | '.join(noise[-8:])})" if noise else ""
        return f"the runner exited with status {self.process.returncode}{said}"

    def close(self) -> None:
        """Stop the process (its whole group) and wait for it; nothing if another process
        (a fork's parent) owns it."""
        if self.owner != os.getpid():
            return
        if self.process.poll() is None:
            _kill(self.process)
        self.process.wait()
        for thread in self._readers:
            thread.join(timeout=5)
        for pipe in (self.process.stdin, self.process.stdout, self.process.stderr):
            with contextlib.suppress(OSError, ValueError):
                if pipe:
                    pipe.close()
        self._empty.cleanup()


class RunnerPool:
    """This process's warm runners: at most ``Limits.warm_rule_sets`` processes that
    finished a check and wait for the next of the same rule set, and one spare that has
    started Pyodide (no rule set given to it yet) and serves the next rule set that has
    none. A check that takes the spare starts the next one when it ends; :meth:`warm`
    starts one before any check.

    A process serves one rule set (one ``key``) only, so what a rule leaves behind in its
    interpreter reaches later checks of the same rules, never another project's: a spare
    becomes a rule set's own when a check takes it and never goes back to being a spare.
    A process is ended after a rule was stopped (time, memory, output), after
    ``reuse_checks`` checks, and when its memory passed half of ``process_mb``. After a
    fork (the worker's pool) the child starts its own.

    ``cold_starts`` counts the checks that had to start a process (no warm runner of
    their rule set, no spare); ``spare_starts`` the spares started."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._owner = os.getpid()
        self._idle: OrderedDict[tuple[Any, ...], _Runner] = OrderedDict()
        self._spares: dict[tuple[Any, ...], _Runner] = {}
        self._warming = False
        self._warm_thread: threading.Thread | None = None
        self._generation = 0  # close_all() and forks make spares started before stale
        self.cold_starts = 0
        self.spare_starts = 0

    def _mine(self) -> None:
        if self._owner != os.getpid():
            self._owner, self._idle, self._spares = os.getpid(), OrderedDict(), {}
            self._warming = False
            self._generation += 1

    def warm(self, node: str, pyodide: Path, limits: Limits) -> threading.Thread | None:
        """Start a spare for ``limits`` in a background thread unless one is there or
        starting (at most one spare per process), or ``limits`` keep no warm runners.
        Returns the thread (join it to know the process was started; :meth:`spare_ready`
        waits for Pyodide), None when there was nothing to do. Never waits itself."""
        if limits.warm_rule_sets <= 0:
            return None
        base: tuple[Any, ...] = (node, str(pyodide), limits)
        with self._lock:
            self._mine()
            spare = self._spares.get(base)
            if self._warming or (spare is not None and spare.alive()):
                return None
            self._warming = True
            generation = self._generation
        thread = threading.Thread(
            target=self._start_spare, args=(base, generation), name="rules-spare", daemon=True
        )
        self._warm_thread = thread
        thread.start()
        return thread

    def _start_spare(self, base: tuple[Any, ...], generation: int) -> None:
        runner: _Runner | None = None
        closing: list[_Runner] = []
        try:
            runner = _Runner(*base)
        except (OSError, subprocess.SubprocessError, SandboxUnavailable):
            pass  # node could not start: the first check says why
        finally:
            with self._lock:
                if self._generation == generation and self._owner == os.getpid():
                    self._warming = False
                    if runner is not None:
                        self.spare_starts += 1
                        closing.extend(self._spares.values())
                        self._spares = {base: runner}
                elif runner is not None:
                    closing.append(runner)  # the pool was closed (or forked) meanwhile
        for old in closing:
            old.close()

    def spare_ready(self, timeout: float) -> bool:
        """Whether this process's spare has started Pyodide, waiting up to ``timeout``
        seconds for it (one that :meth:`warm` is starting too; for tests and benchmarks)."""
        deadline = time.monotonic() + timeout
        starting = self._warm_thread
        if starting is not None and self._owner == os.getpid():
            starting.join(timeout)
        with self._lock:
            self._mine()
            spares = list(self._spares.values())
        return bool(spares) and spares[0].started.wait(max(deadline - time.monotonic(), 0))

    def spare_pid(self) -> int | None:
        """The process id of this process's spare, if there is one."""
        with self._lock:
            self._mine()
            return next((r.pid for r in self._spares.values()), None)

    def checkout(self, key: Hashable | None, node: str, pyodide: Path, limits: Limits) -> _Runner:
        base: tuple[Any, ...] = (node, str(pyodide), limits)
        with self._lock:
            self._mine()
            if key is not None:
                runner = self._idle.pop((key, *base), None)
                if runner is not None and runner.alive():
                    return runner
                if runner is not None:
                    runner.close()
            spare = self._spares.pop(base, None)
        if spare is not None and spare.alive():
            spare.key = key  # from now on this rule set's own, never a spare again
            return spare
        if spare is not None:
            spare.close()
        runner = _Runner(node, pyodide, limits)
        runner.key = key
        with self._lock:
            self.cold_starts += 1
        return runner

    def checkin(self, runner: _Runner, *, reusable: bool) -> None:
        """Keep ``runner`` for its rule set's next check when it may serve again; make sure
        a spare is starting for the next rule set."""
        limits = runner.limits
        keep = (
            reusable
            and runner.key is not None
            and limits.warm_rule_sets > 0
            and runner.checks < limits.reuse_checks
            and runner.alive()
            and _resident_mb(runner.pid) <= limits.process_mb // 2
        )
        closing: list[_Runner] = []
        with self._lock:
            self._mine()
            full = (runner.key, *runner.base)
            if keep and full not in self._idle:
                self._idle[full] = runner
                while len(self._idle) > limits.warm_rule_sets:
                    closing.append(self._idle.popitem(last=False)[1])
            else:
                closing.append(runner)
            if limits.warm_rule_sets > 0 and runner.base not in self._spares and not self._warming:
                # One spare: those made for other limits (a test's, a setting changed) go.
                closing.extend(self._spares.values())
                self._spares = {runner.base: _Runner(*runner.base)}
                self.spare_starts += 1
        for old in closing:
            old.close()

    def close_all(self) -> None:
        """End every runner of this process (at exit; tests between cases); a spare
        still starting is ended as soon as it is made."""
        with self._lock:
            runners = [*self._idle.values(), *self._spares.values()]
            self._idle, self._spares = OrderedDict(), {}
            self._warming = False
            self._generation += 1
        for runner in runners:
            runner.close()


POOL = RunnerPool()
atexit.register(POOL.close_all)


def warm_spare(
    limits: Limits | None = None, *, node: str | None = None, pyodide_dir: Path | None = None
) -> threading.Thread | None:
    """Start this process's spare runner in the background (see :meth:`RunnerPool.warm`)
    so that the next check does not wait for Pyodide's start; None when one is there or
    starting already, when ``limits`` keep no warm runners, or when Node.js or Pyodide is
    missing (the check itself then says so). Returns at once."""
    try:
        node_path, pyodide = _node(node), _pyodide(pyodide_dir)
    except SandboxUnavailable:
        return None
    return POOL.warm(node_path, pyodide, limits or Limits())


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


def _node_flags(pyodide: Path | str, limits: Limits) -> list[str]:
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
