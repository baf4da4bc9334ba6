"""``python -m benchmarks.team_load``: a team labelling at once through the work queue,
against gunicorn and PostgreSQL, as in production (``DEBUG=0``).

The script makes a fresh PostgreSQL database (``createdb`` on ``--postgres``, dropped at
the end; or uses the empty one ``--database`` names), migrates it, and fills it in this
process: a project with ``--images`` images marked ready (rows, each with a real tiny PNG
file of 1024x768 pixels), a label class, and ``--annotators`` annotator accounts with API
tokens. It starts gunicorn on that database (``--workers`` processes of ``--threads``
threads), then runs one thread per annotator, each with its own keep-alive connection,
looping until ``--seconds`` have passed or the queue is empty, pausing ``--think``
seconds on average (uniformly 0.5 to 1.5 times it) after each request, as a person looks
at the image and draws before saving:

1. ``POST /api/projects/<p>/work/next/`` (the next image, now held by them);
2. ``POST /api/projects/<p>/images/<i>/annotations/`` (the RLE of a random blob, about
   430 bytes of JSON, and the click that made it);
3. ``POST /api/projects/<p>/images/<i>/work/submit/``.

Meanwhile one more connection GETs a single annotation every 0.1 s: the cost of one plain
authenticated request under the load. The same GET is also timed on the idle server
before the load starts.

Printed: requests/s and p50/p95/p99 latency per endpoint (the first ``--warmup`` seconds,
when each gunicorn process imports the code, are not counted), the single GET's figures,
and the double assignments: images handed by ``work/next`` to two annotators, counted from
the responses and from the database's event log. The exit status is 1 if there is any
double assignment or any request failed, else 0.

``--request-cost unfixed`` starts the server without persistent database connections
(``SAMLABEL_DB_CONN_MAX_AGE=0``: a new PostgreSQL connection for every request), as every
request paid before; ``both`` runs the load twice, unfixed then fixed, on the same
database (a new project and team each time), and prints the two side by side.
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import multiprocessing
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np

from benchmarks.upload_to_ready import free_port, machine

REPO_ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 1024, 768
PROBE_EVERY = 0.1  # seconds between the single GETs under load
# Marks the requests that count (after the warm-up), so that the server's access log can be
# read for the same requests as the client's figures; the log's line for each request.
COUNTED_HEADER = "X-Load-Counted"
ACCESS_FORMAT = "%({x-load-counted}i)s %(m)s %(U)s %(s)s %(D)s"
IDLE_PROBES = 30
START_TIMEOUT = 60.0  # seconds for gunicorn to answer
# Variables of the developer's shell that would change the server under test.
CLEARED = (
    "DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "MEDIA_ROOT", "STATIC_ROOT",
    "SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "CSRF_COOKIE_SECURE",
    "SECURE_PROXY_SSL_HEADER", "CELERY_BROKER_URL", "CELERY_TASK_ALWAYS_EAGER",
    "SAMLABEL_S3_BUCKET", "DJANGO_SETTINGS_MODULE", "SAMLABEL_DB_CONN_MAX_AGE",
)  # fmt: skip
# The request-cost fix off: a new database connection for every request.
UNFIXED = {"SAMLABEL_DB_CONN_MAX_AGE": "0"}


# ---- Figures -------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0..100) of ``values``, linear between ranks; NaN if empty."""
    if not values:
        return float("nan")
    return float(np.percentile(np.asarray(values), q))


@dataclass
class Tally:
    """One endpoint's latencies (seconds, counted requests only) and failures."""

    latencies: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.latencies += other.latencies
        self.failures += other.failures
        for code, n in other.statuses.items():
            self.statuses[code] = self.statuses.get(code, 0) + n

    def row(self, name: str, seconds: float) -> str:
        ms = [percentile(self.latencies, q) * 1000 for q in (50, 95, 99)]
        return (
            f"{name:<12} {len(self.latencies):>7} {len(self.latencies) / seconds:>8.1f} "
            f"{ms[0]:>8.1f} {ms[1]:>8.1f} {ms[2]:>8.1f} {len(self.failures):>6}"
        )


HEADER = (
    f"{'endpoint':<12} {'count':>7} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
    f"{'failed':>6}"
)


