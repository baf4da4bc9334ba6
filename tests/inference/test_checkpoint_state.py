"""``checkpoint_state`` and ``ready_models``: which models this machine can run, decided
without fetching anything, and cheaply enough to ask on every form and task."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable
from pathlib import Path

import pytest

import inference.weights
from inference.registry import BUILTIN_MODELS, ModelSpec, UrlSource
from inference.weights import checkpoint_state, ready_models, weights_dir


@pytest.fixture
def small_model(
    isolated_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., tuple[ModelSpec, Path]]:
    """``small_model(name, present=True)`` -> a built-in model whose checkpoint is 4 KiB of
    known bytes, and where that checkpoint lives in the isolated cache."""

    def make(name: str = "small_sam", present: bool = True) -> tuple[ModelSpec, Path]:
        content = os.urandom(4096)
        spec = ModelSpec(
            name=name,
            architecture="vit_b",
            filename=f"{name}.pt",
            size=len(content),
            sha256=hashlib.sha256(content).hexdigest(),
            sources=(UrlSource(f"https://example.invalid/{name}.pt"),),
        )
        monkeypatch.setitem(BUILTIN_MODELS, name, spec)
        path = weights_dir() / spec.filename
        if present:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(content)
        return spec, path

    return make


@pytest.fixture
def fetch_forbidden(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("checkpoint_state must never fetch")

    monkeypatch.setattr(inference.weights, "fetch", refuse)
    monkeypatch.setattr(inference.weights, "_from_url", refuse)
    monkeypatch.setattr(inference.weights, "_from_pypi_sdist", refuse)


def test_a_present_verified_checkpoint_is_ready(small_model, fetch_forbidden) -> None:
    small_model("small_sam")

    state = checkpoint_state("small_sam")

    assert state.ready
    assert state.problem == ""


def test_a_missing_checkpoint_is_not_ready_and_names_the_fetch_command(
    small_model, fetch_forbidden
) -> None:
    _, path = small_model("small_sam", present=False)

    state = checkpoint_state("small_sam")

    assert not state.ready
    assert state.problem == "not on this machine"
    assert state.describe(".venv/bin/python") == (
        "the weights of small_sam are not on this machine; "
        "run `.venv/bin/python -m inference.fetch small_sam`"
    )
    assert not path.exists()


def test_a_truncated_checkpoint_is_not_ready(small_model) -> None:
    _, path = small_model("small_sam")
    path.write_bytes(path.read_bytes()[:100])

    state = checkpoint_state("small_sam")

    assert not state.ready
    assert "100 bytes, expected 4,096" in state.problem


def test_a_checkpoint_rewritten_with_other_bytes_of_the_same_size_is_caught(small_model) -> None:
    _, path = small_model("small_sam")
    assert checkpoint_state("small_sam").ready
    before = path.stat().st_mtime_ns

    path.write_bytes(os.urandom(4096))
    # A coarse file-system clock could give the rewrite the same time; a rewrite a second
    # later is what the cache must notice.
    os.utime(path, ns=(before + 10**9, before + 10**9))

    state = checkpoint_state("small_sam")
    assert not state.ready
    assert "sha256 differs" in state.problem


def test_an_unchanged_checkpoint_is_hashed_once(small_model, monkeypatch) -> None:
    small_model("small_sam")
    hashed: list[Path] = []
    real_sha256 = inference.weights.file_sha256

    def counting_sha256(path: Path) -> str:
        hashed.append(path)
        return real_sha256(path)

    monkeypatch.setattr(inference.weights, "file_sha256", counting_sha256)

    assert all(checkpoint_state("small_sam").ready for _ in range(5))
    assert len(hashed) == 1


def test_an_unknown_model_is_not_ready(fetch_forbidden) -> None:
    state = checkpoint_state("sam_vit_zzz")

    assert not state.ready
    assert "not registered" in state.problem


def test_ready_models_lists_exactly_the_models_with_verified_checkpoints(small_model) -> None:
    small_model("small_sam")
    small_model("absent_sam", present=False)
    _, corrupt = small_model("corrupt_sam")
    corrupt.write_bytes(b"x" * 4096)
    os.utime(corrupt, ns=(10**18, 10**18))

    ready = ready_models()

    assert "small_sam" in ready
    assert "absent_sam" not in ready
    assert "corrupt_sam" not in ready
    # The isolated cache holds none of the real checkpoints.
    assert "mobile_sam" not in ready
