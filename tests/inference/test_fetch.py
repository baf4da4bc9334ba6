"""The model registry and ``fetch``: known names, locally registered files, downloads
that are verified before they land in the cache, and the ``inference.fetch`` command."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from inference.model import load_checkpoint
from inference.registry import (
    BUILTIN_MODELS,
    ModelSpec,
    UnknownModel,
    UrlSource,
    all_models,
    file_sha256,
    get_model,
    register_local,
)
from inference.weights import CheckpointInvalid, FetchFailed, fetch

RunCommand = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def publish_checkpoint(
    tmp_path: Path, mobile_sam_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., ModelSpec]:
    """``publish_checkpoint(name, declared_sha256=None)`` -> a built-in model whose only
    source is a ``file://`` URL serving a copy of the real MobileSAM checkpoint.

    ``declared_sha256`` makes the registry expect other bytes than the URL serves.
    """

    def _publish_checkpoint(
        name: str = "published_sam", declared_sha256: str | None = None
    ) -> ModelSpec:
        served = tmp_path / "server" / f"{name}.pt"
        served.parent.mkdir(exist_ok=True)
        shutil.copyfile(mobile_sam_checkpoint, served)
        real = BUILTIN_MODELS["mobile_sam"]
        spec = ModelSpec(
            name=name,
            architecture="vit_t",
            filename=f"{name}.pt",
            size=real.size,
            sha256=declared_sha256 or real.sha256,
            sources=(UrlSource(served.as_uri()),),
        )
        monkeypatch.setitem(BUILTIN_MODELS, name, spec)
        return spec

    return _publish_checkpoint


def served_file(spec: ModelSpec) -> Path:
    (source,) = spec.sources
    assert isinstance(source, UrlSource)
    return Path(source.url.removeprefix("file://"))


def test_an_unknown_model_name_is_refused_listing_the_known_ones() -> None:
    with pytest.raises(UnknownModel) as refused:
        fetch("sam_vit_z")

    message = str(refused.value)
    assert "unknown model 'sam_vit_z'" in message
    for known in ("mobile_sam", "sam_vit_b", "sam_vit_l", "sam_vit_h"):
        assert known in message


def test_fetch_downloads_a_checkpoint_into_the_cache_and_it_loads(
    isolated_cache: Path, publish_checkpoint: Callable[..., ModelSpec]
) -> None:
    spec = publish_checkpoint()

    path = fetch(spec.name)

    assert path == isolated_cache / "weights" / spec.filename
    assert file_sha256(path) == spec.sha256
    assert sorted(p.name for p in path.parent.iterdir()) == [spec.filename]
    assert sum(p.numel() for p in load_checkpoint(spec).parameters()) == 10_130_092


@pytest.mark.usefixtures("isolated_cache")
def test_a_second_fetch_uses_the_cached_file_without_downloading_again(
    publish_checkpoint: Callable[..., ModelSpec],
) -> None:
    spec = publish_checkpoint()
    first = fetch(spec.name)
    served_file(spec).unlink()  # any new download would now fail

    assert fetch(spec.name) == first
    assert file_sha256(first) == spec.sha256


@pytest.mark.usefixtures("isolated_cache")
@pytest.mark.parametrize("damage", [b"not a checkpoint", None], ids=["wrong size", "wrong sha"])
def test_a_damaged_cached_file_is_downloaded_again(
    damage: bytes | None, publish_checkpoint: Callable[..., ModelSpec]
) -> None:
    spec = publish_checkpoint()
    cached = fetch(spec.name)
    if damage is None:  # same size, other bytes
        cached.write_bytes(b"\0" * spec.size)
    else:
        cached.write_bytes(damage)

    assert fetch(spec.name) == cached
    assert file_sha256(cached) == spec.sha256


def test_a_source_that_delivers_the_wrong_bytes_fails_and_leaves_no_file(
    isolated_cache: Path, publish_checkpoint: Callable[..., ModelSpec]
) -> None:
    spec = publish_checkpoint(declared_sha256="0" * 64)

    with pytest.raises(FetchFailed) as failed:
        fetch(spec.name)

    message = str(failed.value)
    assert f"could not fetch {spec.name}" in message
    assert "expected " + "0" * 64 in message
    weights = isolated_cache / "weights"
    assert list(weights.iterdir()) == []


@pytest.mark.usefixtures("isolated_cache")
def test_an_unreachable_source_fails_naming_its_url(
    publish_checkpoint: Callable[..., ModelSpec],
) -> None:
    spec = publish_checkpoint()
    served_file(spec).unlink()

    with pytest.raises(FetchFailed) as failed:
        fetch(spec.name)

    (source,) = spec.sources
    assert isinstance(source, UrlSource)
    assert f"download of {source.url} failed" in str(failed.value)


def test_a_registered_local_checkpoint_is_fetched_where_it_lies(
    isolated_cache: Path, tmp_path: Path, mobile_sam_checkpoint: Path
) -> None:
    local = tmp_path / "my checkpoints" / "tuned_sam.pt"
    local.parent.mkdir()
    shutil.copyfile(mobile_sam_checkpoint, local)

    spec = register_local("tuned_sam", "vit_t", local)

    assert fetch("tuned_sam") == local.resolve()
    assert get_model("tuned_sam") == spec
    assert (spec.architecture, spec.size) == ("vit_t", local.stat().st_size)
    assert "tuned_sam" in all_models()
    assert (isolated_cache / "models.json").is_file()
    assert not (isolated_cache / "weights").exists()  # nothing was copied


@pytest.mark.usefixtures("isolated_cache")
def test_a_local_checkpoint_changed_since_registering_is_refused_and_kept(
    tmp_path: Path, mobile_sam_checkpoint: Path
) -> None:
    local = tmp_path / "tuned_sam.pt"
    shutil.copyfile(mobile_sam_checkpoint, local)
    register_local("tuned_sam", "vit_t", local)
    local.write_bytes(b"fine-tuned again, not registered again")

    with pytest.raises(CheckpointInvalid, match="--register tuned_sam"):
        fetch("tuned_sam")

    assert local.read_bytes() == b"fine-tuned again, not registered again"


@pytest.mark.usefixtures("isolated_cache")
def test_fetching_a_deleted_local_checkpoint_says_the_file_is_missing(
    tmp_path: Path, mobile_sam_checkpoint: Path
) -> None:
    local = tmp_path / "tuned_sam.pt"
    shutil.copyfile(mobile_sam_checkpoint, local)
    register_local("tuned_sam", "vit_t", local)
    local.unlink()

    with pytest.raises((CheckpointInvalid, FetchFailed)) as refused:
        fetch("tuned_sam")

    assert str(local) in str(refused.value)


@pytest.mark.usefixtures("isolated_cache")
def test_a_built_in_name_cannot_be_taken_by_a_local_checkpoint(
    mobile_sam_checkpoint: Path,
) -> None:
    with pytest.raises(ValueError, match="'mobile_sam' is a built-in model; choose another name"):
        register_local("mobile_sam", "vit_t", mobile_sam_checkpoint)


@pytest.mark.usefixtures("isolated_cache")
def test_a_local_checkpoint_of_an_unknown_architecture_is_refused_listing_the_known_ones(
    mobile_sam_checkpoint: Path,
) -> None:
    with pytest.raises(ValueError, match="unknown architecture 'vit_x'") as refused:
        register_local("tuned_sam", "vit_x", mobile_sam_checkpoint)

    assert "vit_t, vit_b, vit_l, vit_h" in str(refused.value)


def test_the_fetch_command_prints_the_checkpoint_path(
    run_command: RunCommand, mobile_sam_checkpoint: Path
) -> None:
    result = run_command("inference.fetch")

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(mobile_sam_checkpoint)


def test_the_fetch_command_refuses_an_unknown_name_listing_the_known_ones(
    run_command: RunCommand,
) -> None:
    result = run_command("inference.fetch", "sam_vit_z")

    assert result.returncode != 0
    assert "unknown model 'sam_vit_z'" in result.stderr
    assert "mobile_sam" in result.stderr
    assert result.stdout == ""


def test_the_fetch_command_registers_a_local_checkpoint_then_fetches_it(
    run_command: RunCommand, tmp_path: Path, mobile_sam_checkpoint: Path
) -> None:
    local = tmp_path / "tuned_sam.pt"
    shutil.copyfile(mobile_sam_checkpoint, local)
    cache = {"SAMLABEL_CACHE_DIR": str(tmp_path / "cache")}

    registered = run_command(
        "inference.fetch",
        *("--register", "tuned_sam", "--architecture", "vit_t", "--file", local),
        env=cache,
    )
    fetched = run_command("inference.fetch", "tuned_sam", env=cache)

    assert registered.returncode == 0, registered.stderr
    assert fetched.returncode == 0, fetched.stderr
    assert registered.stdout.strip() == fetched.stdout.strip() == str(local.resolve())


def test_a_corrupt_local_registry_is_named_with_what_to_do(isolated_cache: Path) -> None:
    isolated_cache.mkdir(parents=True)
    (isolated_cache / "models.json").write_text("{not json")
    with pytest.raises(ValueError, match=r"models\.json .* is unreadable.*fix or delete it"):
        get_model("mobile_sam")
