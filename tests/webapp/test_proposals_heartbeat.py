"""A proposal run that is still being generated is not taken for a dead one: its worker
writes a heartbeat while the generation (one long call that reports no progress) runs,
so the sweep leaves it alone however long it takes; the beating stops with the
generation, and as soon as the run is no longer the worker's.

The last test is the whole path with real parts: a real Celery worker generates with the
real MobileSAM weights for longer than several stuck periods while this process runs the
sweep against it, and the run is done once, by its first attempt."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_images import astronaut_jpeg, upload
from tests.webapp.factories_proposals import encoded_image
from webapp.proposals import tasks
from webapp.proposals.heartbeat import Heartbeat, heartbeat_interval
from webapp.proposals.models import Proposal, ProposalRun

# The heartbeat writes from a thread of its own, with its own database connection: the
# rows must be committed for it to see them.
pytestmark = pytest.mark.django_db(transaction=True)

LONG_AGO = timedelta(hours=2)
BEAT = 0.05  # seconds between beats in the tests that drive the heartbeat directly


@pytest.fixture
def claimed_run(make_project: Any, media_root: Path) -> ProposalRun:
    """A run a worker claimed an hour ago, as if its generation had been running since."""
    image = encoded_image(make_project(proposals_enabled=True))
    run = ProposalRun.objects.create(image=image, model=image.project.model)
    assert run.claim()
    ProposalRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
    return run


def heartbeat_of(run: ProposalRun) -> Any:
    return ProposalRun.objects.values_list("heartbeat_at", flat=True).get(pk=run.pk)


def test_the_beat_is_a_quarter_of_the_stuck_period(settings: Any) -> None:
    settings.SAMLABEL_STUCK_AFTER_SECONDS = 600
    assert heartbeat_interval() == 150


def test_a_beating_run_is_not_swept_however_long_ago_it_was_claimed(
    claimed_run: ProposalRun,
) -> None:
    stale = heartbeat_of(claimed_run)
    with Heartbeat(claimed_run.beat, every=BEAT) as heartbeat:
        wait_for(lambda: heartbeat_of(claimed_run) > stale, 10, "a heartbeat")
        assert ProposalRun.objects.requeue_stuck(timedelta(minutes=10)) == ([], [])
    assert heartbeat.beats >= 1 and not heartbeat.lost
    run = ProposalRun.objects.get(pk=claimed_run.pk)
    assert (run.status, run.attempts) == ("running", 1)


def test_without_a_heartbeat_the_same_run_is_swept(claimed_run: ProposalRun) -> None:
    # The contrast to the test above: the claim alone does not protect a long run.
    assert ProposalRun.objects.requeue_stuck(timedelta(minutes=10)) == ([claimed_run.pk], [])


def test_the_heartbeat_stops_once_the_sweep_gave_the_run_away(claimed_run: ProposalRun) -> None:
    with Heartbeat(claimed_run.beat, every=BEAT) as heartbeat:
        # The sweep hands the run to a new attempt (pending, then claimed again).
        assert ProposalRun.objects.requeue_stuck(timedelta(minutes=10)) == ([claimed_run.pk], [])
        newer = ProposalRun.objects.get(pk=claimed_run.pk)
        assert newer.claim()
        ProposalRun.objects.filter(pk=newer.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
        wait_for(lambda: heartbeat.lost, 10, "the old attempt's heartbeat to notice")
    # The old attempt wrote nothing on the newer one's row.
    assert timezone.now() - heartbeat_of(claimed_run) > LONG_AGO - timedelta(minutes=1)


def test_the_heartbeat_ends_with_a_generation_that_raises(claimed_run: ProposalRun) -> None:
    heartbeat = Heartbeat(claimed_run.beat, every=BEAT)
    with pytest.raises(RuntimeError, match="out of memory"), heartbeat:
        wait_for(lambda: heartbeat.beats >= 1, 10, "a heartbeat")
        raise RuntimeError("out of memory")
    assert not heartbeat.running
    beaten = heartbeat_of(claimed_run)
    # Ended: a sweep much later finds the run stuck (its worker is gone).
    ProposalRun.objects.filter(pk=claimed_run.pk, heartbeat_at=beaten).update(
        heartbeat_at=beaten - LONG_AGO
    )
    assert ProposalRun.objects.requeue_stuck(timedelta(minutes=10)) == ([claimed_run.pk], [])


def test_a_heartbeat_needs_a_positive_interval(claimed_run: ProposalRun) -> None:
    with pytest.raises(ValueError, match="positive interval"):
        Heartbeat(claimed_run.beat, every=0)


# The stuck period of the last test, in seconds, on the worker and in the sweep here:
# the worker beats every half second.
STUCK_AFTER = 2


@pytest.mark.slow
def test_a_real_worker_generating_longer_than_the_stuck_period_keeps_its_run(
    make_project: Any,
    user_in: Any,
    api_client: Any,
    media_root: Path,
    redis_server: Any,
    start_worker: Any,
    settings: Any,
) -> None:
    settings.SAMLABEL_STUCK_AFTER_SECONDS = STUCK_AFTER
    project = make_project(name="Heartbeat", proposals_enabled=True)
    owner = api_client(user_in(project, "owner"))
    with broker_for_this_process(redis_server.url):
        response = owner.post(
            reverse("image-list", kwargs={"project_pk": project.pk}),
            {"files": [upload("astronaut.jpg", astronaut_jpeg())]},
            format="multipart",
        )
        assert response.status_code == 201
        image_id = response.json()["results"][0]["id"]
        # A 24 x 24 grid: 576 points. The generation must outlast three stuck periods
        # (6 s) for the test to prove anything: 1,024 points took 31-37 s on a quiet 2-core
        # EPYC and 44-56 s on a 2-core Xeon, so about 18-30 s here, with room for a
        # machine three times faster (16 x 16 took about 8 s on that EPYC: too close).
        start_worker(
            redis_server.url,
            media_root,
            SAMLABEL_PROPOSAL_PARAMS='{"points_per_side": 24}',
            SAMLABEL_STUCK_AFTER_SECONDS=str(STUCK_AFTER),
        )
        wait_for(
            lambda: ProposalRun.objects.filter(
                image_id=image_id, status__in=["running", "done", "failed"]
            ).exists(),
            timeout=300,
            what="the worker to start generating",
        )
        # A sweep every 50 ms while the worker generates, as a second worker's beat would.
        swept: list[int] = []
        heartbeats = set()

        def finished() -> bool:
            swept.extend(tasks.sweep_stuck_proposal_runs())
            run = ProposalRun.objects.get(image_id=image_id)
            heartbeats.add(run.heartbeat_at)
            return run.status in ("done", "failed")

        wait_for(finished, timeout=480, what="the proposals")

    run = ProposalRun.objects.get(image_id=image_id)
    assert (run.status, run.error) == ("done", "")
    assert swept == [], "the sweep took a run whose worker was still generating"
    assert run.attempts == 1
    # The generation outlasted the stuck period several times over (else this test would
    # prove nothing), and the heartbeat moved all along.
    assert run.seconds is not None and run.seconds > 3 * STUCK_AFTER, run.seconds
    assert len(heartbeats) >= 3
    assert Proposal.objects.filter(image_id=image_id).count() == run.proposal_count > 0
