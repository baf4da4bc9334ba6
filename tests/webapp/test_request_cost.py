"""What one API request costs the database: the hot endpoints of a team labelling (next
image, saving an annotation, submitting, the work list) stay within a fixed number of
queries, with real token authentication; and the settings that keep database connections
open between requests.

The bounds count every statement Django sends, transaction savepoints included (the test
runs inside a transaction, so each ``atomic`` block shows as a savepoint pair).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from tests.webapp.conftest import AddMember, MakeImageRow, MakeProject, MakeUser, RunManage
from webapp.annotations import rle
from webapp.projects.models import LabelClass

# Measured when written; a new query on these paths should be a decision, not an accident.
# A save also keeps the image's annotation count and its class and author's tally (two
# updates, and an insert for the first of its kind), and checks that the saver holds the
# image, renewing their lease in the same update; a submit its member's figures of the day.
MAX_QUERIES = {"next": 9, "save": 13, "submit": 8, "work list": 4, "project list": 3}


@pytest.fixture
def team(
    make_project: MakeProject, make_user: MakeUser, add_member: AddMember,
    make_image_row: MakeImageRow,
) -> dict[str, Any]:  # fmt: skip
    project = make_project(owner=make_user(username="olga"))
    label = LabelClass.objects.create(project=project, name="cat")
    ann = make_user(username="ann")
    add_member(project, ann, "annotator")
    images = [make_image_row(project, status="ready") for _ in range(3)]
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=ann).key}")
    return {"project": project, "label": label, "client": client, "images": images}


def counted(request: Any) -> tuple[Any, list[str]]:
    with CaptureQueriesContext(connection) as queries:
        response = request()
    return response, [q["sql"] for q in queries.captured_queries]


def within(name: str, statements: list[str]) -> None:
    assert len(statements) <= MAX_QUERIES[name], "\n".join([name, *statements])


@pytest.mark.django_db
def test_labelling_an_image_takes_a_bounded_number_of_queries(team: dict[str, Any]) -> None:
    client, p = team["client"], team["project"].pk
    mask = np.zeros((3, 4), dtype=bool)
    mask[1, 1:3] = True

    taken, next_queries = counted(lambda: client.post(f"/api/projects/{p}/work/next/", {}))
    image = taken.json()["item"]["image"]
    saved, save_queries = counted(
        lambda: client.post(
            f"/api/projects/{p}/images/{image}/annotations/",
            {"label_class": team["label"].pk, "rle": rle.encode(mask)},
            format="json",
        )
    )
    submitted, submit_queries = counted(
        lambda: client.post(f"/api/projects/{p}/images/{image}/work/submit/", {})
    )
    listed, list_queries = counted(lambda: client.get(f"/api/projects/{p}/work/"))
    projects, project_queries = counted(lambda: client.get("/api/projects/"))

    assert (taken.status_code, saved.status_code, submitted.status_code) == (200, 201, 200)
    assert submitted.json()["state"] == "submitted"
    assert listed.status_code == projects.status_code == 200
    within("next", next_queries)
    within("save", save_queries)
    within("submit", submit_queries)
    within("work list", list_queries)
    within("project list", project_queries)


@pytest.mark.django_db
def test_finding_the_project_and_the_role_is_one_query(team: dict[str, Any]) -> None:
    """project_for reads the project and the member's role together; the view's later
    questions about the role (may they annotate? which queue?) cost nothing more."""
    client, p = team["client"], team["project"].pk

    response, statements = counted(lambda: client.get(f"/api/projects/{p}/work/"))

    assert response.status_code == 200
    membership_reads = [s for s in statements if "projects_membership" in s]
    assert len(membership_reads) == 1, "\n".join(statements)


@pytest.mark.django_db
def test_outsiders_and_anonymous_clients_still_learn_nothing(
    team: dict[str, Any], make_user: MakeUser
) -> None:
    p = team["project"].pk
    outsider = APIClient()
    outsider.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=make_user()).key}")

    assert outsider.post(f"/api/projects/{p}/work/next/", {}).status_code == 404
    assert outsider.get(f"/api/projects/{p}/work/").status_code == 404
    assert APIClient().get(f"/api/projects/{p}/work/").status_code in {401, 403}


SHOW_CONNECTION_SETTINGS = (
    "from django.conf import settings; d = settings.DATABASES['default']; "
    "print(d['CONN_MAX_AGE'], d['CONN_HEALTH_CHECKS'])"
)


def test_postgresql_connections_stay_open_between_requests_by_default(
    run_manage: RunManage,
) -> None:
    postgres = "postgres://postgres@127.0.0.1:5432/unused"

    kept = run_manage(
        "shell", "--no-imports", "-c", SHOW_CONNECTION_SETTINGS, DATABASE_URL=postgres
    )
    closed = run_manage(
        "shell", "--no-imports", "-c", SHOW_CONNECTION_SETTINGS, DATABASE_URL=postgres,
        SAMLABEL_DB_CONN_MAX_AGE="0",
    )  # fmt: skip
    sqlite = run_manage(
        "shell", "--no-imports", "-c", SHOW_CONNECTION_SETTINGS, DATABASE_URL="sqlite:///:memory:"
    )

    assert kept.stdout.split() == ["60", "True"], kept.stderr
    assert closed.stdout.split() == ["0", "False"], closed.stderr
    assert sqlite.stdout.split() == ["0", "False"], sqlite.stderr


@pytest.mark.parametrize("value", ["-5", "a minute"])
def test_a_bad_connection_age_stops_the_start_naming_the_variable(
    run_manage: RunManage, value: str
) -> None:
    result = run_manage("check", SAMLABEL_DB_CONN_MAX_AGE=value)

    assert result.returncode != 0
    assert "SAMLABEL_DB_CONN_MAX_AGE" in result.stderr
