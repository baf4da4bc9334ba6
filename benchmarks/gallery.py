"""``python -m benchmarks.gallery``: time to first byte of the project page (its gallery),
the gallery API and the dashboard on a project of 100,000 images and 1,000,000
annotations, served by gunicorn with ``DEBUG=0``.

The project is generated with bulk inserts, rows only: every image points at one tiny
shared file and thumbnail, every annotation holds one small mask; work items spread
over the workflow states and five annotators, review events and active time for the
last 14 days; then the counts the app keeps as it goes are rebuilt from those rows
(``recount_tallies``). The database is a temporary SQLite file unless ``--database URL`` names
another (it must be empty: the run migrates it and fills it).

Each URL is asked ``--repeat`` times after one warm-up request; prints the median and
the slowest time to first byte (from sending the request to the status line and
headers being read), then the machine.
"""

from __future__ import annotations

import argparse
import http.client
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

from benchmarks.upload_to_ready import free_port, machine, wait_until

BATCH = 20_000
ANNOTATORS = 5
REVIEWERS = 2
CLASSES = 10


def insert_rows(model: Any, objects: Iterator[Any], batch: int = BATCH) -> int:
    """Insert model instances with ``executemany`` in batches (no signals, no ids read
    back: much faster than ``bulk_create`` for a million rows). Returns the row count."""
    from django.db import connection

    fields = insert_fields(model)
    return insert_tuples(
        model,
        (tuple(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)
         for obj in objects),
        batch,
    )  # fmt: skip


def insert_fields(model: Any) -> list[Any]:
    """The columns an insert fills: every concrete field but an automatic primary key."""
    return [f for f in model._meta.concrete_fields if not f.primary_key or f.remote_field]


def insert_tuples(model: Any, rows: Iterator[tuple[Any, ...]], batch: int = BATCH) -> int:
    """Insert ``rows`` (database-ready values in :func:`insert_fields` order)."""
    from django.db import connection, transaction

    fields = insert_fields(model)
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    table = connection.ops.quote_name(model._meta.db_table)
    sql = f"INSERT INTO {table} ({columns}) VALUES ({marks})"
    total = 0
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= batch:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.executemany(sql, chunk)
            total += len(chunk)
            chunk = []
    if chunk:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(sql, chunk)
        total += len(chunk)
    return total


def varied(
    model: Any, template: Any, columns: list[str], values: Iterator[tuple[Any, ...]]
) -> Iterator[tuple[Any, ...]]:
    """Rows like the instance ``template`` but for the fields named in ``columns``
    (attnames), which take each tuple of ``values`` in turn: the template is prepared
    for the database once, not once per row."""
    from django.db import connection

    fields = insert_fields(model)
    base = [f.get_db_prep_save(f.pre_save(template, True), connection) for f in fields]
    where = [[f.attname for f in fields].index(name) for name in columns]
    for row in values:
        out = base.copy()
        for position, value in zip(where, row, strict=True):
            out[position] = value
        yield tuple(out)


