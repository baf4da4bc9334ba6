"""The proposal task's guarantees, as encoding's: a run is claimed once (a second
delivery does nothing), a run done with the same parameters is not done again, a run
whose worker died is swept, a deleted image is handled, and proposals are asked for
after encoding only where the project has them on."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.utils import timezone

from tests.webapp.factories_annotations import make_image
from tests.webapp.factories_proposals import FakeMask, encoded_image, fake_mask, square
from webapp.core.jobs import MAX_ATTEMPTS
from webapp.images import tasks as image_tasks
from webapp.images.models import Image
from webapp.proposals import tasks
from webapp.proposals.models import Proposal, ProposalRun

pytestmark = pytest.mark.django_db

LONG_AGO = timedelta(hours=2)


class Generator:
    """Stands in for ``inference.everything.generate`` behind ``generate_masks``: counts
    its calls and returns ``masks``."""

    def __init__(self, masks: list[FakeMask]) -> None:
        self.masks = masks
        self.calls: list[int] = []

    def __call__(self, image: Image, run: ProposalRun) -> tuple[list[FakeMask], dict[str, Any]]:
        self.calls.append(image.pk)
        return list(self.masks), {"points_per_side": 32, **run.params}


@pytest.fixture
def generator(monkeypatch: pytest.MonkeyPatch) -> Generator:
    made = Generator([fake_mask(square(2, 3, 10), 0.97), fake_mask(square(20, 30, 8), 0.91)])
    monkeypatch.setattr(tasks, "generate_masks", made)
    # The model's weights are "here" for these tests; none is loaded.
    monkeypatch.setattr(tasks, "weights_problem", lambda model: None)
    return made


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Image ids sent to the broker for proposals (nothing is really sent)."""
    sent: list[int] = []
    monkeypatch.setattr(tasks.generate_proposals, "delay", lambda image_id: sent.append(image_id))
    return sent


@pytest.fixture
def ask(django_capture_on_commit_callbacks: Any) -> Any:
    """``ask(images)``: request_proposals as a request does, its messages sent once the
    (test's) transaction would have committed."""

    def request(images: list[Image]) -> tuple[list[int], list[int]]:
        with django_capture_on_commit_callbacks(execute=True):
            return tasks.request_proposals(images)

    return request


@pytest.fixture
def image(make_project: Any, media_root: Path) -> Image:
    return encoded_image(make_project(proposals_enabled=True))


def test_a_requested_run_stores_the_masks_as_proposals(
    ask: Any, image: Image, generator: Generator, queued: list[int]
) -> None:
    assert ask([image]) == ([image.pk], [])
    assert queued == [image.pk]

    tasks.generate_proposals(image.pk)

    run = ProposalRun.objects.get(image=image)
    assert (run.status, run.proposal_count, run.attempts) == ("done", 2, 1)
    stored = list(Proposal.objects.filter(image=image).order_by("-predicted_iou"))
    assert [p.area for p in stored] == [100, 64]
    assert stored[0].bbox == [3, 2, 10, 10]
    assert stored[0].params == {"points_per_side": 32}
    assert stored[0].model == image.project.model


def test_a_second_delivery_of_the_same_message_does_nothing(
    ask: Any, image: Image, generator: Generator, queued: list[int]
) -> None:
    ask([image])
    tasks.generate_proposals(image.pk)
    tasks.generate_proposals(image.pk)

    assert generator.calls == [image.pk]
    assert Proposal.objects.filter(image=image).count() == 2


def test_a_run_done_with_the_same_parameters_is_not_done_again(
    ask: Any, image: Image, generator: Generator, queued: list[int], settings: Any
) -> None:
    ask([image])
    tasks.generate_proposals(image.pk)

    assert ask([image]) == ([], [image.pk])
    settings.SAMLABEL_PROPOSAL_PARAMS = {"points_per_side": 16}
    assert ask([image]) == ([image.pk], [])
    generator.masks = [fake_mask(square(5, 5, 5), 0.99)]
    tasks.generate_proposals(image.pk)

    # The new proposals replace the old ones, and say what made them.
    stored = list(Proposal.objects.filter(image=image))
    assert [(p.area, p.params) for p in stored] == [(25, {"points_per_side": 16})]
    assert len(generator.calls) == 2


def test_a_claimed_run_is_not_claimed_twice(ask: Any, image: Image, queued: list[int]) -> None:
    ask([image])
    run = ProposalRun.objects.get(image=image)

    assert run.claim()
    assert not ProposalRun.objects.get(pk=run.pk).claim()


