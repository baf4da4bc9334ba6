"""Load test of saving annotations: simulated annotators against a running server.

Each annotator is a thread with its own keep-alive connection. It creates an annotation
(POST, the RLE of a random blob on a 1024x768 image, with the click that made it) and then
edits it a few times (PATCH with ``If-Match``, as the annotator does when a click refines
the mask), until the time is up. Figures printed per request type: count, errors,
requests/s and p50/p99 latency.

Only loopback servers are accepted, and both the number of annotators and the duration
are bounded.

Against an existing project (a token of a member with the annotator role or above)::

    python scripts/load_annotations.py --token KEY --project 1 --image 1 --label-class 1

Or let the script make everything it needs, in the database the server uses: ``--setup``
sets Django up in-process (DJANGO_SETTINGS_MODULE, default webapp.settings, and the same
DATABASE_URL as the server), creates a user with a token, a project, a label class and an
image row of 1024x768 (its file is a tiny placeholder: saving annotations never reads it)::

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/samlabel_load \\
        python scripts/load_annotations.py --setup --url http://127.0.0.1:8001 \\
        --annotators 8 --seconds 20

The rows it makes are left in place (drop the database afterwards).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))

from webapp.annotations import rle  # noqa: E402  (needs the repository on the path)

WIDTH, HEIGHT = 1024, 768
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
MAX_ANNOTATORS = 64
MAX_SECONDS = 600


@dataclass
class Target:
    token: str
    project: int
    image: int
    label_class: int


@dataclass
class Tally:
    """Latencies in seconds of one request type, and how many failed."""

    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    statuses: dict[int, int] = field(default_factory=dict)


def random_blob(rng: np.random.Generator) -> tuple[dict[str, object], list[float]]:
    """The RLE of a smooth random blob on a (HEIGHT, WIDTH) image and its centre (x, y):
    a star-shaped region whose radius varies with a few harmonics, like an object."""
    cx, cy = rng.uniform(150, WIDTH - 150), rng.uniform(150, HEIGHT - 150)
    y, x = np.mgrid[:HEIGHT, :WIDTH]
    angle = np.arctan2(y - cy, x - cx)
    radius = rng.uniform(40, 140) * np.ones_like(angle)
    for k in range(2, 6):
        radius *= 1 + rng.uniform(0, 0.25 / k) * np.cos(k * angle + rng.uniform(0, 2 * np.pi))
    mask = np.hypot(x - cx, y - cy) < radius
    return rle.encode(mask), [round(float(cx), 1), round(float(cy), 1)]


def setup_target() -> Target:
    """Create a user with a token, a project, a label class and a 1024x768 image row."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from rest_framework.authtoken.models import Token

    from webapp.images.models import EncodingStatus, Image
    from webapp.projects.models import LabelClass, Project

    suffix = uuid.uuid4().hex[:8]
    user = get_user_model().objects.create_user(username=f"load-{suffix}")
    token = Token.objects.create(user=user)
    project = Project.create_with_owner(user, name=f"Load test {suffix}")
    label = LabelClass.objects.create(project=project, name="object")
    image = Image.objects.create(
        project=project,
        file=ContentFile(b"placeholder: annotations never read the pixels", name="load.png"),
        original_name="load.png",
        width=WIDTH,
        height=HEIGHT,
        sha256=uuid.uuid4().hex * 2,
        status=EncodingStatus.READY,
    )
    Image.objects.filter(pk=image.pk).update(width=WIDTH, height=HEIGHT)
    return Target(token.key, project.pk, image.pk, label.pk)


