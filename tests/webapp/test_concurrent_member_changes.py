"""Managers changing members' roles at the same moment, on the default SQLite set-up (and
on PostgreSQL when the suite runs there).

Each change reads the membership and then writes it. Before SQLite took the write lock when
a transaction began, two such requests could each hold a read lock and wait for the other
to let go; SQLite answers that at once with "database is locked", whatever the busy
timeout, and the request failed with a 500 (3 of 15 rounds on a 2-core machine).
"""

from __future__ import annotations

import random
import threading

import pytest
from django.db import connections

from tests.webapp.conftest import AddMember, ApiClientFor, MakeProject, MakeUser, UserIn
from webapp.projects.models import Membership, Role

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

ROUNDS = 15
MANAGERS = 6
CHANGES_EACH = 8


def test_simultaneous_role_changes_all_answer_and_leave_an_owner(
    make_project: MakeProject,
    make_user: MakeUser,
    add_member: AddMember,
    user_in: UserIn,
    api_client: ApiClientFor,
) -> None:
    first_owner = make_user(username="olga")
    project = make_project(owner=first_owner)
    second_owner = make_user(username="oskar")
    add_member(project, second_owner, Role.OWNER)
    managers = [user_in(project, "manager") for _ in range(MANAGERS)]
    members = [user_in(project, "annotator") for _ in range(MANAGERS)]
    member_rows = list(Membership.objects.filter(project=project, user__in=members))
    owner_rows = {
        row.user_id: row for row in Membership.objects.filter(project=project, role=Role.OWNER)
    }
    statuses: list[int] = []
    failures: list[str] = []
    lock = threading.Lock()

    def change_roles(manager: object, seed: int) -> None:
        client = api_client(manager)
        chooser = random.Random(seed)
        try:
            for _ in range(CHANGES_EACH):
                row = chooser.choice(member_rows)
                role = chooser.choice([Role.ANNOTATOR, Role.REVIEWER, Role.VIEWER])
                response = client.patch(
                    f"/api/projects/{project.pk}/members/{row.pk}/", {"role": role}
                )
                with lock:
                    statuses.append(response.status_code)
        except Exception as exc:  # a crash inside the request, as a user sees a 500
            with lock:
                failures.append(repr(exc))
        finally:
            connections.close_all()

    def demote(owner: object, other_owner_id: int) -> None:
        # Two owners demoting each other at once: one may win, never both.
        client = api_client(owner)
        try:
            response = client.patch(
                f"/api/projects/{project.pk}/members/{owner_rows[other_owner_id].pk}/",
                {"role": Role.MANAGER},
            )
            with lock:
                statuses.append(response.status_code)
        except Exception as exc:
            with lock:
                failures.append(repr(exc))
        finally:
            connections.close_all()

    for round_number in range(ROUNDS):
        Membership.objects.filter(pk__in=[row.pk for row in owner_rows.values()]).update(
            role=Role.OWNER
        )
        threads = [
            threading.Thread(target=change_roles, args=(manager, round_number * 100 + n))
            for n, manager in enumerate(managers)
        ]
        threads += [
            threading.Thread(target=demote, args=(first_owner, second_owner.pk)),
            threading.Thread(target=demote, args=(second_owner, first_owner.pk)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)

        assert not failures, failures
        assert Membership.objects.filter(project=project, role=Role.OWNER).exists()

    expected = ROUNDS * (MANAGERS * CHANGES_EACH + 2)
    assert len(statuses) == expected
    # Every change answers; only the second owner demoted in a round may be refused
    # (the last owner stays an owner), with a 4xx that says why.
    assert all(status < 500 for status in statuses), sorted(set(statuses))
    assert statuses.count(200) >= ROUNDS * MANAGERS * CHANGES_EACH + ROUNDS