def double_assignments(handed: dict[str, list[int]]) -> dict[int, list[str]]:
    """Images handed to more than one annotator: ``{image id: [usernames]}``, from each
    annotator's list of the images ``work/next`` gave them (the same image given twice
    to one person, the one they already hold, is not a double assignment)."""
    holders: dict[int, set[str]] = {}
    for username, images in handed.items():
        for image in images:
            holders.setdefault(image, set()).add(username)
    return {image: sorted(who) for image, who in holders.items() if len(who) > 1}


# ---- The simulated annotators -------------------------------------------------------


class Client:
    """One keep-alive HTTP connection to the server, authenticated with a token."""

    def __init__(self, port: int, token: str) -> None:
        self.port = port
        self.headers = {"Authorization": f"Token {token}", "Content-Type": "application/json"}
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)

    def request(
        self, method: str, path: str, body: Any = None, counted: bool = False
    ) -> tuple[int, bytes, float]:
        """(status, body, seconds); status 0 when the connection failed. ``counted``
        marks the request for the server's access log (:data:`COUNTED_HEADER`)."""
        payload = None if body is None else json.dumps(body)
        headers = {**self.headers, COUNTED_HEADER: "1" if counted else "0"}
        started = time.perf_counter()
        try:
            self.connection.request(method, path, payload, headers)
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException) as exc:
            self.connection.close()  # reconnects on the next request
            return 0, repr(exc).encode(), time.perf_counter() - started
        return response.status, content, time.perf_counter() - started

    def close(self) -> None:
        self.connection.close()


class Annotator(threading.Thread):
    """Takes the next image, saves an annotation on it and submits it, until
    ``deadline`` or until the queue has nothing left for them."""

    EXPECTED = {"next": 200, "save": 201, "submit": 200}

    def __init__(
        self, team: Team, username: str, token: str, port: int, measure_from: float,
        deadline: float, seed: int, think: float = 0.0,
    ) -> None:  # fmt: skip
        super().__init__(daemon=True)
        self.team, self.username, self.think = team, username, think
        self.client = Client(port, token)
        self.measure_from, self.deadline = measure_from, deadline
        self.rng = np.random.default_rng(seed)
        self.tallies = {kind: Tally() for kind in self.EXPECTED}
        self.handed: list[int] = []  # every image work/next gave this annotator
        self.queue_empty = False

    def call(self, kind: str, method: str, path: str, body: Any) -> dict[str, Any] | None:
        counted = time.monotonic() >= self.measure_from
        status, content, seconds = self.client.request(method, path, body, counted)
        tally = self.tallies[kind]
        if counted:
            tally.latencies.append(seconds)
            tally.statuses[status] = tally.statuses.get(status, 0) + 1
        if status != self.EXPECTED[kind]:
            tally.failures.append(f"{method} {path}: {status} {content[:300]!r}")
            return None
        answer: dict[str, Any] = json.loads(content)
        if self.think:
            time.sleep(self.think * float(self.rng.uniform(0.5, 1.5)))
        return answer

    def run(self) -> None:
        p = self.team.project
        try:
            while time.monotonic() < self.deadline:
                answer = self.call("next", "POST", f"/api/projects/{p}/work/next/", {})
                if answer is None:
                    continue
                if answer["item"] is None:
                    self.queue_empty = True
                    return
                image = int(answer["item"]["image"])
                self.handed.append(image)
                blob, centre = self.team.blobs[int(self.rng.integers(len(self.team.blobs)))]
                body = {
                    "label_class": self.team.label_class,
                    "rle": blob,
                    "prompts": {"points": [centre], "labels": [1]},
                }
                path = f"/api/projects/{p}/images/{image}"
                if self.call("save", "POST", f"{path}/annotations/", body) is not None:
                    self.call("submit", "POST", f"{path}/work/submit/", {})
        finally:
            self.client.close()


class Prober(threading.Thread):
    """GETs one annotation every ``PROBE_EVERY`` seconds until stopped."""

    def __init__(self, port: int, token: str, path: str, measure_from: float) -> None:
        super().__init__(daemon=True)
        self.client = Client(port, token)
        self.path, self.measure_from = path, measure_from
        self.tally = Tally()
        self.stop = threading.Event()

    def run(self) -> None:
        try:
            while not self.stop.wait(PROBE_EVERY):
                counted = time.monotonic() >= self.measure_from
                status, content, seconds = self.client.request("GET", self.path, None, counted)
                if status != 200:
                    self.tally.failures.append(f"GET {self.path}: {status} {content[:300]!r}")
                elif counted:
                    self.tally.latencies.append(seconds)
        finally:
            self.client.close()


