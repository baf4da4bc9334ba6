"""``python -m benchmarks.team_load``: annotators taking the next image, saving and
submitting against gunicorn and PostgreSQL, and its count of double assignments."""

from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from django.contrib.auth import get_user_model

from benchmarks.team_load import double_assignments, logged_doubles, percentile
from webapp.images.models import EncodingStatus, Image
from webapp.projects.models import Project
from webapp.workflow.models import Event, EventKind

ROOT = Path(__file__).resolve().parents[2]


def test_an_image_handed_to_two_annotators_is_a_double_assignment() -> None:
    handed = {"ann": [1, 2, 2, 5], "bob": [3, 5], "cid": [4]}

    # 2 twice to ann is her own held image coming back, not a double assignment.
    assert double_assignments(handed) == {5: ["ann", "bob"]}
    assert double_assignments({"ann": [1, 2], "bob": [3]}) == {}


def test_percentiles_of_latencies() -> None:
    assert percentile([0.010, 0.020, 0.030], 50) == pytest.approx(0.020)
    assert percentile([0.010, 0.020], 100) == pytest.approx(0.020)
    assert math.isnan(percentile([], 99))


@pytest.mark.django_db
def test_an_image_started_twice_in_the_event_log_is_reported() -> None:
    owner = get_user_model().objects.create_user("olga")
    project = Project.create_with_owner(owner, name="Log")
    images = [
        Image.objects.create(
            project=project,
            file=f"images/{n}.png",
            original_name=f"{n}.png",
            width=4,
            height=3,
            sha256=f"{n:064d}",
            status=EncodingStatus.READY,
        )
        for n in range(2)
    ]
    for image in (images[0], images[1], images[1]):
        Event.record(
            EventKind.TRANSITION, project=project, actor=owner, image=image, action="start",
            from_state="new", to_state="annotating",
        )  # fmt: skip

    assert logged_doubles(project.pk) == {images[1].pk: 2}


@pytest.mark.slow
def test_three_annotators_empty_the_queue_with_no_double_assignment() -> None:
    if (
        shutil.which("createdb") is None
        or subprocess.run(["pg_isready", "-h", "127.0.0.1"], capture_output=True).returncode
    ):
        pytest.skip("needs PostgreSQL on 127.0.0.1 and its createdb")

    result = subprocess.run(
        [sys.executable, "-m", "benchmarks.team_load", "--annotators", "3", "--images", "12",
         "--seconds", "60", "--warmup", "0", "--workers", "2", "--threads", "2"],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "nproc" in out.splitlines()[0]  # the machine line
    # Every image was handed out once: the queue emptied, and nothing twice.
    assert "images handed out: 12 (the queue ran out); double assignments: 0 in the " in out
    assert "0 in the event log" in out
    rows = {line.split()[0]: line.split() for line in out.splitlines() if line[:6] in {
        "next  ", "save  ", "submit"}}  # fmt: skip
    # 12 images labelled: 12 saves and 12 submits, each answered as expected.
    assert rows["save"][1] == rows["submit"][1] == "12"
    assert rows["save"][-1] == rows["submit"][-1] == rows["next"][-1] == "0"
    # gunicorn's own timing of the same requests, read back from its access log.
    served = out.split("as gunicorn timed the same requests")[1].splitlines()[1:4]
    assert [line.split()[:2] for line in served] == [
        ["next", rows["next"][1]],
        ["save", "12"],
        ["submit", "12"],
    ]
