"""End to end with real parts: a photo uploaded through the API to a project with
proposals on is encoded by a real Celery worker (real Redis, real MobileSAM weights), which
then proposes masks for it from the stored embedding; one of them is the astronaut's
face, and accepting it through the API makes an annotation of exactly that mask. Runs
wait for encodings with one worker, and ``make run``'s two workers (proposals on their own,
at the lowest CPU priority) share the work as they should."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from django.conf import settings
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.conftest import REPO_ROOT
from tests.webapp.factories_annotations import make_label_class
from tests.webapp.factories_images import astronaut_jpeg, upload
from webapp.annotations import rle
from webapp.proposals.models import Proposal, ProposalRun

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

# A point on the astronaut's face, (x, y) in original-image pixels (512 x 512).
FACE = (250, 120)


def upload_astronaut(owner: Any, project: Any, broker_url: str) -> int:
    """The astronaut photo uploaded through the API by ``owner`` (a client), its
    encoding queued on the broker at ``broker_url``: the image's id."""
    with broker_for_this_process(broker_url):
        response = owner.post(
            reverse("image-list", kwargs={"project_pk": project.pk}),
            {"files": [upload("astronaut.jpg", astronaut_jpeg())]},
            format="multipart",
        )
    assert response.status_code == 201
    return int(response.json()["results"][0]["id"])


def test_a_worker_proposes_the_objects_of_a_real_photo_after_encoding_it(
    make_project: Any,
    user_in: Any,
    api_client: Any,
    media_root: Path,
    redis_server: Any,
    start_worker: Any,
) -> None:
    project = make_project(name="Proposals", proposals_enabled=True)
    annotator = api_client(user_in(project, "annotator"))
    owner = api_client(user_in(project, "owner"))
    image_id = upload_astronaut(owner, project, redis_server.url)

    # A 12 x 12 grid rather than the default 32 x 32: the same path, in a ninth of the time
    # on a small CPU.
    worker = start_worker(
        redis_server.url, media_root, SAMLABEL_PROPOSAL_PARAMS='{"points_per_side": 12}'
    )
    wait_for(
        lambda: ProposalRun.objects.filter(
            image_id=image_id, status__in=["done", "failed"]
        ).exists(),
        timeout=480,
        what="the photo's proposals",
    )

    status = annotator.get(f"/api/projects/{project.pk}/images/{image_id}/proposals/status/")
    assert status.json()["status"] == "done", status.json()
    assert status.json()["params"] == {"points_per_side": 12}
    listed = annotator.get(f"/api/projects/{project.pk}/images/{image_id}/proposals/").json()
    assert 5 <= len(listed) <= 200
    scores = [p["predicted_iou"] for p in listed]
    assert scores == sorted(scores, reverse=True) and min(scores) > 0.88
    masks = {p["id"]: rle.decode(p["rle"]) for p in listed}
    assert all(mask.shape == (512, 512) for mask in masks.values())
    on_face = [pk for pk, mask in masks.items() if mask[FACE[1], FACE[0]]]
    assert on_face, "no proposal covers the astronaut's face"
    # The smallest proposal on the face is the face (or the head), not the whole picture.
    face = min(on_face, key=lambda pk: int(masks[pk].sum()))
    assert 2_000 < masks[face].sum() < 40_000
    # Each proposal keeps its pooled feature for class suggestions.
    assert Proposal.objects.filter(image_id=image_id, feature__isnull=True).count() == 0

    cat = make_label_class(project, "face")
    accepted = annotator.post(
        f"/api/projects/{project.pk}/images/{image_id}/proposals/{face}/accept/",
        {"label_class": cat.pk},
        format="json",
    )
    assert accepted.status_code == 201
    assert np.array_equal(rle.decode(accepted.json()["rle"]), masks[face])
    assert accepted.json()["source"] == "proposal"
    assert "proposals for image" in worker.text()