class Annotator(threading.Thread):
    def __init__(
        self,
        host: str,
        port: int,
        target: Target,
        blobs: list,
        measure_from: float,
        deadline: float,
        edits: int,
    ) -> None:
        super().__init__(daemon=True)
        self.measure_from = measure_from
        self.connection = http.client.HTTPConnection(host, port, timeout=30)
        self.target = target
        self.blobs = blobs
        self.deadline = deadline
        self.edits = edits
        self.tallies = {"create": Tally(), "edit": Tally()}
        self.rng = np.random.default_rng()

    def request(
        self, kind: str, method: str, path: str, body: dict, headers: dict[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        payload = json.dumps(body)
        headers = {
            "Authorization": f"Token {self.target.token}",
            "Content-Type": "application/json",
            **headers,
        }
        began = time.monotonic()
        started = time.perf_counter()
        try:
            self.connection.request(method, path, payload, headers)
            response = self.connection.getresponse()
            content = response.read()
        except (OSError, http.client.HTTPException):
            self.connection.close()  # reconnects on the next request
            if began >= self.measure_from:
                self.tallies[kind].errors += 1
            return 0, {}, b""
        tally = self.tallies[kind]
        elapsed = time.perf_counter() - started
        if began < self.measure_from:
            return response.status, dict(response.getheaders()), content  # warming up
        tally.latencies.append(elapsed)
        tally.statuses[response.status] = tally.statuses.get(response.status, 0) + 1
        return response.status, dict(response.getheaders()), content

    def measuring(self) -> bool:
        return time.monotonic() >= self.measure_from

    def run(self) -> None:
        t = self.target
        create_path = f"/api/projects/{t.project}/images/{t.image}/annotations/"
        while time.monotonic() < self.deadline:
            blob, centre = self.blobs[self.rng.integers(len(self.blobs))]
            body = {
                "label_class": t.label_class,
                "rle": blob,
                "prompts": {"points": [centre], "labels": [1]},
            }
            status, headers, content = self.request("create", "POST", create_path, body, {})
            if status != 201:
                self.tallies["create"].errors += status != 0 and self.measuring()
                continue
            annotation = json.loads(content)
            etag = headers.get("ETag", "")
            for _ in range(self.edits):
                if time.monotonic() >= self.deadline:
                    break
                blob, centre = self.blobs[self.rng.integers(len(self.blobs))]
                path = f"/api/projects/{t.project}/annotations/{annotation['id']}/"
                body = {"rle": blob, "prompts": {"points": [centre], "labels": [1]}}
                status, headers, _ = self.request("edit", "PATCH", path, body, {"If-Match": etag})
                if status != 200:
                    self.tallies["edit"].errors += status != 0 and self.measuring()
                    break
                etag = headers.get("ETag", "")


def report(annotators: list[Annotator], seconds: float) -> None:
    print(f"{'request':<8} {'count':>7} {'errors':>6} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    total = 0
    for kind in ("create", "edit"):
        latencies = np.array([x for a in annotators for x in a.tallies[kind].latencies])
        errors = sum(a.tallies[kind].errors for a in annotators)
        statuses: dict[int, int] = {}
        for a in annotators:
            for code, n in a.tallies[kind].statuses.items():
                statuses[code] = statuses.get(code, 0) + n
        total += latencies.size
        p50, p99 = (np.percentile(latencies, [50, 99]) * 1000) if latencies.size else (0, 0)
        print(
            f"{kind:<8} {latencies.size:>7} {errors:>6} {latencies.size / seconds:>8.1f} "
            f"{p50:>8.1f} {p99:>8.1f}   statuses {dict(sorted(statuses.items()))}"
        )
    print(f"{'all':<8} {total:>7} {'':>6} {total / seconds:>8.1f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", default="http://127.0.0.1:8000", help="loopback server URL")
    parser.add_argument("--token", help="API token of a member (annotator or above)")
    parser.add_argument("--project", type=int)
    parser.add_argument("--image", type=int, help="an image of 1024x768 pixels")
    parser.add_argument("--label-class", type=int)
    parser.add_argument("--setup", action="store_true", help="create the rows it needs")
    parser.add_argument("--annotators", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--edits", type=int, default=3, help="edits after each create")
    parser.add_argument(
        "--warmup",
        type=float,
        default=3,
        help="seconds of requests not counted (a server process's first requests import code)",
    )
    args = parser.parse_args(argv)

    parts = urlsplit(args.url)
    if parts.scheme != "http" or parts.hostname not in LOOPBACK:
        parser.error(f"--url must be http on loopback ({', '.join(sorted(LOOPBACK))})")
    if not 1 <= args.annotators <= MAX_ANNOTATORS:
        parser.error(f"--annotators must be 1..{MAX_ANNOTATORS}")
    if not 0 < args.seconds <= MAX_SECONDS or not 0 <= args.warmup <= MAX_SECONDS:
        parser.error(f"--seconds and --warmup must be at most {MAX_SECONDS}, --seconds not 0")
    if args.setup:
        target = setup_target()
    elif None in (args.token, args.project, args.image, args.label_class):
        parser.error("give --token, --project, --image and --label-class, or --setup")
    else:
        target = Target(args.token, args.project, args.image, args.label_class)

    rng = np.random.default_rng(0)
    blobs = [random_blob(rng) for _ in range(32)]  # made before the clock starts
    mean_bytes = np.mean([len(json.dumps(b)) for b, _ in blobs])
    print(
        f"{args.annotators} annotators, {args.seconds:g} s after {args.warmup:g} s of warm-up, "
        f"against {args.url} "
        f"(project {target.project}, image {target.image}); RLE bodies ~{mean_bytes:.0f} bytes"
    )
    measure_from = time.monotonic() + args.warmup
    deadline = measure_from + args.seconds
    annotators = [
        Annotator(
            parts.hostname, parts.port or 80, target, blobs, measure_from, deadline, args.edits
        )
        for _ in range(args.annotators)
    ]
    for annotator in annotators:
        annotator.start()
    for annotator in annotators:
        annotator.join(timeout=args.warmup + args.seconds + 60)
    report(annotators, args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
