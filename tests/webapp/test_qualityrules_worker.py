"""The whole-project check through a real Redis and a real Celery worker: custom rules run
in the sandbox on the worker, and a check a dead worker left running is queued again by
the sweep and done over, without the dead attempt's results."""

from __future__ import annotations

import shutil
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from inference import rle as codec
from tests.webapp.celery_processes import broker_for_this_process, wait_for
from webapp.annotations.models import Annotation
from webapp.projects.models import LabelClass
from webapp.qualityrules.models import ProjectCheck, ProjectCheckState, RuleCheck, RuleSetVersion
from webapp.qualityrules.tasks import sweep_stuck_project_checks

pytestmark = [
    pytest.mark.slow,
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(shutil.which("node") is None, reason="Node.js is required"),
]

RULES = [
    {"name": "big cars", "builtin": "min_area", "params": {"areas": {"car": 100}}},
    {
        "name": "named cars",
        "source": "def check(image):\n"
        "    return [warning(f'{len(image.annotations)} on {image.name}')]\n",
    },
]


def project_with_images(make_project: Any, make_image_row: Any, owner: Any) -> Any:
    """Three 20 x 20 images; the first has a 9-pixel car (an error), the others none."""
    project = make_project(owner=owner)
    car = LabelClass.objects.create(project=project, name="car")
    images = [
        make_image_row(project, name=f"street{n}.png", status="ready", width=20, height=20)
        for n in range(3)
    ]
    mask = np.zeros((20, 20), dtype=bool)
    mask[0:3, 0:3] = True
    encoded = codec.encode(mask)
    Annotation.objects.create(
        image=images[0], label_class=car, rle=encoded, bbox=codec.bbox(encoded), area=9
    )
    RuleSetVersion.save_new(project, RULES, owner)
    return project


def test_a_project_check_with_custom_rules_runs_on_a_real_worker(
    make_project: Any, make_user: Any, make_image_row: Any, api_client: Any,
    media_root: Path, redis_server: Any, start_worker: Any,
) -> None:  # fmt: skip
    owner = make_user(username="olga")
    project = project_with_images(make_project, make_image_row, owner)
    with broker_for_this_process(redis_server.url):
        started = api_client(owner).post(f"/api/projects/{project.pk}/quality-rules/checks/")
    assert started.status_code == 201

    worker = start_worker(redis_server.url, media_root)
    wait_for(
        lambda: ProjectCheck.objects.filter(pk=started.json()["id"], state="done").exists(),
        timeout=240,
        what=f"the worker to check the project\n{worker.text()[-3000:]}",
    )

    job = ProjectCheck.objects.get()
    assert (job.images_total, job.images_checked, job.images_with_errors) == (3, 3, 1)
    assert (job.errors, job.warnings, job.stopped, job.attempts) == (1, 3, {}, 1)
    results = RuleCheck.objects.filter(project_check=job)
    custom = sorted(p["message"] for c in results for p in c.problems if p["rule"] == "named cars")
    assert custom == ["0 on street1.png", "0 on street2.png", "1 on street0.png"]


def test_a_check_a_dead_worker_left_running_is_done_over_after_the_sweep(
    make_project: Any, make_user: Any, make_image_row: Any, media_root: Path,
    redis_server: Any, start_worker: Any,
) -> None:  # fmt: skip
    owner = make_user(username="olga")
    project = project_with_images(make_project, make_image_row, owner)
    # As a worker that died after its first batch leaves it: running, one attempt, a
    # stale result and counts, no sign of life for longer than the sweep waits.
    long_ago = timezone.now() - timedelta(hours=1)
    job = ProjectCheck.objects.create(
        project=project, ruleset_version=1, state=ProjectCheckState.RUNNING, attempts=1,
        images_total=3, images_checked=1, errors=7, heartbeat_at=long_ago,
    )  # fmt: skip
    RuleCheck.objects.create(
        project=project, image=project.images.first(), project_check=job, kind="project",
        ruleset_version=1, problems=[], errors=7,
    )  # fmt: skip

    with broker_for_this_process(redis_server.url):
        assert sweep_stuck_project_checks() == [job.pk]
        assert sweep_stuck_project_checks() == []  # queued just now: not stuck
    worker = start_worker(redis_server.url, media_root)
    wait_for(
        lambda: ProjectCheck.objects.filter(pk=job.pk, state="done").exists(),
        timeout=240,
        what=f"the worker to check the project again\n{worker.text()[-3000:]}",
    )

    job.refresh_from_db()
    assert (job.attempts, job.images_checked, job.errors, job.warnings) == (2, 3, 1, 3)
    assert RuleCheck.objects.filter(project_check=job).count() == 3
    assert not RuleCheck.objects.filter(errors=7).exists()


def test_a_check_whose_worker_died_too_often_fails_with_a_reason(
    make_project: Any, make_user: Any, make_image_row: Any
) -> None:
    owner = make_user(username="olga")
    project = project_with_images(make_project, make_image_row, owner)
    job = ProjectCheck.objects.create(
        project=project, ruleset_version=1, state=ProjectCheckState.RUNNING, attempts=3,
        heartbeat_at=timezone.now() - timedelta(hours=1),
    )  # fmt: skip

    assert sweep_stuck_project_checks() == []

    job.refresh_from_db()
    assert job.state == ProjectCheckState.FAILED
    assert job.failure == "The worker stopped 3 times while checking; start it again."
