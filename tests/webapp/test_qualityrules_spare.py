"""The sandbox's spare runner (issue 17): started ahead of the first custom-rule check of
a process (at a worker process's start, or when a web process first serves a project's
custom rules), taken over by that check without a new Node.js process, and never shared
between projects once a check used it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from tests.qualityrules.vectors import random_images
from tests.webapp.conftest import AddMember, ApiClientFor, MakeProject, MakeUser
from webapp.qualityrules.checking import warm_for, warm_if_any_custom
from webapp.qualityrules.models import RuleSetVersion
from webapp.qualityrules.sandbox import POOL, Limits, SandboxRun, run_sandboxed, warm_spare

pytestmark = pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is required")

# Each check adds one to a counter kept in the interpreter: a runner that served another
# rule set before would not start at 1.
COUNTER = {
    "name": "counter",
    "source": "import math\n"
    "def check(image):\n"
    "    math.seen = getattr(math, 'seen', 0) + 1\n"
    "    return [warning(str(math.seen))]\n",
}
SPEC = {"version": 1, "rules": [COUNTER]}
STARTUP_SECONDS = 120  # Pyodide's start on a loaded 2-core machine, with room


@pytest.fixture
def pool() -> Iterator[None]:
    """This process's runners, none before and none left after."""
    POOL.close_all()
    yield
    POOL.close_all()


def counts(run: SandboxRun) -> list[str]:
    return [p["message"] for image in run.problems for p in image if p["rule"] == "counter"]


def alive(pid: int) -> bool:
    """Whether ``pid`` is still a process (an ended runner is waited for, so it is gone)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_the_first_check_after_warming_takes_the_spare_without_starting_node(pool: None) -> None:
    warming = warm_spare()
    assert warming is not None
    warming.join()
    assert POOL.spare_ready(STARTUP_SECONDS)
    spare = POOL.spare_pid()
    cold = POOL.cold_starts

    run = run_sandboxed(SPEC, random_images(2, 3), key=("project", 1, 1))

    assert run.pids == [spare]  # the spare served it
    assert POOL.cold_starts == cold  # no process started for the check
    assert counts(run) == ["1", "2"]
    assert POOL.spare_pid() not in {None, spare}  # the next spare is starting


def test_a_used_spare_never_serves_another_project(pool: None) -> None:
    warming = warm_spare()
    assert warming is not None
    warming.join()
    images = random_images(2, 5)

    first = run_sandboxed(SPEC, images, key=("project", 1, 1))
    assert POOL.spare_ready(STARTUP_SECONDS)
    other = run_sandboxed(SPEC, images, key=("project", 2, 1))
    again = run_sandboxed(SPEC, images, key=("project", 1, 1))

    assert other.pids[0] != first.pids[0]
    assert counts(other) == ["1", "2"]  # a fresh interpreter: nothing of project 1's
    assert again.pids == first.pids and counts(again) == ["3", "4"]  # project 1's own
    assert POOL.spare_pid() not in set(first.pids) | set(other.pids)


def test_a_spare_that_ran_a_stopped_rule_is_ended(pool: None) -> None:
    loops = {"name": "loops", "source": "def check(image):\n    while True:\n        pass\n"}
    limits = Limits(rule_seconds=1)
    warming = warm_spare(limits)
    assert warming is not None
    warming.join()
    spare = POOL.spare_pid()
    assert spare is not None

    run = run_sandboxed(
        {"version": 1, "rules": [loops]}, random_images(1, 3), limits, key=("project", 3, 1)
    )

    assert run.pids[0] == spare and run.stopped == {"loops": "it ran longer than 1 s"}
    assert not alive(spare)
    assert POOL.spare_pid() != spare


def test_warming_is_bounded_to_one_spare_and_off_without_warm_runners(pool: None) -> None:
    started = POOL.spare_starts
    assert warm_spare(Limits(warm_rule_sets=0)) is None
    assert POOL.spare_pid() is None

    first = warm_spare()
    second = warm_spare()  # one is starting already
    assert first is not None and second is None
    first.join()
    assert warm_spare() is None  # one is there
    assert POOL.spare_starts == started + 1


@pytest.mark.django_db
def test_reading_a_projects_custom_rules_warms_a_spare_and_built_ins_do_not(
    pool: None,
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    api_client: ApiClientFor,
) -> None:
    owner = make_user(username="olga")
    builtins_only, custom = make_project(owner=owner), make_project(owner=owner)
    builtin = {"name": "b", "builtin": "min_area", "params": {"areas": {"car": 5}}}
    RuleSetVersion.save_new(builtins_only, [builtin], owner)
    RuleSetVersion.save_new(custom, [builtin, COUNTER], owner)
    reader = api_client(owner)
    started = POOL.spare_starts

    assert reader.get(f"/api/projects/{builtins_only.pk}/quality-rules/").status_code == 200
    assert POOL.spare_pid() is None and POOL.spare_starts == started
    assert reader.get(f"/api/projects/{custom.pk}/quality-rules/").status_code == 200
    # The answer did not wait for the spare; it is starting beside it.
    assert POOL.spare_ready(STARTUP_SECONDS)
    assert POOL.spare_starts == started + 1
    assert warm_for(RuleSetVersion.current(custom)) is None  # one per process


@pytest.mark.django_db(transaction=True)
def test_a_worker_process_warms_only_when_some_project_has_custom_rules(
    pool: None, make_project: MakeProject, make_user: MakeUser
) -> None:
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    builtin = {"name": "b", "builtin": "min_area", "params": {"areas": {"car": 5}}}
    RuleSetVersion.save_new(project, [builtin], owner)

    warm_if_any_custom().join()
    assert POOL.spare_pid() is None

    RuleSetVersion.save_new(project, [builtin, COUNTER], owner)
    warm_if_any_custom().join()
    assert POOL.spare_pid() is not None  # started (Pyodide comes up in its own time)