def test_proposal_runs_wait_for_encodings_and_saves_not_the_other_way_round(
    make_project: Any,
    user_in: Any,
    api_client: Any,
    media_root: Path,
    redis_server: Any,
    start_worker: Any,
) -> None:
    import skimage.data

    from tests.webapp.factories_images import encoded
    from webapp.images.models import Image
    from webapp.suggestions.models import AnnotationFeature

    project = make_project(name="Backlog", proposals_enabled=True)
    owner = api_client(user_in(project, "owner"))
    annotator = api_client(user_in(project, "annotator"))
    images_url = reverse("image-list", kwargs={"project_pk": project.pk})
    photos = [skimage.data.astronaut(), skimage.data.coffee(), skimage.data.chelsea()]
    with broker_for_this_process(redis_server.url):
        response = owner.post(
            images_url,
            {"files": [upload(f"photo{n}.jpg", encoded(p)) for n, p in enumerate(photos)]},
            format="multipart",
        )
    assert response.status_code == 201
    ids = [result["id"] for result in response.json()["results"]]
    worker = start_worker(
        redis_server.url, media_root, SAMLABEL_PROPOSAL_PARAMS='{"points_per_side": 16}'
    )
    wait_for(
        lambda: Image.objects.filter(pk__in=ids, status="ready").count() == 3,
        timeout=300,
        what="the three photos' encoding",
    )

    # Their proposal runs are the backlog now; people go on working: a save, an upload.
    cat = make_label_class(project, "cat")
    mask = np.zeros((512, 512), dtype=bool)
    mask[100:200, 150:300] = True
    with broker_for_this_process(redis_server.url):
        saved = annotator.post(
            f"/api/projects/{project.pk}/images/{ids[0]}/annotations/",
            {"label_class": cat.pk, "rle": rle.encode(mask)},
            format="json",
        )
        assert saved.status_code == 201
        late = owner.post(
            images_url,
            {"files": [upload("rocket.jpg", encoded(skimage.data.rocket()))]},
            format="multipart",
        )
    late_id = late.json()["results"][0]["id"]
    wait_for(
        lambda: (
            ProposalRun.objects.filter(status="done").count() == 4
            and AnnotationFeature.objects.filter(annotation_id=saved.json()["id"]).exists()
        ),
        timeout=480,
        what="the four proposal runs and the annotation's feature",
    )

    # Proposals are a background queue: taken only when nothing else waits.
    runs = sorted(r.finished_at for r in ProposalRun.objects.filter(image_id__in=ids))
    # The batch was encoded whole before any run (not one image per run)...
    assert max(Image.objects.get(pk=pk).status_changed_at for pk in ids) < runs[0]
    # ...and the late upload and the save waited for the run under way, not the backlog.
    encoded_at = Image.objects.get(pk=late_id).status_changed_at
    pooled_at = AnnotationFeature.objects.get(annotation_id=saved.json()["id"]).created_at
    assert encoded_at < runs[-1], worker.text()[-3000:]
    assert pooled_at < runs[-1], worker.text()[-3000:]


def make_run_workers() -> list[tuple[str, str]]:
    """The workers ``make run`` starts, read from the Makefile's recipe: (what comes
    before ``celery`` on its line, its queues)."""
    recipe = (REPO_ROOT / "Makefile").read_text().split("\nrun:", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"(\S*[^;&|\n]*?)\.venv/bin/celery -A webapp worker[^&]*?-Q (\S+)", recipe)


def test_the_workers_of_make_run_encode_and_propose_each_on_its_own(
    make_project: Any,
    user_in: Any,
    api_client: Any,
    media_root: Path,
    redis_server: Any,
    start_worker: Any,
) -> None:
    """``make run``'s workers, with their queues, cover every queue a task is routed to;
    the proposals have a worker of their own at the lowest CPU priority (so that an
    upload is encoded at once while a run goes on), and those workers do the work."""
    workers = make_run_workers()
    taken = [set(queues.split(",")) for _, queues in workers]
    routed = {route["queue"] for route in settings.CELERY_TASK_ROUTES.values()}
    assert routed | {"celery"} <= set().union(*taken)
    proposals = [n for n, queues in enumerate(taken) if "proposals" in queues]
    assert len(proposals) == 1 and taken[proposals[0]] == {"proposals"}
    assert "nice -n 19" in workers[proposals[0]][0]
    assert all("nice" not in prefix for n, (prefix, _) in enumerate(workers) if n not in proposals)

    project = make_project(name="make run", proposals_enabled=True)
    owner = api_client(user_in(project, "owner"))
    image_id = upload_astronaut(owner, project, redis_server.url)
    started = [
        start_worker(
            redis_server.url,
            media_root,
            queues=queues,
            SAMLABEL_PROPOSAL_PARAMS='{"points_per_side": 8}',
        )
        for _, queues in workers
    ]
    wait_for(
        lambda: ProposalRun.objects.filter(image_id=image_id, status="done").exists(),
        timeout=480,
        what="the photo's proposals",
    )
    for n, worker in enumerate(started):
        log = worker.text()
        if n in proposals:
            assert "generate_proposals[" in log and "encode_image[" not in log
        else:
            assert "generate_proposals[" not in log
    assert any("encode_image[" in worker.text() for worker in started)