def build_project(images: int, annotations: int, media: Path) -> dict[str, Any]:
    """The generated project (see the module's docstring); its owner and ids."""
    import io

    from django.contrib.auth import get_user_model
    from django.utils import timezone
    from PIL import Image as PILImage

    from webapp.annotations.models import Annotation
    from webapp.images.models import EncodingStatus, Image
    from webapp.projects.models import LabelClass, Membership, Project
    from webapp.workflow.models import ActiveTime, Event, EventKind, WorkItem, WorkState
    from webapp.workflow.recount import recount

    rng = random.Random(7)
    users = get_user_model().objects
    owner = users.create_user("lead", password="not-used")
    project = Project.create_with_owner(owner, name="Gallery benchmark")
    annotators = [users.create_user(f"annotator{n}", password="x") for n in range(ANNOTATORS)]
    reviewers = [users.create_user(f"reviewer{n}", password="x") for n in range(REVIEWERS)]
    for person in annotators:
        Membership.objects.create(project=project, user=person, role="annotator")
    for person in reviewers:
        Membership.objects.create(project=project, user=person, role="reviewer")
    classes = [
        LabelClass.objects.create(project=project, name=f"class{n}", order=n)
        for n in range(CLASSES)
    ]

    # One tiny picture serves as every image's file and thumbnail.
    folder = media / "shared"
    folder.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 6), (120, 90, 60)).save(buffer, format="JPEG")
    (folder / "tiny.jpg").write_bytes(buffer.getvalue())

    now = timezone.now()
    start = time.perf_counter()
    insert_rows(
        Image,
        (
            Image(
                project=project,
                file="shared/tiny.jpg",
                thumbnail="shared/tiny.jpg",
                original_name=f"photo{n:06d}.jpg",
                width=640,
                height=480,
                sha256=f"{n:064x}",
                status=EncodingStatus.READY,
                status_changed_at=now,
                uploaded_by=owner,
                created_at=now - timedelta(seconds=images - n),
            )
            for n in range(images)
        ),
    )
    first_id = Image.objects.filter(project=project).order_by("id").values_list("id", flat=True)[0]
    ids = range(first_id, first_id + images)
    states = [s for s in WorkState.values]
    weights = [30, 5, 15, 3, 35, 7, 5]
    chosen = rng.choices(states, weights, k=images)
    insert_rows(
        WorkItem,
        (
            WorkItem(
                image_id=pk,
                project=project,
                state=state,
                annotator=None if state == WorkState.NEW else annotators[n % ANNOTATORS],
                assignee=annotators[n % ANNOTATORS] if n % 3 else None,
                reviewer=reviewers[n % REVIEWERS]
                if state in {WorkState.IN_REVIEW, WorkState.ACCEPTED, WorkState.REJECTED}
                else None,
                changed_at=now,
            )
            for n, (pk, state) in enumerate(zip(ids, chosen, strict=True))
        ),
    )
    print(f"  images and work items: {time.perf_counter() - start:.1f} s", file=sys.stderr)

    start = time.perf_counter()
    rle = {"size": [480, 640], "counts": "PPYo1"}
    template = Annotation(
        image_id=first_id, label_class=classes[0], rle=rle, bbox=[10, 10, 40, 30], area=1,
        author=annotators[0], created_at=now, updated_at=now,
    )  # fmt: skip
    class_ids = [c.pk for c in classes]
    author_ids = [a.pk for a in annotators]
    insert_tuples(
        Annotation,
        varied(
            Annotation,
            template,
            ["image_id", "label_class_id", "area", "author_id"],
            (
                (first_id + rng.randrange(images), class_ids[rng.randrange(CLASSES)],
                 rng.randrange(50, 20_000), author_ids[n % ANNOTATORS])
                for n in range(annotations)
            ),
        ),
    )  # fmt: skip
    print(f"  annotations: {time.perf_counter() - start:.1f} s", file=sys.stderr)

    # Two weeks of moves: a submit for each image past annotating, a verdict for each
    # accepted or rejected one.
    events = []
    for n, (pk, state) in enumerate(zip(ids, chosen, strict=True)):
        if state in {WorkState.NEW, WorkState.ANNOTATING, WorkState.SKIPPED}:
            continue
        at = now - timedelta(seconds=rng.randrange(14 * 24 * 3600))
        person = annotators[n % ANNOTATORS]
        events.append(
            Event(
                project=project,
                image_id=pk,
                image_name=f"photo{n:06d}.jpg",
                actor=person,
                kind=EventKind.TRANSITION,
                action="submit",
                from_state="annotating",
                to_state="submitted",
                at=at,
            )
        )
        if state in {WorkState.ACCEPTED, WorkState.REJECTED}:
            verdict = "accept" if state == WorkState.ACCEPTED else "reject"
            events.append(
                Event(
                    project=project,
                    image_id=pk,
                    image_name=f"photo{n:06d}.jpg",
                    actor=reviewers[n % REVIEWERS],
                    kind=EventKind.TRANSITION,
                    action=verdict,
                    from_state="in_review",
                    to_state=state,
                    at=at + timedelta(hours=1),
                )
            )
    insert_rows(Event, iter(events))
    for day in range(14):
        for person in annotators:
            ActiveTime.objects.create(
                project=project, user=person, day=(now - timedelta(days=day)).date(),
                seconds=rng.randrange(3600, 6 * 3600),
            )  # fmt: skip
    # The kept counts (each image's annotations, tallies per class and author, figures per
    # member and day) from the rows inserted around them, as after a bulk change.
    start = time.perf_counter()
    recount(project)
    print(f"  kept counts: {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return {"project": project, "owner": owner, "events": len(events)}


def ttfb(port: int, path: str, headers: dict[str, str]) -> tuple[float, int]:
    """Seconds from sending a GET to having its status line and headers; the status."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    start = time.perf_counter()
    connection.request("GET", path, headers=headers)
    response = connection.getresponse()
    elapsed = time.perf_counter() - start
    response.read()
    connection.close()
    return elapsed, response.status


@contextmanager
def gunicorn(env: dict[str, str], port: int, log: Path) -> Iterator[None]:
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "webapp.wsgi", "--bind",
             f"127.0.0.1:{port}", "--workers", "2", "--timeout", "300"],
            env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:

        def answering() -> bool:
            try:
                http.client.HTTPConnection("127.0.0.1", port, timeout=1).connect()
                return True
            except OSError:
                return server.poll() is not None

        wait_until(answering, 60, "gunicorn")
        if server.poll() is not None:
            sys.exit(f"gunicorn did not start:\n{log.read_text()}")
        yield
    finally:
        server.terminate()
        server.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.gallery",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--annotations", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument(
        "--database", help="an empty database's URL instead of a temporary SQLite file"
    )
    parser.add_argument(
        "--folder", type=Path,
        help="keep the SQLite database, media and static files here, and reuse a database "
        "generated there by an earlier run (default: a temporary folder)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    print(f"Machine: {machine()}")
    with tempfile.TemporaryDirectory(prefix="gallery-bench-") as tmp:
        folder = args.folder or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        env: dict[str, str] = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "webapp.settings",
            "DATABASE_URL": args.database or f"sqlite:///{folder / 'db.sqlite3'}",
            "MEDIA_ROOT": str(folder / "media"),
            "STATIC_ROOT": str(folder / "static"),
            "SAMLABEL_S3_BUCKET": "",
            "DEBUG": "0",
            "SECRET_KEY": "gallery-benchmark-" + "x" * 40,
            "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
            "SECURE_SSL_REDIRECT": "0",
            "SESSION_COOKIE_SECURE": "0",
            "CSRF_COOKIE_SECURE": "0",
        }
        (folder / "media").mkdir(exist_ok=True)
        os.environ.update(env)
        import django

        django.setup()
        from django.core.management import call_command
        from django.test import Client

        from webapp.annotations.models import Annotation

        call_command("migrate", verbosity=0)
        call_command("collectstatic", verbosity=0, interactive=False)
        start = time.perf_counter()
        from webapp.projects.models import Project

        existing = Project.objects.filter(name="Gallery benchmark").first()
        if existing is None:
            world = build_project(args.images, args.annotations, folder / "media")
            made = f"generated in {time.perf_counter() - start:.0f} s"
        else:
            world = {"project": existing, "owner": existing.created_by}
            made = "generated by an earlier run"
        print(
            f"Database: {env['DATABASE_URL'].split(':', 1)[0]}; "
            f"{world['project'].images.count()} images, "
            f"{Annotation.objects.filter(image__project=world['project']).count()} "
            f"annotations, {world['project'].events.count()} events ({made})"
        )
        client = Client()
        client.force_login(world["owner"])
        cookie = f"sessionid={client.cookies['sessionid'].value}"
        from django.db import connections

        connections.close_all()
        page, api = f"/projects/{world['project'].pk}/", f"/api/projects/{world['project'].pk}/"
        label = world["project"].label_classes.first().pk
        urls = [
            ("project page (gallery, page 1)", page),
            ("project page, page 1000", f"{page}?page=1000"),
            ("project page, rejected, most annotations", f"{page}?state=rejected&sort=annotations"),
            ("gallery API, page 1", f"{api}gallery/"),
            (
                "gallery API, a label class + an assignee",
                f"{api}gallery/?label={label}&assignee=annotator1",
            ),
            ("gallery API, a label class", f"{api}gallery/?label={label}"),
            ("gallery API, without annotations", f"{api}gallery/?annotated=false"),
            ("gallery API, sort=annotations", f"{api}gallery/?sort=annotations"),
            (
                "gallery API, sort=annotations, page 1000",
                f"{api}gallery/?sort=annotations&page=1000",
            ),
            ("gallery API, sort=state, page 500", f"{api}gallery/?sort=state&page=500"),
            ("dashboard page", f"{page}dashboard/"),
            ("dashboard API", f"{api}dashboard/"),
        ]
        port = free_port()
        rows = ["| request | status | median TTFB, ms | slowest, ms |", "|---|---|---|---|"]
        with gunicorn(env, port, folder / "gunicorn.log"):
            headers = {"Cookie": cookie, "Host": "127.0.0.1"}
            for name, path in urls:
                ttfb(port, path, headers)  # warm-up: the worker's first import, caches
                times = []
                codes = set()
                for _ in range(args.repeat):
                    seconds, code = ttfb(port, path, headers)
                    times.append(seconds)
                    codes.add(code)
                rows.append(
                    f"| {name} | {'/'.join(map(str, sorted(codes)))} | "
                    f"{1000 * statistics.median(times):.0f} | {1000 * max(times):.0f} |"
                )
                print(f"  {rows[-1]}", file=sys.stderr, flush=True)
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
