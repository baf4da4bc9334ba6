"""``encode()`` and ``python -m inference.encode``: real MobileSAM embeddings, the same
whether images go one at a time or in batches, from pixels or from files."""

from __future__ import annotations

import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from inference.encode import encode, preprocess

EncodePhoto = Callable[[str], Any]  # conftest's encode_photo -> EncodedPhoto
RunCommand = Callable[..., subprocess.CompletedProcess[str]]
DEVICE = "cpu"  # as the session's embeddings, so results compare exactly


def test_encoding_a_batch_gives_one_float32_embedding_per_image_as_one_at_a_time(
    encode_photo: EncodePhoto,
) -> None:
    cat, tiny = encode_photo("chelsea"), encode_photo("tiny")

    batch = encode(
        [Image.fromarray(cat.pixels), Image.fromarray(tiny.pixels)],
        "mobile_sam",
        batch_size=2,
        device=DEVICE,
    )

    assert (batch.shape, batch.dtype) == ((2, 256, 64, 64), np.float32)
    np.testing.assert_allclose(batch[0], cat.embedding[0], atol=1e-4)
    np.testing.assert_allclose(batch[1], tiny.embedding[0], atol=1e-4)
    assert not np.allclose(batch[0], batch[1], atol=1e-2)  # two images, two embeddings


def test_encoding_no_images_gives_an_empty_batch() -> None:
    embeddings = encode([], "mobile_sam", device=DEVICE)

    assert (embeddings.shape, embeddings.dtype) == ((0, 256, 64, 64), np.float32)


def test_a_bad_precision_setting_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMLABEL_PRECISION", "int4")

    with pytest.raises(ValueError, match="SAMLABEL_PRECISION='int4'"):
        encode([Image.new("RGB", (17, 9))], "mobile_sam", device=DEVICE)


def test_a_16_bit_image_gives_the_same_model_input_as_a_file_or_as_a_pil_image(
    tmp_path: Path,
) -> None:
    deep = np.zeros((20, 30), np.uint16)
    deep[:, 10:20] = 32896  # mid grey in 16 bits
    path = tmp_path / "microscope.png"
    Image.fromarray(deep).save(path)

    with Image.open(path) as opened:
        np.testing.assert_allclose(preprocess([opened]), preprocess([path]), atol=1e-5)


@dataclass(frozen=True)
class EncodeRun:
    result: subprocess.CompletedProcess[str]
    out: Path
    bad_image: Path


@pytest.fixture(scope="module")
def encode_command_run(
    tmp_path_factory: pytest.TempPathFactory,
    run_command: RunCommand,
    encode_photo: EncodePhoto,
) -> EncodeRun:
    """``python -m inference.encode`` run once on two good images and a text file."""
    folder = tmp_path_factory.mktemp("encode_command")
    Image.fromarray(encode_photo("chelsea").pixels).save(folder / "chelsea.png")
    Image.fromarray(encode_photo("tiny").pixels).save(folder / "tiny.png")
    bad_image = folder / "notes.jpg"
    bad_image.write_text("not a photo, a shopping list\n")
    out = folder / "embeddings"
    result = run_command(
        "inference.encode",
        *(folder / "chelsea.png", bad_image, folder / "tiny.png"),
        *("--out", out, "--device", DEVICE),
    )
    return EncodeRun(result, out, bad_image)


def test_the_encode_command_reports_a_bad_image_and_exits_non_zero(
    encode_command_run: EncodeRun,
) -> None:
    result = encode_command_run.result

    assert result.returncode != 0
    assert f"{encode_command_run.bad_image}: not an image" in result.stderr


def test_the_encode_command_still_writes_one_npy_per_good_image_named_after_it(
    encode_command_run: EncodeRun,
) -> None:
    written = sorted(p.name for p in encode_command_run.out.iterdir())

    assert written == ["chelsea.npy", "tiny.npy"]
    printed = encode_command_run.result.stdout.split()
    assert printed == [str(encode_command_run.out / name) for name in ("chelsea.npy", "tiny.npy")]


@pytest.mark.parametrize("photo", ["chelsea", "tiny"])
def test_the_encode_command_writes_the_embedding_encode_gives(
    photo: str, encode_command_run: EncodeRun, encode_photo: EncodePhoto
) -> None:
    embedding = np.load(encode_command_run.out / f"{photo}.npy")

    assert (embedding.shape, embedding.dtype) == ((1, 256, 64, 64), np.float32)
    np.testing.assert_allclose(embedding, encode_photo(photo).embedding, atol=1e-4)


def test_the_encode_command_refuses_images_whose_embeddings_would_overwrite_each_other(
    run_command: RunCommand, tmp_path: Path
) -> None:
    for folder in ("monday", "tuesday"):
        (tmp_path / folder).mkdir()
        Image.new("RGB", (17, 9)).save(tmp_path / folder / "cat.png")

    result = run_command(
        "inference.encode",
        *(tmp_path / "monday" / "cat.png", tmp_path / "tuesday" / "cat.png"),
        *("--out", tmp_path / "out"),
    )

    assert result.returncode == 2
    assert "several images are named cat" in result.stderr
    assert not (tmp_path / "out").exists()
