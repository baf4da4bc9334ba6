"""Counts kept current as annotations and workflow moves change, so that the gallery, the
project page and the dashboard read a few rows instead of counting a million per request.

- ``WorkItem.annotation_count``: an image's annotations.
- :class:`~webapp.workflow.models.AnnotationTally`: per project, label class and author,
  annotations and the sum of their mask areas.
- :class:`~webapp.workflow.models.DailyWork`: per project, member and day (UTC), images
  submitted, accepted and rejected (verdicts count for the image's annotator).

Every change is written in the transaction of what it counts: annotation saves and
deletes (:class:`~webapp.annotations.models.Annotation`'s ``save``, ``delete``,
``apply_edit`` and ``delete_at_version``), dataset imports (``recount.annotations_imported`` after
their bulk insert), image deletion (``recount.image_deleted``, from a ``pre_delete``
receiver) and workflow moves (:func:`count_move`, from ``rules.perform``). Bulk changes
that go round these (``QuerySet.update`` or ``delete`` on annotations, raw SQL) must call
``recount.recount`` afterwards, as ``manage.py recount_tallies`` does.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import date
from typing import TYPE_CHECKING

from django.db import connection
from django.db.models import F

from webapp.workflow.models import AnnotationTally, DailyWork, WorkItem, WorkState

if TYPE_CHECKING:
    from webapp.annotations.models import Annotation

# One annotation as the counts see it: (project id, image id, label class id, author id
# or None, area in pixels).
AnnotationRow = tuple[int, int, int, int | None, int]
ROW_FIELDS = ("image__project_id", "image_id", "label_class_id", "author_id", "area")


def row_of(annotation: Annotation) -> AnnotationRow:
    """The counts' view of an annotation as it is in memory."""
    return (
        annotation.image.project_id,
        annotation.image_id,
        annotation.label_class_id,
        annotation.author_id,
        annotation.area,
    )


def count_annotations(rows: Iterable[AnnotationRow], sign: int = 1) -> None:
    """Add (``sign`` 1) or take away (-1) these annotations in every count: one UPDATE per
    (project, label class, author) and per image they touch."""
    count_changes([(row, sign) for row in rows])


def annotation_changed(before: AnnotationRow, after: AnnotationRow) -> None:
    """An annotation's label class or mask changed (same image and author)."""
    if before[2:] != after[2:]:
        count_changes([(before, -1), (after, 1)])


def count_changes(changes: Iterable[tuple[AnnotationRow, int]]) -> None:
    """Apply ``(row, sign)`` changes, rows in a fixed order (tallies by project, class and
    author, then images by id), so that two transactions touching the same rows lock
    them in the same order and cannot deadlock (PostgreSQL)."""
    tallies: dict[tuple[int, int, int | None], list[int]] = defaultdict(lambda: [0, 0])
    per_image: dict[int, int] = defaultdict(int)
    for (project_id, image_id, class_id, author_id, area), sign in changes:
        tally = tallies[(project_id, class_id, author_id)]
        tally[0] += sign
        tally[1] += sign * area
        per_image[image_id] += sign
    for key in sorted(tallies, key=lambda k: (k[0], k[1], k[2] or 0)):
        count, area_sum = tallies[key]
        add_to_tally(*key, count=count, area_sum=area_sum)
    for image_id in sorted(per_image):
        if per_image[image_id]:
            WorkItem.objects.filter(pk=image_id).update(
                annotation_count=F("annotation_count") + per_image[image_id]
            )


_TALLY_FIELDS = ("project", "label_class", "author", "count", "area_sum")


def add_to_tally(
    project_id: int, class_id: int, author_id: int | None, *, count: int, area_sum: int
) -> None:
    """Add to the lowest row of (project, label class, author), or make one."""
    if not count and not area_sum:
        return
    # The statement the ORM would send for filter(pk=Subquery(lowest row)).update(...),
    # written out: every save pays it, and building that update cost more CPU than running
    # it (webapp.core.compiled cannot keep an update).
    meta = AnnotationTally._meta
    quote = connection.ops.quote_name
    table, pk = quote(meta.db_table), quote(meta.pk.column)
    column = {name: quote(meta.get_field(name).column) for name in _TALLY_FIELDS}
    author = f"{column['author']} IS NULL" if author_id is None else f"{column['author']} = %s"
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} SET {column['count']} = {column['count']} + %s, "
            f"{column['area_sum']} = {column['area_sum']} + %s WHERE {pk} = ("
            f"SELECT {pk} FROM {table} WHERE {column['project']} = %s AND "
            f"{column['label_class']} = %s AND {author} ORDER BY {pk} LIMIT 1)",
            [count, area_sum, project_id, class_id, *([] if author_id is None else [author_id])],
        )
        changed = cursor.rowcount
    if not changed:
        AnnotationTally.objects.create(
            project_id=project_id,
            label_class_id=class_id,
            author_id=author_id,
            count=count,
            area_sum=area_sum,
        )


def count_move(
    project_id: int, action: str, to_state: str, actor_id: int | None,
    annotator_id: int | None, day: date,
) -> None:  # fmt: skip
    """Count a workflow move made on ``day`` (UTC): a submit for its ``actor`` (and an
    accept too when it accepted at once, review being off), an accept or reject for the
    image's annotator. Other moves count nothing."""
    if action == "submit":
        accepted = 1 if to_state == WorkState.ACCEPTED else 0
        add_to_day(project_id, actor_id, day, submitted=1, accepted=accepted)
    elif action == "accept":
        add_to_day(project_id, annotator_id, day, accepted=1)
    elif action == "reject":
        add_to_day(project_id, annotator_id, day, rejected=1)


def add_to_day(project_id: int, user_id: int | None, day: date, **figures: int) -> None:
    """Add ``figures`` (any of submitted, accepted, rejected) to the member's row of
    ``day``: one upsert (SQLite and PostgreSQL share its syntax), so a move costs one
    statement more and two first moves of a day at once cannot make two rows."""
    if user_id is None:
        return
    names = ["submitted", "accepted", "rejected"]
    values = [figures.get(name, 0) for name in names]
    table = DailyWork._meta.db_table
    quote = connection.ops.quote_name
    added = ", ".join(
        f"{quote(n)} = {quote(table)}.{quote(n)} + excluded.{quote(n)}" for n in names
    )
    columns = ", ".join(quote(n) for n in ["project_id", "user_id", "day", *names])
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {quote(table)} ({columns}) VALUES (%s, %s, %s, %s, %s, %s) "
            f"ON CONFLICT (project_id, user_id, day) DO UPDATE SET {added}",
            [project_id, user_id, connection.ops.adapt_datefield_value(day), *values],
        )
