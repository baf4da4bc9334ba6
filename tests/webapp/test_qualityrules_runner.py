"""The sandboxed runner (Pyodide under Node.js, a process of its own) with hostile rules,
and the same problems from it as from native CPython on the shared vectors.

One run checks two images with every hostile rule beside the built-ins (starting Pyodide
costs seconds); each test then reads what one rule got, and that the built-ins' problems
are untouched."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from qualityrules.engine import run_rules
from qualityrules.model import ImageData
from qualityrules.ruleset import rules_from_spec
from tests.qualityrules.vectors import BUILTIN_SPEC, random_images
from webapp.qualityrules.sandbox import Limits, SandboxRun, SandboxUnavailable, run_sandboxed

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is required")

HOST_FILE = Path(__file__).resolve()

# Reaches the real ``sys`` through object subclasses, past the restricted imports.
ESCAPE = """
def real_sys():
    for cls in ().__class__.__base__.__subclasses__():
        scope = getattr(getattr(cls, "__init__", None), "__globals__", None)
        if isinstance(scope, dict) and hasattr(scope.get("sys"), "modules"):
            return scope["sys"]
"""

HOSTILE = {
    "endless_loop": "def check(image):\n    while True:\n        pass\n",
    "catches_everything": (
        "def check(image):\n    while True:\n        try:\n            pass\n"
        "        except BaseException:\n            pass\n"
    ),
    # 1.5 GB at once, past the 512 MB that Python may use in the sandbox.
    "huge_allocation": "def check(image):\n    return [warning(str(len(bytearray(3 << 29))))]\n",
    "import_os": "import os\ndef check(image):\n    os.system('touch /tmp/owned')\n",
    "import_subprocess": "def check(image):\n    import subprocess\n    subprocess.run(['id'])\n",
    "import_socket": "def check(image):\n    import socket\n"
    "    socket.create_connection(('127.0.0.1', 5432))\n",
    "escaped_os_system": ESCAPE
    + "def check(image):\n    real_sys().modules['os'].system('touch /tmp/owned')\n",
    "escaped_socket": ESCAPE
    + "def check(image):\n    importlib = real_sys().modules['importlib']\n"
    "    importlib.import_module('socket').socket().connect(('127.0.0.1', 5432))\n",
    "escaped_open": ESCAPE
    + f"def check(image):\n    real_sys().modules['builtins'].open({str(HOST_FILE)!r}).read()\n",
    "escaped_js_process": ESCAPE
    + "def check(image):\n    js = real_sys().modules['importlib'].import_module('js')\n"
    "    js.process.kill(1)\n",
    "escaped_host_mount": ESCAPE
    + "def check(image):\n    module = real_sys().modules['pyodide_js']._module\n"
    "    module.FS.mkdir('/host')\n"
    "    module.FS.mount(module.FS.filesystems.NODEFS, {'root': '/'}, '/host')\n"
    f"    return [warning(module.FS.readFile('/host{HOST_FILE}', {{'encoding': 'utf8'}}))]\n",
    "prints_megabytes": "def check(image):\n    for _ in range(100):\n"
    "        print('x' * 1_000_000)\n",
    "raises": "def check(image):\n    return [1 / 0]\n",
}


@pytest.fixture(scope="module")
def images() -> list[dict[str, Any]]:
    return random_images(2, 11)


@pytest.fixture(scope="module")
def hostile_run(images: list[dict[str, Any]]) -> SandboxRun:
    rules = [
        *BUILTIN_SPEC["rules"][:4],
        *({"name": name, "source": source} for name, source in HOSTILE.items()),
        *BUILTIN_SPEC["rules"][4:],
    ]
    return run_sandboxed({"version": 1, "rules": rules}, images, Limits(rule_seconds=3))


def messages(run: SandboxRun, rule: str) -> list[str]:
    return [p["message"] for image in run.problems for p in image if p["rule"] == rule]


def native(images: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    rules = rules_from_spec(BUILTIN_SPEC, custom_rules=False)
    return [run_rules(ImageData.from_dict(image), rules) for image in images]


def test_builtins_give_the_same_problems_in_pyodide_as_natively() -> None:
    images = random_images(40, 7)

    run = run_sandboxed(BUILTIN_SPEC, images)

    assert run.problems == native(images)
    assert sum(len(p) for p in run.problems) > 40  # the vectors do find problems
    assert run.stopped == {}


def test_the_other_rules_are_not_affected_by_hostile_ones(
    hostile_run: SandboxRun, images: list[dict[str, Any]]
) -> None:
    builtins = {r["name"] for r in BUILTIN_SPEC["rules"]}

    kept = [[p for p in image if p["rule"] in builtins] for image in hostile_run.problems]

    assert kept == native(images)


def test_an_endless_loop_is_stopped_after_the_time_limit(hostile_run: SandboxRun) -> None:
    assert hostile_run.stopped["endless_loop"] == "it ran longer than 3 s"
    assert messages(hostile_run, "endless_loop") == [
        "the rule was stopped on this image: it ran longer than 3 s"
    ]


def test_a_loop_that_swallows_interrupts_is_stopped_too(hostile_run: SandboxRun) -> None:
    assert hostile_run.stopped["catches_everything"] == "it ran longer than 3 s"


def test_a_huge_allocation_ends_in_memory_error(hostile_run: SandboxRun) -> None:
    assert set(messages(hostile_run, "huge_allocation")) == {
        "the rule could not run: it ran out of memory (MemoryError)"
    }


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ("import_os", "may not import 'os'"),
        ("import_subprocess", "may not import 'subprocess'"),
        ("import_socket", "may not import 'socket'"),
        ("escaped_os_system", "rule code may not use os.system"),
        ("escaped_socket", "rule code may not use socket."),
    ],
)
def test_processes_and_sockets_are_refused_by_name(
    hostile_run: SandboxRun, rule: str, says: str
) -> None:
    found = messages(hostile_run, rule)

    assert len(found) == 2 and all(says in m for m in found), found
    assert not Path("/tmp/owned").exists()


def test_reading_a_host_file_fails(hostile_run: SandboxRun) -> None:
    assert all(
        f"rule code may not open files ('{HOST_FILE}')" in m
        for m in messages(hostile_run, "escaped_open")
    )
    mounted = messages(hostile_run, "escaped_host_mount")
    assert mounted and all(m.startswith("the rule could not run") for m in mounted)
    assert not any("HOSTILE" in m for m in mounted)  # this file's text never came back


def test_javascript_globals_are_not_reachable(hostile_run: SandboxRun) -> None:
    found = messages(hostile_run, "escaped_js_process")

    assert found and all("AttributeError" in m and "process" in m for m in found), found


def test_printing_megabytes_is_stopped_with_a_message(hostile_run: SandboxRun) -> None:
    assert all(
        "printed more than 1,000,000 characters" in m
        for m in messages(hostile_run, "prints_megabytes")
    )


def test_a_raising_rule_reports_its_exception_and_line(hostile_run: SandboxRun) -> None:
    assert (
        messages(hostile_run, "raises")
        == ["the rule could not run: ZeroDivisionError: division by zero (line 2)"] * 2
    )


def test_a_missing_pyodide_is_reported(tmp_path: Path) -> None:
    with pytest.raises(SandboxUnavailable, match="Pyodide was not found"):
        run_sandboxed(BUILTIN_SPEC, [], pyodide_dir=tmp_path)


# ---- Warm runners: one process serves several checks of one rule set ----

COUNTER = {
    "name": "counter",
    "source": "import math\n"
    "def check(image):\n"
    "    math.seen = getattr(math, 'seen', 0) + 1\n"
    "    return [warning(str(math.seen))]\n",
}
LOOPS_ON_BIG = {
    "name": "loops_on_big",
    "source": "def check(image):\n    while image.width > 1000:\n        pass\n    return []\n",
}


def counts(run: SandboxRun) -> list[str]:
    return [p["message"] for image in run.problems for p in image if p["rule"] == "counter"]


def test_a_warm_runner_serves_the_next_check_of_the_same_rule_set() -> None:
    spec = {"version": 1, "rules": [*BUILTIN_SPEC["rules"], COUNTER]}
    images = random_images(3, 5)

    first = run_sandboxed(spec, images, key=("warm", 1))
    second = run_sandboxed(spec, images, key=("warm", 1))

    assert second.pids == first.pids  # no new Pyodide for the second check
    assert counts(first) == ["1", "2", "3"] and counts(second) == ["4", "5", "6"]
    builtins = [[p for p in image if p["rule"] != "counter"] for image in second.problems]
    assert builtins == native(images)


def test_what_a_rule_leaves_behind_never_reaches_another_rule_set() -> None:
    spec = {"version": 1, "rules": [COUNTER]}
    images = random_images(2, 5)
    run_sandboxed(spec, images, key=("leaky", 1))

    other = run_sandboxed(spec, images, key=("leaky", 2))

    assert counts(other) == ["1", "2"]


def test_a_runner_that_stopped_a_rule_is_replaced_for_the_next_check() -> None:
    spec = {"version": 1, "rules": [COUNTER, LOOPS_ON_BIG]}
    small, big = random_images(1, 3)[0], {**random_images(1, 4)[0], "width": 2000}

    stopped = run_sandboxed(spec, [small, big, small], Limits(rule_seconds=2), key=("stop", 1))
    after = run_sandboxed(spec, [small], Limits(rule_seconds=2), key=("stop", 1))

    assert stopped.stopped == {"loops_on_big": "it ran longer than 2 s"}
    # The check went on from the big image in a fresh process: its counter starts again.
    assert counts(stopped) == ["1", "1", "2"]
    assert after.pids[0] not in stopped.pids
    assert counts(after) == ["1"] and after.stopped == {}