def test_a_run_whose_worker_died_is_queued_again_then_failed(
    ask: Any, image: Image, generator: Generator, queued: list[int]
) -> None:
    ask([image])
    queued.clear()
    for attempt in range(1, MAX_ATTEMPTS + 1):
        run = ProposalRun.objects.get(image=image)
        assert run.claim()  # a worker takes it, then dies
        ProposalRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - LONG_AGO)
        swept = tasks.sweep_stuck_proposal_runs()
        if attempt < MAX_ATTEMPTS:
            assert swept == [image.pk]
            assert ProposalRun.objects.get(pk=run.pk).status == "pending"

    run = ProposalRun.objects.get(image=image)
    assert run.status == "failed"
    assert f"stopped {MAX_ATTEMPTS} times" in run.error
    assert queued == [image.pk] * (MAX_ATTEMPTS - 1)


def test_a_run_whose_message_was_lost_is_queued_again_and_finishes(
    ask: Any, image: Image, generator: Generator, queued: list[int]
) -> None:
    ask([image])
    ProposalRun.objects.filter(image=image).update(heartbeat_at=timezone.now() - LONG_AGO)
    queued.clear()

    assert tasks.sweep_stuck_proposal_runs() == [image.pk]
    tasks.generate_proposals(queued[0])

    assert ProposalRun.objects.get(image=image).status == "done"


def test_a_deleted_image_is_logged_and_nothing_is_stored(
    ask: Any,
    image: Image,
    generator: Generator,
    queued: list[int],
    caplog: pytest.LogCaptureFixture,
) -> None:
    ask([image])
    image_id = image.pk
    image.delete_with_files()

    tasks.generate_proposals(image_id)

    assert generator.calls == []
    assert "is gone" in caplog.text
    assert not ProposalRun.objects.exists()


def test_an_image_deleted_while_its_proposals_are_made_keeps_none(
    ask: Any, image: Image, queued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ask([image])
    monkeypatch.setattr(tasks, "weights_problem", lambda model: None)

    def generate_then_image_deleted(image: Image, run: ProposalRun) -> Any:
        Image.objects.get(pk=image.pk).delete_with_files()
        return [fake_mask(square(1, 1, 4))], {}

    monkeypatch.setattr(tasks, "generate_masks", generate_then_image_deleted)
    tasks.generate_proposals(image.pk)

    assert not Proposal.objects.exists()


def test_a_failing_generation_is_stored_with_its_reason(
    ask: Any, image: Image, queued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ask([image])
    monkeypatch.setattr(tasks, "weights_problem", lambda model: None)

    def broken(image: Image, run: ProposalRun) -> Any:
        raise RuntimeError("out of memory")

    monkeypatch.setattr(tasks, "generate_masks", broken)
    tasks.generate_proposals(image.pk)

    run = ProposalRun.objects.get(image=image)
    assert (run.status, run.error) == ("failed", "RuntimeError: out of memory")
    # Asked for again, a failed run is queued again.
    assert ask([image]) == ([image.pk], [])


def test_missing_weights_fail_the_run_with_the_reason(
    ask: Any, image: Image, queued: list[int], monkeypatch: pytest.MonkeyPatch
) -> None:
    ask([image])
    monkeypatch.setattr(tasks, "weights_problem", lambda model: "The weights are not here.")

    tasks.generate_proposals(image.pk)

    run = ProposalRun.objects.get(image=image)
    assert (run.status, run.error) == ("failed", "The weights are not here.")


def test_proposals_asked_before_encoding_wait_for_the_embedding(
    ask: Any, make_project: Any, media_root: Path, generator: Generator, queued: list[int]
) -> None:
    image = make_image(make_project())  # pending: not encoded yet
    ask([image])
    tasks.generate_proposals(image.pk)

    run = ProposalRun.objects.get(image=image)
    assert (run.status, run.attempts) == ("pending", 0)
    assert generator.calls == []

    queued.clear()
    from webapp.images.models import ImageEmbedding

    ImageEmbedding.store(image, image.project.model, np.zeros((256, 64, 64)))
    tasks.after_encoding(image.pk)
    assert queued == [image.pk]


class FakeEncoder:
    """Stands in for the encoder: an embedding of zeros per picture."""

    def __call__(self, pictures: list[Any], model: str, **options: Any) -> list[np.ndarray]:
        return [np.zeros((1, 256, 64, 64), dtype=np.float32) for _ in pictures]


@pytest.mark.parametrize("enabled", [True, False])
def test_encoding_an_image_asks_for_proposals_only_where_they_are_on(
    enabled: bool,
    make_project: Any,
    make_image_row: Any,
    queued: list[int],
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    import export_onnx.encoder

    monkeypatch.setattr(export_onnx.encoder, "encode", FakeEncoder())
    monkeypatch.setattr(image_tasks, "weights_problem", lambda model: None)
    image = make_image_row(make_project(proposals_enabled=enabled))

    with django_capture_on_commit_callbacks(execute=True):
        image_tasks.encode_image(image.pk)

    assert Image.objects.get(pk=image.pk).status == "ready"
    assert queued == ([image.pk] if enabled else [])
    assert ProposalRun.objects.filter(image=image).exists() == enabled