def idle_probe(port: int, token: str, path: str, count: int = IDLE_PROBES) -> Tally:
    """``count`` GETs of ``path``, one after another, on one keep-alive connection."""
    client, tally = Client(port, token), Tally()
    for _ in range(count):
        status, content, seconds = client.request("GET", path)
        if status != 200:
            tally.failures.append(f"GET {path}: {status} {content[:300]!r}")
        tally.latencies.append(seconds)
    client.close()
    return tally


# ---- The database, the team and the server -------------------------------------------


@dataclass
class Team:
    project: int
    label_class: int
    tokens: dict[str, str]  # username -> API token
    probe_path: str  # one annotation, for the single GET
    blobs: list[tuple[dict[str, Any], list[float]]]


def random_blob(rng: np.random.Generator) -> tuple[dict[str, Any], list[float]]:
    """The RLE of a random disk-like blob on a (HEIGHT, WIDTH) image, and its centre (x, y)
    in image pixels."""
    from webapp.annotations import rle

    cx, cy = rng.uniform(150, WIDTH - 150), rng.uniform(150, HEIGHT - 150)
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    angle = np.arctan2(y - cy, x - cx)
    radius = rng.uniform(40, 140) * (1 + 0.2 * np.cos(3 * angle + rng.uniform(0, 6.3)))
    mask = np.hypot(x - cx, y - cy) < radius
    return rle.encode(mask), [round(float(cx), 1), round(float(cy), 1)]


@contextmanager
def fresh_database(url: str | None, postgres: str) -> Iterator[str]:
    """``url`` as is, or a new PostgreSQL database on ``postgres`` (``user@host:port``)
    dropped afterwards; its URL."""
    if url is not None:
        yield url
        return
    user, _, where = postgres.rpartition("@")
    host, _, port = where.partition(":")
    name = f"samlabel_team_load_{os.getpid()}"
    where_args = ["-h", host, "-p", port or "5432", "-U", user or "postgres"]
    subprocess.run(["createdb", *where_args, name], check=True)
    try:
        yield f"postgres://{user or 'postgres'}@{host}:{port or 5432}/{name}"
    finally:
        subprocess.run(["dropdb", "--force", *where_args, name], check=False)


def server_env(database_url: str, root: Path, fixed: bool) -> dict[str, str]:
    """The production environment (``DEBUG=0``) on plain http on 127.0.0.1."""
    env = {k: v for k, v in os.environ.items() if k not in CLEARED}
    env.update(
        DEBUG="0",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        DATABASE_URL=database_url,
        MEDIA_ROOT=str(root / "media"),
        STATIC_ROOT=str(root / "static"),
        SAMLABEL_BROKER_DIR=str(root / "broker"),
        SECURE_SSL_REDIRECT="0",
        SESSION_COOKIE_SECURE="0",
        CSRF_COOKIE_SECURE="0",
    )
    if not fixed:
        env.update(UNFIXED)
    return env


def setup_django(env: dict[str, str]) -> None:
    """Django in this process, on the server's database and media folder."""
    import django
    from django.conf import settings

    if settings.configured:
        return
    os.environ.update({k: env[k] for k in ("DATABASE_URL", "MEDIA_ROOT", "SECRET_KEY")})
    os.environ["DJANGO_SETTINGS_MODULE"] = "webapp.settings"
    sys.path.insert(0, str(REPO_ROOT))
    django.setup()


