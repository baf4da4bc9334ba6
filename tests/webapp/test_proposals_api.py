"""The proposals API per role: members list an image's proposals and their status;
annotators and up accept one, or all above a confidence, which makes annotations that say
they came from a proposal (with a version in their history, counted like any save);
annotators ask for a few images' proposals, managers for many; outsiders get 404. An
export holds only accepted proposals."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from tests.webapp.factories_annotations import make_label_class
from tests.webapp.factories_proposals import encoded_image, fake_mask, square, store_proposals
from webapp.annotations.models import Annotation
from webapp.exports.exporter import write_export
from webapp.exports.selection import ExportOptions
from webapp.images.models import Image
from webapp.proposals import tasks
from webapp.proposals.api import FEW_IMAGES
from webapp.proposals.models import Proposal, ProposalRun
from webapp.reviews.models import AnnotationVersion

pytestmark = pytest.mark.django_db


@pytest.fixture
def image(make_project: Any, media_root: Path) -> Image:
    image = encoded_image(make_project())
    store_proposals(
        image,
        [
            fake_mask(square(2, 3, 10), 0.97),
            fake_mask(square(20, 30, 8), 0.91),
            fake_mask(square(30, 5, 6), 0.80),
        ],
    )
    return image


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    sent: list[int] = []
    monkeypatch.setattr(tasks.generate_proposals, "delay", lambda image_id: sent.append(image_id))
    return sent


def url(image: Image, tail: str = "") -> str:
    return f"/api/projects/{image.project_id}/images/{image.pk}/proposals/{tail}"


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 200), ("annotator", 200), ("manager", 200), ("owner", 200), ("outsider", 404)],
)
def test_members_list_an_images_proposals_most_confident_first(
    role: str, expected: int, image: Image, user_in: Any, api_client: Any
) -> None:
    answer = api_client(user_in(image.project, role)).get(url(image))

    assert answer.status_code == expected
    if expected == 200:
        body = answer.json()
        assert [p["predicted_iou"] for p in body] == [0.97, 0.91, 0.80]
        assert body[0]["bbox"] == [3, 2, 10, 10]
        assert body[0]["rle"]["size"] == [48, 64]
        assert set(body[0]) >= {"id", "area", "stability", "point", "suggestion"}


def test_an_anonymous_request_is_refused(image: Image, api_client: Any) -> None:
    assert api_client(None).get(url(image)).status_code in (401, 403)


def test_an_image_of_another_project_is_404(
    image: Image, make_project: Any, user_in: Any, api_client: Any
) -> None:
    other = make_project()
    owner = user_in(other, "owner")
    answer = api_client(owner).get(f"/api/projects/{other.pk}/images/{image.pk}/proposals/")
    assert answer.status_code == 404


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 201), ("reviewer", 201), ("manager", 201), ("outsider", 404)],
)
def test_accepting_a_proposal_makes_an_annotation_that_says_where_it_came_from(
    role: str, expected: int, image: Image, user_in: Any, api_client: Any
) -> None:
    cat = make_label_class(image.project)
    proposal = Proposal.objects.of_image(image).first()
    assert proposal is not None
    user = user_in(image.project, role)

    answer = api_client(user).post(
        url(image, f"{proposal.pk}/accept/"), {"label_class": cat.pk}, format="json"
    )

    assert answer.status_code == expected
    if expected != 201:
        assert not Annotation.objects.exists()
        return
    body = answer.json()
    assert (body["source"], body["proposal_id"], body["label_class"]) == (
        "proposal",
        proposal.pk,
        cat.pk,
    )
    assert body["rle"] == proposal.rle and body["area"] == 100
    annotation = Annotation.objects.get(pk=body["id"])
    assert annotation.author == user
    assert AnnotationVersion.objects.filter(annotation=annotation).count() == 1
    image.refresh_from_db()
    # The image counts it like any save, and the list no longer offers that proposal.
    listed = api_client(user).get(url(image)).json()
    assert proposal.pk not in [p["id"] for p in listed]
    assert len(listed) == 2


def test_a_proposal_accepted_twice_makes_one_annotation(
    image: Image, user_in: Any, api_client: Any
) -> None:
    cat = make_label_class(image.project)
    proposal = Proposal.objects.of_image(image).first()
    assert proposal is not None
    client = api_client(user_in(image.project, "annotator"))

    first = client.post(
        url(image, f"{proposal.pk}/accept/"), {"label_class": cat.pk}, format="json"
    )
    second = client.post(
        url(image, f"{proposal.pk}/accept/"), {"label_class": cat.pk}, format="json"
    )

    assert (first.status_code, second.status_code) == (201, 409)
    assert second.json()["annotation"] == first.json()["id"]
    assert Annotation.objects.count() == 1


def test_accepting_with_a_class_of_another_project_is_refused(
    image: Image, make_project: Any, user_in: Any, api_client: Any
) -> None:
    foreign = make_label_class(make_project())
    proposal = Proposal.objects.of_image(image).first()
    assert proposal is not None

    answer = api_client(user_in(image.project, "annotator")).post(
        url(image, f"{proposal.pk}/accept/"), {"label_class": foreign.pk}, format="json"
    )

    assert answer.status_code == 400
    assert "label_class" in answer.json()
    assert not Annotation.objects.exists()


def test_a_proposal_replaced_by_new_ones_is_404(
    image: Image, user_in: Any, api_client: Any
) -> None:
    cat = make_label_class(image.project)
    old = Proposal.objects.of_image(image).first()
    assert old is not None
    store_proposals(image, [fake_mask(square(1, 1, 5))])

    answer = api_client(user_in(image.project, "annotator")).post(
        url(image, f"{old.pk}/accept/"), {"label_class": cat.pk}, format="json"
    )
    assert answer.status_code == 404


@pytest.mark.parametrize(("role", "expected"), [("viewer", 403), ("annotator", 201)])
def test_accept_all_takes_those_above_the_confidence_with_one_label(
    role: str, expected: int, image: Image, user_in: Any, api_client: Any
) -> None:
    dog = make_label_class(image.project, "dog")

    answer = api_client(user_in(image.project, role)).post(
        url(image, "accept-all/"), {"label_class": dog.pk, "min_iou": 0.9}, format="json"
    )

    assert answer.status_code == expected
    if expected == 201:
        body = answer.json()
        assert (body["created"], body["skipped_covered"]) == (2, 0)
        made = Annotation.objects.filter(image=image)
        assert sorted(a.area for a in made) == [64, 100]
        assert {(a.source, a.label_class_id) for a in made} == {("proposal", dog.pk)}
        # The answer names exactly the annotations made, most confident proposal first.
        listed = body["annotations"]
        assert sorted(a["id"] for a in listed) == sorted(a.pk for a in made)
        assert [a["area"] for a in listed] == [100, 64]
        assert {(a["source"], a["label_class"], a["version"]) for a in listed} == {
            ("proposal", dog.pk, 1)
        }
        by_id = {a.pk: a for a in made}
        assert all(a["proposal_id"] == by_id[a["id"]].proposal_id for a in listed)
        assert len(api_client(user_in(image.project, "viewer")).get(url(image)).json()) == 1
    else:
        assert not Annotation.objects.exists()


def test_accept_all_leaves_out_proposals_already_drawn_by_hand(
    image: Image, user_in: Any, api_client: Any
) -> None:
    dog = make_label_class(image.project, "dog")
    client = api_client(user_in(image.project, "annotator"))
    from webapp.annotations import rle

    drawn = rle.encode(square(2, 3, 10))
    assert (
        client.post(
            f"/api/projects/{image.project_id}/images/{image.pk}/annotations/",
            {"label_class": dog.pk, "rle": drawn},
            format="json",
        ).status_code
        == 201
    )

    answer = client.post(
        url(image, "accept-all/"), {"label_class": dog.pk, "min_iou": 0.5}, format="json"
    )

    made = Annotation.objects.filter(image=image, source="proposal")
    assert answer.json()["created"] == 2 and answer.json()["skipped_covered"] == 1
    assert {a["id"] for a in answer.json()["annotations"]} == {a.pk for a in made}
    assert made.count() == 2
    # Asked again, nothing is made twice.
    again = client.post(
        url(image, "accept-all/"), {"label_class": dog.pk, "min_iou": 0.5}, format="json"
    )
    assert again.json() == {
        "created": 0,
        "skipped_covered": 1,
        "skipped_unsure": 0,
        "skipped_whole_image": 0,
        "annotations": [],
    }


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"label_class": "x"},
        {"label_class": 1, "min_iou": 2},
        {"label_class": 1, "suggested": True},
        {"suggested": False},
        {"suggested": "sometimes"},
    ],
)
def test_accept_all_refuses_a_bad_request(
    body: dict[str, Any], image: Image, user_in: Any, api_client: Any
) -> None:
    answer = api_client(user_in(image.project, "annotator")).post(
        url(image, "accept-all/"), body, format="json"
    )
    assert answer.status_code == 400


def test_accept_all_leaves_out_a_proposal_of_the_whole_image(
    make_project: Any, media_root: Path, user_in: Any, api_client: Any
) -> None:
    image = encoded_image(make_project())
    frame = np.ones((48, 64), dtype=bool)
    frame[0, :3] = False  # 99 % of the frame, and the most confident
    store_proposals(image, [fake_mask(frame, 0.99), fake_mask(square(2, 3, 10), 0.95)])
    dog = make_label_class(image.project, "dog")
    client = api_client(user_in(image.project, "annotator"))

    answer = client.post(url(image, "accept-all/"), {"label_class": dog.pk}, format="json")

    body = answer.json()
    assert (body["created"], body["skipped_whole_image"], body["skipped_covered"]) == (1, 1, 0)
    assert [a.area for a in Annotation.objects.filter(image=image)] == [100]
    # The class the person chose for all of them: not a suggested one.
    assert body["annotations"][0]["class_suggested"] is False
    # A click still accepts it, as any proposal.
    frame_proposal = Proposal.objects.of_image(image).first()
    assert frame_proposal is not None and frame_proposal.area == 48 * 64 - 3
    taken = client.post(
        url(image, f"{frame_proposal.pk}/accept/"), {"label_class": dog.pk}, format="json"
    )
    assert taken.status_code == 201


def test_accept_all_with_the_suggested_classes_takes_only_the_confident_ones(
    image: Image, user_in: Any, api_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    import webapp.suggestions

    cat, dog = make_label_class(image.project, "cat"), make_label_class(image.project, "dog")
    Proposal.objects.filter(image=image).update(feature=np.ones(256, dtype="<f2").tobytes())
    confident, unsure, low = Proposal.objects.of_image(image)  # most confident first

    def rank_many(project: Any, features: list[np.ndarray], **options: Any) -> list[Any]:
        assert len(features) == 2  # the proposals above min_iou only
        return [
            [{"label_class": dog.pk, "name": "dog", "confidence": 0.9, "preselect": True}],
            [{"label_class": cat.pk, "name": "cat", "confidence": 0.6, "preselect": False}],
        ]

    monkeypatch.setattr(webapp.suggestions, "rank_many", rank_many)
    client = api_client(user_in(image.project, "annotator"))

    answer = client.post(url(image, "accept-all/"), {"suggested": True}, format="json")

    assert answer.status_code == 201, answer.content
    body = answer.json()
    assert (body["created"], body["skipped_covered"], body["skipped_unsure"]) == (1, 0, 1)
    made = Annotation.objects.get(image=image)
    assert (made.proposal_id, made.label_class_id, made.source) == (
        confident.pk,
        dog.pk,
        "proposal",
    )
    assert [a["id"] for a in body["annotations"]] == [made.pk]
    # No person chose its class: the annotation says so (for reviewers, and so that the
    # suggester does not learn from its own guess).
    assert made.class_suggested and body["annotations"][0]["class_suggested"] is True
    # The unsure one (and the one below min_iou) stay open for a person.
    assert {p["id"] for p in client.get(url(image)).json()} == {unsure.pk, low.pk}
    viewer = api_client(user_in(image.project, "viewer"))
    refused = viewer.post(url(image, "accept-all/"), {"suggested": True}, format="json")
    assert refused.status_code == 403


def test_the_status_says_how_many_proposals_the_last_run_made(
    image: Image, user_in: Any, api_client: Any, make_project: Any
) -> None:
    body = api_client(user_in(image.project, "viewer")).get(url(image, "status/")).json()
    assert (body["status"], body["proposal_count"]) == ("done", 3)

    fresh = encoded_image(make_project())
    body = api_client(user_in(fresh.project, "viewer")).get(url(fresh, "status/")).json()
    assert body["status"] == "none"
    outsider = user_in(fresh.project, "outsider")
    assert api_client(outsider).get(url(fresh, "status/")).status_code == 404


def generate(client: Any, project_id: int, body: dict[str, Any]) -> Any:
    return client.post(f"/api/projects/{project_id}/proposals/generate/", body, format="json")


@pytest.mark.parametrize(
    ("role", "expected"),
    [("viewer", 403), ("annotator", 202), ("manager", 202), ("outsider", 404)],
)
def test_members_who_label_ask_for_the_proposals_of_their_images(
    role: str,
    expected: int,
    make_project: Any,
    media_root: Path,
    user_in: Any,
    api_client: Any,
    queued: list[int],
    django_capture_on_commit_callbacks: Any,
) -> None:
    project = make_project()
    image = encoded_image(project)

    with django_capture_on_commit_callbacks(execute=True):
        answer = generate(api_client(user_in(project, role)), project.pk, {"images": [image.pk]})

    assert answer.status_code == expected
    if expected == 202:
        assert answer.json() == {"queued": [image.pk], "unchanged": []}
        assert queued == [image.pk]
        assert ProposalRun.objects.get(image=image).status == "pending"
    else:
        assert queued == [] and not ProposalRun.objects.exists()


def test_only_managers_ask_for_many_images_or_all(
    make_project: Any, media_root: Path, user_in: Any, api_client: Any, queued: list[int]
) -> None:
    project = make_project()
    images = [encoded_image(project, width=8 + n, height=8) for n in range(FEW_IMAGES + 1)]
    ids = [i.pk for i in images]
    annotator = api_client(user_in(project, "annotator"))
    manager = api_client(user_in(project, "manager"))

    assert generate(annotator, project.pk, {"images": ids}).status_code == 403
    assert generate(annotator, project.pk, {"all": True}).status_code == 403
    answer = generate(manager, project.pk, {"all": True})
    assert answer.status_code == 202
    assert sorted(answer.json()["queued"]) == ids
    # Done or under way with the same parameters: not asked for again.
    assert generate(manager, project.pk, {"images": ids[:2]}).json() == {
        "queued": [],
        "unchanged": ids[:2],
    }


@pytest.mark.parametrize(
    "body", [{}, {"images": []}, {"images": ["a"]}, {"images": [1], "all": True}, {"all": False}]
)
def test_generate_refuses_a_bad_request(
    body: dict[str, Any], make_project: Any, user_in: Any, api_client: Any
) -> None:
    project = make_project()
    answer = generate(api_client(user_in(project, "manager")), project.pk, body)
    assert answer.status_code == 400


def test_generate_refuses_images_of_another_project(
    image: Image, make_project: Any, user_in: Any, api_client: Any
) -> None:
    other = make_project()
    answer = generate(api_client(user_in(other, "owner")), other.pk, {"images": [image.pk]})
    assert answer.status_code == 400
    assert str(image.pk) in json.dumps(answer.json())


def test_an_export_holds_accepted_proposals_and_never_the_others(
    image: Image, user_in: Any, api_client: Any, tmp_path: Path
) -> None:
    cat = make_label_class(image.project)
    accepted = Proposal.objects.of_image(image).first()
    assert accepted is not None
    api_client(user_in(image.project, "annotator")).post(
        url(image, f"{accepted.pk}/accept/"), {"label_class": cat.pk}, format="json"
    )

    out = tmp_path / "export.zip"
    write_export(out, image.project, ExportOptions(format="coco", image_scope="all"))
    coco = json.loads(zipfile.ZipFile(out).read("annotations.json"))

    assert Proposal.objects.filter(image=image).count() == 3
    assert [(a["image_id"], a["area"]) for a in coco["annotations"]] == [(image.pk, 100)]
    assert coco["annotations"][0]["segmentation"] == accepted.rle


def test_a_proposal_with_a_pooled_feature_carries_the_suggested_class(
    image: Image, user_in: Any, api_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    import webapp.suggestions

    cat = make_label_class(image.project)
    first = Proposal.objects.of_image(image).first()
    assert first is not None
    Proposal.objects.filter(pk=first.pk).update(feature=np.full(256, 0.0625, dtype="<f2").tobytes())
    seen: list[np.ndarray] = []

    def rank(project: Any, feature: np.ndarray, **options: Any) -> list[dict[str, Any]]:
        seen.append(feature)
        return [{"label_class": cat.pk, "name": "cat", "confidence": 0.8, "preselect": True}]

    monkeypatch.setattr(webapp.suggestions, "rank", rank)
    monkeypatch.delattr(webapp.suggestions, "rank_many", raising=False)

    body = api_client(user_in(image.project, "annotator")).get(url(image)).json()

    assert body[0]["suggestion"] == {"label_class": cat.pk, "confidence": 0.8, "preselect": True}
    assert [p["suggestion"] for p in body[1:]] == [None, None]  # no feature: no suggestion
    assert len(seen) == 1 and seen[0].shape == (256,) and seen[0].dtype == np.float32


def test_the_suggestions_of_an_images_proposals_read_the_examples_once(
    image: Image, user_in: Any, api_client: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    import webapp.suggestions

    cat = make_label_class(image.project)
    dog = make_label_class(image.project, "dog")
    Proposal.objects.filter(image=image).update(feature=np.ones(256, dtype="<f2").tobytes())
    calls: list[int] = []

    def rank_many(project: Any, features: list[np.ndarray], **options: Any) -> list[Any]:
        calls.append(len(features))
        return [[{"label_class": cat.pk, "name": "cat", "confidence": 0.6, "preselect": False}],
                [], [{"label_class": dog.pk, "name": "dog", "confidence": 0.9, "preselect": True}],
        ]  # fmt: skip

    monkeypatch.setattr(webapp.suggestions, "rank_many", rank_many)

    body = api_client(user_in(image.project, "viewer")).get(url(image)).json()

    assert calls == [3]
    assert [p["suggestion"] for p in body] == [
        {"label_class": cat.pk, "confidence": 0.6, "preselect": False},
        None,
        {"label_class": dog.pk, "confidence": 0.9, "preselect": True},
    ]


def test_a_mask_refined_from_a_proposal_is_saved_with_its_proposal(
    image: Image, user_in: Any, api_client: Any, make_project: Any
) -> None:
    from webapp.annotations import rle

    cat = make_label_class(image.project)
    proposal = Proposal.objects.of_image(image).first()
    other = encoded_image(make_project())
    store_proposals(other, [fake_mask(square(2, 3, 10), 0.95)])
    foreign = Proposal.objects.of_image(other).get()
    client = api_client(user_in(image.project, "annotator"))
    annotations = f"/api/projects/{image.project_id}/images/{image.pk}/annotations/"
    body = {"label_class": cat.pk, "rle": rle.encode(square(2, 3, 12))}

    saved = client.post(annotations, {**body, "proposal_id": proposal.pk}, format="json")
    foreign_id = client.post(annotations, {**body, "proposal_id": foreign.pk}, format="json")
    unknown_id = client.post(annotations, {**body, "proposal_id": 10**12}, format="json")
    edited = client.patch(
        f"/api/projects/{image.project_id}/annotations/{saved.json()['id']}/",
        {"proposal_id": proposal.pk, "version": 1},
        format="json",
    )

    assert saved.status_code == 201
    assert (saved.json()["source"], saved.json()["proposal_id"]) == ("proposal", proposal.pk)
    assert foreign_id.status_code == unknown_id.status_code == 400
    assert "proposal_id" in foreign_id.json()
    assert edited.status_code == 400
    assert Annotation.objects.count() == 1
