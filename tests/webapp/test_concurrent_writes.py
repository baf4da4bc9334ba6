"""The database under concurrent writers: a worker's export runs while annotators save,
on the default SQLite set-up (and on PostgreSQL, when the suite runs there).

Before SQLite ran in WAL mode with a busy timeout and immediate write transactions, the
export's cursor held the database's shared lock while an annotator's save waited for it,
and the export's next progress write then failed with "database is locked": the export
ended "failed" and saves failed too.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.db import connection, connections
from django.urls import reverse

from tests.webapp.celery_processes import broker_for_this_process, wait_for
from tests.webapp.factories_exports import annotate, make_picture_row, square
from tests.webapp.factories_images import small_png
from tests.webapp.factories_imports import post_import, zip_bytes, zip_file
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.exports import exporter, services
from webapp.exports.models import Export
from webapp.images.models import Image
from webapp.projects.models import LabelClass

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]

IMAGES = 20
PER_IMAGE = 60  # 1,200 annotations: several seconds of export on a 2-core machine
IMPORTED = 300  # images in the imported YOLO archive (small enough to import in the request)


class Annotators(threading.Thread):
    """Saves one annotation every ``every`` seconds, each in its own short transaction
    on its own connection, as annotators' requests do, until stopped; counts what was
    saved and keeps what failed."""

    def __init__(self, image: Any, label: LabelClass, every: float) -> None:
        super().__init__(daemon=True)
        self.image, self.label, self.every = image, label, every
        self.saved = 0
        self.failures: list[str] = []
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                try:
                    annotate(self.image, self.label, square(2, 2, 6, height=48, width=64))
                    self.saved += 1
                except Exception as exc:  # what a user would see as a failed save
                    self.failures.append(repr(exc))
                self.stop.wait(self.every)
        finally:
            connections.close_all()


def test_an_export_on_the_worker_finishes_while_annotators_save(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path, redis_server: Any,
    start_worker: Any,
) -> None:  # fmt: skip
    project = make_project()
    label = LabelClass.objects.create(project=project, name="cat")
    images = [make_picture_row(project, f"photo{n}.png", 64, 48) for n in range(IMAGES)]
    encoded = rle.encode(square(10, 10, 20, height=48, width=64))
    Annotation.objects.bulk_create(
        Annotation(
            image=image,
            label_class=label,
            rle=encoded,
            bbox=rle.bbox(encoded),
            area=rle.area(encoded),
        )
        for image in images
        for _ in range(PER_IMAGE)
    )
    client = api_client(user_in(project, "reviewer"))
    with (
        mock.patch.object(services, "RUN_IN_REQUEST_UP_TO", 0),
        broker_for_this_process(redis_server.url),
    ):
        response = client.post(
            reverse("export-list", args=[project.pk]),
            {"format": "coco", "include_images": False, "image_scope": "annotated"},
            format="json",
        )
    assert response.status_code == 202
    export_id = response.data["id"]

    annotators = Annotators(images[0], label, every=0.02)
    annotators.start()
    start_worker(redis_server.url, media_root)
    try:
        wait_for(
            lambda: Export.objects.filter(pk=export_id, status__in=["done", "failed"]).exists(),
            timeout=180,
            what="the worker to finish the export",
        )
    finally:
        annotators.stop.set()
        annotators.join(30)

    export = Export.objects.get(pk=export_id)
    assert (export.status, export.error) == ("done", "")
    # Annotations saved while the export read may be in it too.
    assert export.progress_done == export.progress_total >= IMAGES * PER_IMAGE
    assert annotators.failures == []
    assert annotators.saved > 10
    assert Annotation.objects.count() == IMAGES * PER_IMAGE + annotators.saved


def test_the_sqlite_database_runs_in_wal_mode_with_a_busy_timeout() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("a SQLite setting")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        (mode,) = cursor.fetchone()
        cursor.execute("PRAGMA busy_timeout")
        (busy_ms,) = cursor.fetchone()
    assert mode == "wal"
    assert busy_ms >= 10_000


def test_progress_that_cannot_be_written_does_not_fail_the_export(
    make_project: Any, media_root: Path
) -> None:
    from django.db import OperationalError
    from django.db.models import QuerySet

    project = make_project()
    label = LabelClass.objects.create(project=project, name="cat")
    image = make_picture_row(project, "photo.png", 64, 48)
    for _ in range(3):
        annotate(image, label, square(2, 2, 6, height=48, width=64))
    export = Export.objects.create(
        project=project, format="coco", options={"include_images": False}, progress_total=3
    )
    assert export.claim()

    real_update = QuerySet.update

    def locked(queryset: QuerySet[Any], **fields: object) -> int:
        # Every progress write meets a locked database; the final write does not.
        if "progress_done" in fields and "status" not in fields:
            raise OperationalError("database is locked")
        return real_update(queryset, **fields)

    started = time.monotonic()
    with mock.patch.object(QuerySet, "update", locked):
        exporter.store_export(export)
    assert time.monotonic() - started < 30

    export.refresh_from_db()
    assert (export.status, export.error) == ("done", "")


def test_a_dataset_import_is_stored_while_annotators_save(
    make_project: Any, user_in: Any, api_client: Any, media_root: Path
) -> None:
    project = make_project()
    label = LabelClass.objects.create(project=project, name="cat")
    photo = make_picture_row(project, "already-here.png", 64, 48)
    box = "0 0.1 0.1 0.5 0.1 0.5 0.5 0.1 0.5\n"
    members = {"data.yaml": b"names: [cat]\n"}
    for n in range(IMPORTED):
        members[f"images/train/{n}.png"] = small_png(1000 + n)
        members[f"labels/train/{n}.txt"] = box.encode()
    archive = zip_bytes(members)
    client = api_client(user_in(project, "manager"))

    annotators = Annotators(photo, label, every=0.002)
    annotators.start()
    try:
        response = post_import(client, project, zip_file(archive), format="yolo")
    finally:
        annotators.stop.set()
        annotators.join(30)

    assert response.status_code == 201, response.content[:500]
    assert Image.objects.filter(project=project).count() == IMPORTED + 1
    assert Annotation.objects.filter(image__project=project).count() == (
        IMPORTED + annotators.saved
    )
    assert annotators.failures == []
    assert annotators.saved > 10
