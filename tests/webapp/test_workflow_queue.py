"""Handing out work: "next image" for annotators and reviewers, leases, assignment."""

from __future__ import annotations

import threading
from datetime import timedelta
from typing import Any

import pytest
from django.db import connections
from django.utils import timezone

from tests.webapp.conftest import AddMember, ApiClientFor, MakeImageRow, MakeProject, MakeUser
from webapp.workflow.models import Event, WorkItem, WorkState
from webapp.workflow.queue import release_expired_leases

S = WorkState


def next_image(client: Any, project: Any, stage: str = "annotate") -> Any:
    return client.post(f"/api/projects/{project.pk}/work/next/", {"stage": stage}, format="json")


@pytest.fixture
def world(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow,
) -> dict[str, Any]:  # fmt: skip
    project = make_project(owner=make_user(username="olga"))
    people = {}
    for name, role in [("ann", "annotator"), ("bob", "annotator"), ("rita", "reviewer"),
                       ("max", "manager")]:  # fmt: skip
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    images = [make_image_row(project, name=f"p{n}.png", status="ready") for n in range(4)]
    return {"project": project, "people": people, "images": images}


@pytest.mark.django_db
def test_next_gives_the_first_new_image_and_holds_it(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    project, ann = world["project"], world["people"]["ann"]

    response = next_image(api_client(ann), project)

    assert response.status_code == 200
    body = response.json()
    assert body["item"]["image"] == world["images"][0].pk
    assert body["item"]["state"] == "annotating"
    assert body["item"]["annotator"] == "ann"
    assert body["position"] == 1
    # The queue goes on with the three new images nobody was given.
    assert body["queue_size"] == 4
    item = WorkItem.objects.get(pk=world["images"][0].pk)
    assert item.lease_expires_at > timezone.now() + timedelta(minutes=29)
    # Asking again gives the same image back (it is still theirs), not a second one.
    again = next_image(api_client(ann), project).json()
    assert again["item"]["image"] == world["images"][0].pk
    assert WorkItem.objects.filter(state=S.ANNOTATING).count() == 1


@pytest.mark.django_db
def test_next_prefers_what_was_sent_back_then_what_was_given(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    project, people, images = world["project"], world["people"], world["images"]
    WorkItem.objects.filter(pk=images[3].pk).update(
        state=S.REJECTED, annotator=people["ann"], reviewer=people["rita"]
    )
    WorkItem.objects.filter(pk=images[2].pk).update(assignee=people["ann"])
    client = api_client(people["ann"])

    first = next_image(client, project).json()["item"]["image"]
    client.post(f"/api/projects/{project.pk}/images/{first}/work/submit/")
    second = next_image(client, project).json()["item"]["image"]

    assert (first, second) == (images[3].pk, images[2].pk)


@pytest.mark.django_db
def test_images_still_encoding_are_not_handed_out_and_the_end_is_explained(
    make_project: MakeProject, make_user: MakeUser, make_image_row: MakeImageRow,
    api_client: ApiClientFor,
) -> None:  # fmt: skip
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    make_image_row(project, status="encoding")

    body = next_image(api_client(owner), project).json()

    assert body["item"] is None
    assert "1 more are still being prepared" in body["detail"]


@pytest.mark.django_db
def test_reviewers_get_submitted_images_of_others_never_their_own(
    world: dict[str, Any], api_client: ApiClientFor, add_member: AddMember, make_user: MakeUser
) -> None:
    project, people, images = world["project"], world["people"], world["images"]
    WorkItem.objects.filter(pk=images[0].pk).update(state=S.SUBMITTED, annotator=people["rita"])
    WorkItem.objects.filter(pk=images[1].pk).update(state=S.SUBMITTED, annotator=people["ann"])

    body = next_image(api_client(people["rita"]), project, "review").json()

    assert body["item"]["image"] == images[1].pk
    assert body["item"]["state"] == "in_review"
    assert body["item"]["reviewer"] == "rita"
    annotator_asks = next_image(api_client(people["ann"]), project, "review")
    assert annotator_asks.status_code == 403


@pytest.mark.django_db
def test_an_expired_lease_gives_the_image_back_and_a_renewed_one_does_not(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    people, images = world["people"], world["images"]
    past = timezone.now() - timedelta(seconds=1)
    future = timezone.now() + timedelta(minutes=5)
    WorkItem.objects.filter(pk=images[0].pk).update(
        state=S.ANNOTATING, annotator=people["ann"], lease_expires_at=past
    )
    WorkItem.objects.filter(pk=images[1].pk).update(
        state=S.ANNOTATING, annotator=people["bob"], lease_expires_at=future
    )
    WorkItem.objects.filter(pk=images[2].pk).update(
        state=S.IN_REVIEW, annotator=people["bob"], reviewer=people["rita"], lease_expires_at=past
    )
    WorkItem.objects.filter(pk=images[3].pk).update(
        state=S.ANNOTATING, annotator=people["ann"], reviewer=people["rita"],
        assignee=people["ann"], lease_expires_at=past,
    )  # fmt: skip

    assert release_expired_leases() == 3

    states = {i.pk: (i.state, i.annotator_id, i.reviewer_id) for i in WorkItem.objects.all()}
    assert states[images[0].pk] == (S.NEW, None, None)
    assert states[images[1].pk] == (S.ANNOTATING, people["bob"].pk, None)
    assert states[images[2].pk] == (S.SUBMITTED, people["bob"].pk, None)
    # Sent back by a reviewer before: it stays with its annotator, rejected.
    assert states[images[3].pk] == (S.REJECTED, people["ann"].pk, people["rita"].pk)
    assert Event.objects.filter(action="lease_expired").count() == 3


@pytest.mark.django_db
def test_the_holder_renews_the_lease_with_a_heartbeat(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    project, people, images = world["project"], world["people"], world["images"]
    soon = timezone.now() + timedelta(seconds=30)
    WorkItem.objects.filter(pk=images[0].pk).update(
        state=S.ANNOTATING, annotator=people["ann"], lease_expires_at=soon
    )
    url = f"/api/projects/{project.pk}/images/{images[0].pk}/work/heartbeat/"

    assert api_client(people["bob"]).post(url).status_code == 409
    assert api_client(people["ann"]).post(url).status_code == 200
    renewed = WorkItem.objects.get(pk=images[0].pk).lease_expires_at
    assert renewed > timezone.now() + timedelta(minutes=29)


@pytest.mark.django_db
def test_managers_split_images_evenly_and_take_them_back(
    world: dict[str, Any], api_client: ApiClientFor
) -> None:
    project, people, images = world["project"], world["people"], world["images"]
    url = f"/api/projects/{project.pk}/work/assign/"
    manager = api_client(people["max"])

    split = manager.post(url, {"state": "new", "split_among": ["ann", "bob"]}, format="json")
    given = dict(WorkItem.objects.values_list("pk", "assignee__username"))
    annotator_tries = api_client(people["ann"]).post(url, {"state": "new"}, format="json")
    viewer_named = manager.post(url, {"state": "new", "to": "olga", "stage": "review"},
                                format="json")  # fmt: skip
    back = manager.post(url, {"images": [images[0].pk]}, format="json")

    assert split.status_code == 200
    assert split.json()["counts"] == {"ann": 2, "bob": 2}
    assert [given[i.pk] for i in images] == ["ann", "bob", "ann", "bob"]
    assert annotator_tries.status_code == 403
    assert viewer_named.status_code == 200  # the owner may review
    assert back.status_code == 200
    assert WorkItem.objects.get(pk=images[0].pk).assignee is None
    assert Event.objects.filter(kind="assigned").count() == 3


@pytest.mark.django_db
def test_giving_images_to_a_non_member_or_a_viewer_is_refused(
    world: dict[str, Any], api_client: ApiClientFor, make_user: MakeUser, add_member: AddMember
) -> None:
    project, people = world["project"], world["people"]
    add_member(project, make_user(username="vic"), "viewer")
    make_user(username="stranger")
    url = f"/api/projects/{project.pk}/work/assign/"
    manager = api_client(people["max"])

    stranger = manager.post(url, {"state": "new", "to": "stranger"}, format="json")
    viewer = manager.post(url, {"state": "new", "to": "vic"}, format="json")
    reviewer_to_label = manager.post(url, {"state": "new", "to": "rita"}, format="json")
    annotator_to_review = manager.post(
        url, {"state": "new", "to": "ann", "stage": "review"}, format="json"
    )

    assert stranger.status_code == 400
    assert viewer.status_code == 400
    assert reviewer_to_label.status_code == 200  # reviewers may label too
    assert annotator_to_review.status_code == 400
    assert not WorkItem.objects.filter(review_assignee__isnull=False).exists()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_annotators_asking_at_the_same_moment_never_get_the_same_image(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow, api_client: ApiClientFor,
) -> None:  # fmt: skip
    """Real threads, each with its own database connection (on PostgreSQL: FOR UPDATE
    SKIP LOCKED; on SQLite: immediate write transactions)."""
    annotators = 12
    project = make_project(owner=make_user(username="olga"))
    images = [make_image_row(project, status="ready") for _ in range(annotators * 3)]
    people = [make_user(username=f"a{n}") for n in range(annotators)]
    for person in people:
        add_member(project, person, "annotator")
    got: dict[str, list[int]] = {p.get_username(): [] for p in people}
    failures: list[str] = []
    start = threading.Barrier(annotators)

    def work(person: Any) -> None:
        client = api_client(person)
        try:
            start.wait()
            for _ in range(3):
                body = next_image(client, project).json()
                image = body["item"]["image"]
                got[person.get_username()].append(image)
                submitted = client.post(f"/api/projects/{project.pk}/images/{image}/work/submit/")
                if submitted.status_code != 200:
                    failures.append(f"submit {image}: {submitted.status_code}")
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert not failures, failures
    handed_out = [image for images_of in got.values() for image in images_of]
    assert len(handed_out) == len(images)
    assert len(set(handed_out)) == len(handed_out), "an image was given to two annotators"
    assert WorkItem.objects.filter(state=S.SUBMITTED).count() == len(images)
    for name, images_of in got.items():
        assert set(
            WorkItem.objects.filter(pk__in=images_of).values_list("annotator__username", flat=True)
        ) == {name}


@pytest.mark.django_db
def test_active_time_adds_up_per_member_and_day(
    world: dict[str, Any], api_client: ApiClientFor, make_user: MakeUser
) -> None:
    from webapp.workflow.models import ActiveTime

    project, people = world["project"], world["people"]
    url = f"/api/projects/{project.pk}/work/active-time/"

    for seconds in (30, 45):
        assert api_client(people["ann"]).post(url, {"seconds": seconds}).status_code == 204
    too_much = api_client(people["ann"]).post(url, {"seconds": 3600})
    outsider = api_client(make_user(username="eve")).post(url, {"seconds": 5})

    assert too_much.status_code == 400
    assert outsider.status_code == 404
    row = ActiveTime.objects.get(project=project, user=people["ann"])
    assert row.seconds == 75
    assert row.day == timezone.now().date()


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
def test_reviewers_asking_at_the_same_moment_never_review_the_same_image(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow, api_client: ApiClientFor,
) -> None:  # fmt: skip
    reviewers = 8
    project = make_project(owner=make_user(username="olga"))
    ann = make_user(username="ann")
    add_member(project, ann, "annotator")
    images = [make_image_row(project, status="ready") for _ in range(reviewers * 2)]
    WorkItem.objects.update(state=S.SUBMITTED, annotator=ann)
    people = [make_user(username=f"r{n}") for n in range(reviewers)]
    for person in people:
        add_member(project, person, "reviewer")
    got: dict[str, list[int]] = {p.get_username(): [] for p in people}
    failures: list[str] = []
    start = threading.Barrier(reviewers)

    def review(person: Any) -> None:
        client = api_client(person)
        try:
            start.wait()
            for verdict in ("accept", "reject"):
                image = next_image(client, project, "review").json()["item"]["image"]
                got[person.get_username()].append(image)
                decided = client.post(
                    f"/api/projects/{project.pk}/images/{image}/work/{verdict}/",
                    {"reason": "checked"},
                    format="json",
                )
                if decided.status_code != 200:
                    failures.append(f"{verdict} {image}: {decided.status_code}")
        except Exception as exc:
            failures.append(repr(exc))
        finally:
            connections.close_all()

    threads = [threading.Thread(target=review, args=(p,)) for p in people]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert not failures, failures
    reviewed = [image for of_one in got.values() for image in of_one]
    assert sorted(reviewed) == sorted(image.pk for image in images)
    assert WorkItem.objects.filter(state=S.ACCEPTED).count() == reviewers
    assert WorkItem.objects.filter(state=S.REJECTED).count() == reviewers
    for name, of_one in got.items():
        assert set(
            WorkItem.objects.filter(pk__in=of_one).values_list("reviewer__username", flat=True)
        ) == {name}
