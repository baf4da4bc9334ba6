"""A checkpoint is checked (size, then sha256) before it is loaded: a damaged file is
refused with a message that names it and says what to do, and is never unpickled."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from inference.model import load_checkpoint
from inference.registry import get_model, register_local
from inference.weights import CheckpointInvalid, verify

MOBILE_SAM_SIZE = "40,728,226"


@pytest.fixture
def copy_checkpoint(tmp_path: Path, mobile_sam_checkpoint: Path) -> Callable[..., Path]:
    """``copy_checkpoint(damage=None)`` -> a copy of the real MobileSAM checkpoint:
    intact, with one byte ``"flipped"`` in the middle, or ``"truncated"`` by 1 KiB."""

    def _copy_checkpoint(damage: str | None = None, name: str = "mobile_sam_copy.pt") -> Path:
        path = tmp_path / name
        shutil.copyfile(mobile_sam_checkpoint, path)
        damage_checkpoint(path, damage)
        return path

    return _copy_checkpoint


def damage_checkpoint(path: Path, damage: str | None) -> None:
    if damage == "flipped":
        with open(path, "r+b") as f:
            f.seek(path.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, 1)
            f.write(bytes([byte[0] ^ 0xFF]))
    elif damage == "truncated":
        with open(path, "r+b") as f:
            f.truncate(path.stat().st_size - 1024)
    elif damage == "deleted":
        path.unlink()


@pytest.fixture
def torch_load_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if anything unpickles a checkpoint."""

    def refuse(*args: object, **kwargs: object) -> None:
        pytest.fail("torch.load was called on a checkpoint that failed verification")

    monkeypatch.setattr(torch, "load", refuse)


def test_an_intact_copy_of_the_checkpoint_verifies(copy_checkpoint: Callable[..., Path]) -> None:
    verify(copy_checkpoint(), get_model("mobile_sam"))


def test_a_checkpoint_with_one_flipped_byte_is_refused_naming_the_file_and_the_fix(
    copy_checkpoint: Callable[..., Path],
) -> None:
    path = copy_checkpoint("flipped")

    with pytest.raises(CheckpointInvalid) as refused:
        verify(path, get_model("mobile_sam"))

    message = str(refused.value)
    assert str(path) in message
    assert "sha256" in message
    assert "corrupt or the wrong file" in message
    assert "delete it and run `python -m inference.fetch mobile_sam`" in message


def test_a_truncated_checkpoint_is_refused_for_its_size(
    copy_checkpoint: Callable[..., Path],
) -> None:
    path = copy_checkpoint("truncated")

    with pytest.raises(CheckpointInvalid) as refused:
        verify(path, get_model("mobile_sam"))

    message = str(refused.value)
    assert str(path) in message
    assert f"expected {MOBILE_SAM_SIZE}" in message
    assert "truncated" in message
    assert "python -m inference.fetch mobile_sam" in message


def test_a_missing_checkpoint_is_refused_saying_how_to_fetch_it(tmp_path: Path) -> None:
    path = tmp_path / "nowhere.pt"

    with pytest.raises(CheckpointInvalid, match="not found") as refused:
        verify(path, get_model("mobile_sam"))

    assert str(path) in str(refused.value)
    assert "python -m inference.fetch mobile_sam" in str(refused.value)


@pytest.mark.usefixtures("torch_load_forbidden")
@pytest.mark.parametrize("damage", ["flipped", "truncated"])
def test_a_damaged_checkpoint_is_never_unpickled(
    damage: str, copy_checkpoint: Callable[..., Path]
) -> None:
    path = copy_checkpoint(damage)

    with pytest.raises(CheckpointInvalid, match=re.escape(str(path))):
        load_checkpoint(get_model("mobile_sam"), path)


@pytest.mark.usefixtures("isolated_cache")
def test_a_registered_checkpoint_loads_while_it_is_unchanged(
    copy_checkpoint: Callable[..., Path],
) -> None:
    spec = register_local("my_mobile_sam", "vit_t", copy_checkpoint())

    model = load_checkpoint(spec)

    assert sum(p.numel() for p in model.parameters()) == 10_130_092


@pytest.mark.usefixtures("isolated_cache", "torch_load_forbidden")
@pytest.mark.parametrize("damage", ["flipped", "truncated", "deleted"])
def test_a_registered_checkpoint_changed_since_is_refused_without_unpickling_it(
    damage: str, copy_checkpoint: Callable[..., Path]
) -> None:
    path = copy_checkpoint()
    register_local("my_mobile_sam", "vit_t", path)
    damage_checkpoint(path, damage)

    with pytest.raises(CheckpointInvalid) as refused:
        load_checkpoint(get_model("my_mobile_sam"))

    message = str(refused.value)
    assert str(path.resolve()) in message
    assert "python -m inference.fetch --register my_mobile_sam" in message
