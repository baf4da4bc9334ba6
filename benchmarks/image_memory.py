"""Peak memory of taking in one large image, on each side of the app.

``python -m benchmarks.image_memory web FILE`` uploads FILE to a fresh project through
:func:`webapp.images.uploads.ingest_upload` (a throw-away SQLite database and media
folder), as a request does; ``worker FILE`` decodes it as the worker does before
encoding (:func:`inference.images.load_image_reduced`, then SAM's input). Each prints one
JSON line: the peak resident memory of the process during that step and before it, in
MiB, and the outcome.

``python -m benchmarks.image_memory make-png grey16|rgb8 FILE`` writes a 10000×10000 PNG
of under a MB, 16-bit grey or 8-bit RGB, row by row (the writer never holds the pixels).
With no arguments, both sides run on both kinds of file and print the figures.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import tempfile
import zlib
from pathlib import Path

from benchmarks.memory import peak_rss_mib

MIB = 1024 * 1024


KINDS = {"grey16": (16, 0, 2), "rgb8": (8, 2, 3)}  # bit depth, PNG colour type, bytes/pixel


def write_png(path: Path, kind: str = "grey16", side: int = 10000) -> None:
    """A ``side``×``side`` PNG of ``kind`` (16-bit grey or 8-bit RGB): a gentle diagonal
    gradient, so it compresses to well under a MB whatever its decoded size."""
    depth, colour, sample_bytes = KINDS[kind]

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data)
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    compressor = zlib.compressobj(9)
    body = bytearray()
    row_values = bytes(range(256)) * (side * sample_bytes // 256 + 2)
    for y in range(side):
        # Filter type 0, then the samples: the row's values shift with y.
        shift = (y // 64) % 256
        row = b"\x00" + row_values[shift : shift + side * sample_bytes]
        body += compressor.compress(row)
    body += compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, depth, colour, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", bytes(body))
        + chunk(b"IEND", b"")
    )


def _peak_mib() -> float:
    """The process's peak resident memory so far, in MiB."""
    return peak_rss_mib()


def _web(path: Path) -> dict[str, object]:
    folder = Path(tempfile.mkdtemp(prefix="samlabel-memory-"))
    os.environ["DATABASE_URL"] = f"sqlite:///{folder / 'db.sqlite3'}"
    os.environ["MEDIA_ROOT"] = str(folder / "media")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")
    os.environ["CELERY_TASK_ALWAYS_EAGER"] = "0"
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command

    from webapp.images import tasks
    from webapp.images.uploads import ingest_upload
    from webapp.projects.models import Project

    call_command("migrate", verbosity=0)
    tasks.queue_encoding = lambda image_id: None  # no broker here: measure the request only
    owner = get_user_model().objects.create_user("owner")
    project = Project.create_with_owner(owner, name="memory")
    content = path.read_bytes()
    before = _peak_mib()
    result = ingest_upload(project, SimpleUploadedFile(path.name, content), owner)
    return {
        "before_mib": round(before),
        "peak_mib": round(_peak_mib()),
        "outcome": result.outcome,
        "reason": result.reason,
    }


def _worker(path: Path) -> dict[str, object]:
    from inference.images import ImageRejected, load_image_reduced
    from inference.transforms import to_model_input

    before = _peak_mib()
    try:
        picture = load_image_reduced(path.read_bytes())
        to_model_input(picture.pixels, (picture.height, picture.width))
        outcome, reason = "decoded", ""
    except ImageRejected as exc:
        outcome, reason = "rejected", str(exc)
    return {
        "before_mib": round(before),
        "peak_mib": round(_peak_mib()),
        "outcome": outcome,
        "reason": reason,
    }


def measure(side: str, path: Path) -> dict[str, object]:
    """Run ``side`` ("web" or "worker") on ``path`` in a fresh process; its JSON line."""
    done = subprocess.run(
        [sys.executable, "-m", "benchmarks.image_memory", side, str(path)],
        cwd=Path(__file__).resolve().parents[1],
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    result: dict[str, object] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main(argv: list[str]) -> int:
    if len(argv) == 3 and argv[0] == "make-png":
        write_png(Path(argv[2]), argv[1])
        return 0
    if len(argv) == 2 and argv[0] in ("web", "worker"):
        step = _web if argv[0] == "web" else _worker
        print(json.dumps(step(Path(argv[1]))))
        return 0
    if argv:
        print(__doc__, file=sys.stderr)
        return 2
    from benchmarks.machine import cpu_name

    print(cpu_name())
    with tempfile.TemporaryDirectory() as folder:
        for kind in KINDS:
            path = Path(folder) / f"{kind}.png"
            write_png(path, kind)
            print(f"{kind} 10000×10000 PNG, {path.stat().st_size:,} bytes")
            for side in ("web", "worker"):
                print(f"  {side}", json.dumps(measure(side, path)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