def tiny_png(serial: int) -> bytes:
    """A 1024x768 grey PNG (a few kB), each serial's pixels slightly different."""
    from PIL import Image as PILImage

    picture = PILImage.new("L", (WIDTH, HEIGHT), color=serial % 256)
    picture.putpixel((serial % WIDTH, serial // WIDTH % HEIGHT), 255 - serial % 256)
    out = io.BytesIO()
    picture.save(out, "PNG")
    return out.getvalue()


def build_team(annotators: int, images: int, blobs: int = 16) -> Team:
    """A project with ``images`` ready images and ``annotators`` annotator accounts with
    tokens, plus an owner whose one annotation the single GET reads."""
    import hashlib

    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage
    from django.db import connection
    from rest_framework.authtoken.models import Token

    from webapp.annotations.services import create_annotation
    from webapp.images.models import EncodingStatus, Image
    from webapp.projects.models import LabelClass, Membership, Project, Role
    from webapp.workflow.models import WorkItem

    suffix = uuid.uuid4().hex[:6]
    users = get_user_model().objects
    owner = users.create_user(username=f"lead-{suffix}")
    project = Project.create_with_owner(owner, name=f"Team load {suffix}")
    label = LabelClass.objects.create(project=project, name="object")
    rows = []
    for serial in range(images):
        png = tiny_png(serial)
        stored = default_storage.save(f"images/{project.pk}/{serial}.png", ContentFile(png))
        rows.append(
            Image(
                project=project, file=stored, original_name=f"{serial:06d}.png", width=WIDTH,
                height=HEIGHT, sha256=hashlib.sha256(png).hexdigest(),
                status=EncodingStatus.READY,
            )
        )  # fmt: skip
    created = Image.objects.bulk_create(rows, batch_size=1000)
    # bulk_create sends no post_save, so the workflow rows are made here.
    WorkItem.objects.bulk_create(
        [WorkItem(image=image, project=project) for image in created], batch_size=1000
    )
    rng = np.random.default_rng(0)
    shapes = [random_blob(rng) for _ in range(blobs)]
    tokens = {}
    for n in range(annotators):
        user = users.create_user(username=f"annotator{n:02d}-{suffix}")
        Membership.objects.create(project=project, user=user, role=Role.ANNOTATOR)
        tokens[user.username] = Token.objects.create(user=user).key
    # The single GET reads an annotation of the last image (likely never handed out).
    probe = create_annotation(
        created[-1], author=owner, label_class=label.pk, rle=shapes[0][0],
        prompts={"points": [shapes[0][1]], "labels": [1]},
    )  # fmt: skip
    tokens[owner.username] = Token.objects.create(user=owner).key
    # Statistics for the planner, as a database in use has them (autovacuum gathers them
    # a while after large inserts). Without them PostgreSQL joins the fresh tables by a
    # nested loop: "next" took 300 ms on 2,000 images.
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    return Team(
        project=project.pk,
        label_class=label.pk,
        tokens=tokens,
        probe_path=f"/api/projects/{project.pk}/annotations/{probe.pk}/",
        blobs=shapes,
    )


def logged_doubles(project: int) -> dict[int, int]:
    """From the event log: images started (``new`` → ``annotating``) more than once in
    ``project``, ``{image id: times}``. Nothing gives images back during the run (leases
    last 30 minutes), so each image may be started once."""
    from django.db.models import Count

    from webapp.workflow.models import Event

    starts = (
        Event.objects.filter(project_id=project, action="start")
        .values("image_id")
        .annotate(times=Count("id"))
        .filter(times__gt=1)
    )
    return {row["image_id"]: row["times"] for row in starts}


@contextmanager
def gunicorn(
    env: dict[str, str], workers: int, threads: int, log: Path, access: Path
) -> Iterator[int]:
    """gunicorn serving the app on a free loopback port, each request's time written to
    ``access`` (:data:`ACCESS_FORMAT`); the port."""
    port = free_port()
    with log.open("w") as out:
        server = subprocess.Popen(
            [str(Path(sys.executable).parent / "gunicorn"), "webapp.wsgi", "--bind",
             f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
             "--keep-alive", "30", "--access-logfile", str(access),
             "--access-logformat", ACCESS_FORMAT],
            cwd=REPO_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + START_TIMEOUT
            while True:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                try:
                    connection.request("GET", "/healthz")
                    if connection.getresponse().status == 200:
                        break
                except (OSError, http.client.HTTPException):
                    pass
                finally:
                    connection.close()
                if server.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"gunicorn did not start:\n{log.read_text()[-3000:]}")
                time.sleep(0.2)
            yield port
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()


# ---- One run --------------------------------------------------------------------------


@dataclass
class Outcome:
    label: str
    seconds: float
    tallies: dict[str, Tally]
    idle: Tally
    loaded: Tally
    handed_out: int
    response_doubles: dict[int, list[str]]
    logged_doubles: dict[int, int]
    queue_emptied: bool
    server: dict[str, Tally]  # the counted requests as gunicorn timed them

    @property
    def failures(self) -> list[str]:
        found = [f for t in self.tallies.values() for f in t.failures]
        return found + self.idle.failures + self.loaded.failures

    @property
    def doubles(self) -> int:
        return len(self.response_doubles) + len(self.logged_doubles)


@dataclass
class Finished:
    """What one simulated annotator brings back from its client process."""

    username: str
    tallies: dict[str, Tally]
    handed: list[int]
    queue_empty: bool


def run_group(
    team: Team, members: list[tuple[str, str, int]], port: int, measure_from: float,
    deadline: float, think: float, out: Connection,
) -> None:  # fmt: skip
    """In a client process: ``members`` (username, token, seed) as annotator threads
    until ``deadline``; what each did is sent on ``out``."""
    annotators = [
        Annotator(team, name, token, port, measure_from, deadline, seed, think)
        for name, token, seed in members
    ]
    for annotator in annotators:
        annotator.start()
    for annotator in annotators:
        annotator.join()
    out.send([Finished(a.username, a.tallies, a.handed, a.queue_empty) for a in annotators])
    out.close()


def run_clients(
    team: Team, port: int, measure_from: float, deadline: float, args: argparse.Namespace
) -> list[Finished]:
    """The annotators, spread over ``args.client_processes`` processes (threads of one
    Python process wait for each other's turn on the interpreter lock, which the client's
    figures would count as server time)."""
    from django.db import connections

    connections.close_all()  # no database socket shared with the children
    members = [
        (name, token, seed)
        for seed, (name, token) in enumerate(team.tokens.items())
        if not name.startswith("lead-")
    ]
    groups = [members[i :: args.client_processes] for i in range(args.client_processes)]
    context = multiprocessing.get_context("fork")
    running = []
    for group in filter(None, groups):
        receiving, sending = context.Pipe(duplex=False)
        process = context.Process(
            target=run_group,
            args=(team, group, port, measure_from, deadline, args.think, sending),
        )
        process.start()
        sending.close()
        running.append((process, receiving))
    finished: list[Finished] = []
    for process, receiving in running:
        finished += receiving.recv()
        process.join()
    return finished


def request_kind(method: str, path: str) -> str | None:
    """Which figure a request of the load belongs to, from its method and path."""
    if method == "GET":
        return "single GET"
    for suffix, kind in (
        ("/work/next/", "next"),
        ("/annotations/", "save"),
        ("/submit/", "submit"),
    ):
        if path.endswith(suffix):
            return kind
    return None


def server_timings(access: Path) -> dict[str, Tally]:
    """The counted requests as gunicorn timed them, by kind: seconds from the request
    read to the response written (the wait for a free worker thread before that is not
    in it, nor the network)."""
    found = {kind: Tally() for kind in (*Annotator.EXPECTED, "single GET")}
    for line in access.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5 or parts[0] != "1":
            continue
        kind = request_kind(parts[1], parts[2])
        if kind is not None:
            found[kind].latencies.append(int(parts[4]) / 1e6)
    return found


def run_load(args: argparse.Namespace, database_url: str, root: Path, fixed: bool) -> Outcome:
    label = "fixed" if fixed else "unfixed"
    env = server_env(database_url, root, fixed)
    setup_django(env)
    team = build_team(args.annotators, args.images)
    access = root / f"access-{label}.log"
    with gunicorn(env, args.workers, args.threads, root / f"gunicorn-{label}.log", access) as port:
        owner_token = team.tokens[next(u for u in team.tokens if u.startswith("lead-"))]
        idle_probe(port, owner_token, team.probe_path, count=args.workers * args.threads)
        idle = idle_probe(port, owner_token, team.probe_path)
        measure_from = time.monotonic() + args.warmup
        deadline = measure_from + args.seconds
        prober = Prober(port, owner_token, team.probe_path, measure_from)
        prober.start()
        annotators = run_clients(team, port, measure_from, deadline, args)
        ended = time.monotonic()
        prober.stop.set()
        prober.join()
    tallies = {kind: Tally() for kind in Annotator.EXPECTED}
    for annotator in annotators:
        for kind, tally in annotator.tallies.items():
            tallies[kind].add(tally)
    handed = {a.username: a.handed for a in annotators}
    return Outcome(
        label=label,
        seconds=max(min(ended, deadline) - measure_from, 1e-9),
        tallies=tallies,
        idle=idle,
        loaded=prober.tally,
        handed_out=len({image for images in handed.values() for image in images}),
        response_doubles=double_assignments(handed),
        logged_doubles=logged_doubles(team.project),
        queue_emptied=any(a.queue_empty for a in annotators),
        server=server_timings(access),
    )


def report(outcome: Outcome) -> None:
    print(f"\n== request cost {outcome.label} ({outcome.seconds:.1f} s counted) ==")
    print(HEADER)
    everything = Tally()
    for kind, tally in outcome.tallies.items():
        print(tally.row(kind, outcome.seconds))
        everything.add(tally)
    print(everything.row("all", outcome.seconds))
    print("as gunicorn timed the same requests (from request read to response written):")
    for kind, tally in outcome.server.items():
        print(tally.row(f"  {kind}", outcome.seconds))
    idle, loaded = outcome.idle.latencies, outcome.loaded.latencies
    print(
        f"single GET of one annotation: idle p50 {percentile(idle, 50) * 1000:.1f} ms "
        f"(of {len(idle)}); under load p50 {percentile(loaded, 50) * 1000:.1f} ms, "
        f"p99 {percentile(loaded, 99) * 1000:.1f} ms (of {len(loaded)})"
    )
    print(
        f"images handed out: {outcome.handed_out}"
        f"{' (the queue ran out)' if outcome.queue_emptied else ''}; double assignments: "
        f"{len(outcome.response_doubles)} in the responses, {len(outcome.logged_doubles)} "
        "in the event log"
    )
    for image, who in sorted(outcome.response_doubles.items())[:10]:
        print(f"  image {image} handed to {', '.join(who)}")
    for image, times in sorted(outcome.logged_doubles.items())[:10]:
        print(f"  image {image} started {times} times in the event log")
    for failure in outcome.failures[:10]:
        print(f"  failed: {failure}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--annotators", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=30.0, help="counted, after warm-up")
    parser.add_argument("--warmup", type=float, default=3.0)
    parser.add_argument(
        "--think", type=float, default=0.0,
        help="mean seconds each annotator pauses after each request (0: none, the most load)",
    )  # fmt: skip
    parser.add_argument("--images", type=int, default=3000, help="images in the project")
    parser.add_argument("--workers", type=int, default=4, help="gunicorn processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument(
        "--client-processes", type=int, default=4,
        help="processes the simulated annotators are spread over",
    )  # fmt: skip
    parser.add_argument(
        "--request-cost", choices=["fixed", "unfixed", "both"], default="fixed",
        help="unfixed: a new database connection for every request",
    )  # fmt: skip
    parser.add_argument("--database", help="an empty PostgreSQL database's URL (else made)")
    parser.add_argument(
        "--postgres", default="postgres@127.0.0.1:5432",
        help="user@host:port where the fresh database is made (createdb, dropdb)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    if args.client_processes < 1:
        parser.error("--client-processes must be at least 1")
    if args.annotators < 1 or args.images < 1 or args.seconds <= 0 or args.think < 0:
        parser.error("--annotators, --images and --seconds must be positive, --think not negative")
    if args.database and urlsplit(args.database).scheme not in {"postgres", "postgresql"}:
        parser.error("--database must be a postgres:// URL")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    print(machine())
    print(
        f"{args.annotators} annotators pausing {args.think:g} s after each request, "
        f"{args.seconds:g} s after {args.warmup:g} s of warm-up; "
        f"gunicorn --workers {args.workers} --threads {args.threads}, DEBUG=0, PostgreSQL"
    )
    labels = {"fixed": [True], "unfixed": [False], "both": [False, True]}[args.request_cost]
    outcomes = []
    root = Path(tempfile.mkdtemp(prefix="samlabel-team-load-"))
    try:
        with fresh_database(args.database, args.postgres) as database_url:
            env = server_env(database_url, root, fixed=True)
            subprocess.run(
                [sys.executable, "manage.py", "migrate", "--noinput"],
                cwd=REPO_ROOT, env=env, check=True, capture_output=True,
            )  # fmt: skip
            for fixed in labels:
                outcome = run_load(args, database_url, root, fixed)
                report(outcome)
                outcomes.append(outcome)
            from django.db import connections

            connections.close_all()  # before the database is dropped
    finally:
        shutil.rmtree(root, ignore_errors=True)
    if len(outcomes) == 2:
        before, after = outcomes
        print("\n== single GET, unfixed → fixed ==")
        for name, pick in (("idle", "idle"), ("under load", "loaded")):
            b, a = getattr(before, pick).latencies, getattr(after, pick).latencies
            print(
                f"{name:<11} p50 {percentile(b, 50) * 1000:.1f} → {percentile(a, 50) * 1000:.1f} ms"
            )
    bad = any(o.doubles or o.failures for o in outcomes)
    print(f"\n{'FAILED' if bad else 'OK'}: " + "; ".join(
        f"{o.label}: {o.doubles} double assignments, {len(o.failures)} failed requests"
        for o in outcomes
    ))  # fmt: skip
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
