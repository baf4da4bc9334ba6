"""The image encoder for the device: onnxruntime on a CPU, PyTorch in bf16 on cuda, either
when forced; and the onnxruntime encoder giving PyTorch's embeddings and masks."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import export_onnx.encoder as encoder_module
from export_onnx.encoder import (
    EncoderChoice,
    OnnxEncoder,
    OnnxEncoderMissing,
    backend_setting,
    choose_encoder,
    encode,
    forget_encoders,
    get_encoder,
)
from inference.encode import TorchEncoder
from inference.predict import predict

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(autouse=True)
def fresh_encoders(monkeypatch: pytest.MonkeyPatch):
    """No encoder setting from the environment, and encoders built anew for each test."""
    for variable in ("SAMLABEL_ENCODER_BACKEND", "SAMLABEL_DEVICE", "SAMLABEL_PRECISION"):
        monkeypatch.delenv(variable, raising=False)
    forget_encoders()
    yield
    forget_encoders()


def test_on_a_cpu_the_default_is_onnxruntime() -> None:
    assert choose_encoder("cpu") == EncoderChoice("onnx", "cpu", None)


@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_on_cuda_the_default_is_pytorch_in_bf16(device: str) -> None:
    assert choose_encoder(device) == EncoderChoice("torch", device, "bf16")


def test_on_apple_silicon_the_default_is_pytorch_in_fp32() -> None:
    assert choose_encoder("mps") == EncoderChoice("torch", "mps", "fp32")


def test_a_forced_backend_wins_over_the_device() -> None:
    assert choose_encoder("cpu", "torch") == EncoderChoice("torch", "cpu", "fp32")
    assert choose_encoder("cuda", "onnx") == EncoderChoice("onnx", "cuda", None)
    assert choose_encoder("cuda", "torch", "fp16") == EncoderChoice("torch", "cuda", "fp16")


@pytest.mark.parametrize(
    ("value", "setting"), [(None, "auto"), ("torch", "torch"), ("onnx", "onnx")]
)
def test_the_environment_variable_names_the_backend_and_auto_is_the_default(
    value: str | None, setting: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    if value is not None:
        monkeypatch.setenv("SAMLABEL_ENCODER_BACKEND", value)

    assert backend_setting() == setting
    assert backend_setting("torch") == "torch"  # an explicit argument wins


def test_a_bad_backend_setting_is_refused_naming_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SAMLABEL_ENCODER_BACKEND", "tensorflow")

    with pytest.raises(ValueError, match="SAMLABEL_ENCODER_BACKEND='tensorflow'"):
        encode([Image.new("RGB", (17, 9))], "mobile_sam", device="cpu")


def test_the_cpu_gets_an_onnxruntime_encoder_and_the_override_a_pytorch_one(
    mobile_sam_build, monkeypatch: pytest.MonkeyPatch
) -> None:
    onnx_encoder = get_encoder("mobile_sam", "auto", "cpu")
    assert isinstance(onnx_encoder, OnnxEncoder)
    assert get_encoder("mobile_sam", "auto", "cpu") is onnx_encoder  # built once

    monkeypatch.setenv("SAMLABEL_ENCODER_BACKEND", "torch")
    encode([Image.new("RGB", (17, 9))], "mobile_sam", device="cpu")

    torch_encoder = get_encoder("mobile_sam", "torch", "cpu")
    assert isinstance(torch_encoder, TorchEncoder) and torch_encoder.precision == "fp32"


def test_on_cuda_the_encoder_is_pytorch_in_bf16(monkeypatch: pytest.MonkeyPatch) -> None:
    """What the worker gets on a GPU machine, with the device found as cuda (this test
    runs anywhere: the PyTorch encoder is a stand-in that records its arguments)."""
    built: list[tuple[str, str | None, str | None]] = []
    monkeypatch.setattr(encoder_module, "_resolve_device", lambda device: device or "cuda")
    monkeypatch.setattr(
        encoder_module,
        "get_torch_encoder",
        lambda model, device, precision: built.append((model, device, precision)) or object(),
    )

    get_encoder("mobile_sam")

    assert built == [("mobile_sam", "cuda", "bf16")]


@pytest.fixture
def no_onnx_build(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The model's ONNX folder is empty (the weights stay where they are)."""
    monkeypatch.setattr(encoder_module, "onnx_dir", lambda model: tmp_path / model)
    return tmp_path


def test_without_an_onnx_build_auto_falls_back_to_pytorch_with_a_warning(
    no_onnx_build: Path, caplog: pytest.LogCaptureFixture
) -> None:
    encoder = get_encoder("mobile_sam", "auto", "cpu")

    assert isinstance(encoder, TorchEncoder)
    assert "python -m export_onnx --model mobile_sam" in caplog.text


def test_a_build_made_after_the_fallback_is_used_without_a_restart(
    mobile_sam_build, no_onnx_build: Path
) -> None:
    assert isinstance(get_encoder("mobile_sam", "auto", "cpu"), TorchEncoder)

    built = no_onnx_build / "mobile_sam"  # the build appears, as a worker would make it
    built.mkdir()
    for file in mobile_sam_build.out_dir.iterdir():
        (built / file.name).symlink_to(file)

    assert isinstance(get_encoder("mobile_sam", "auto", "cpu"), OnnxEncoder)


def test_without_an_onnx_build_a_forced_onnx_backend_says_what_to_run(
    no_onnx_build: Path,
) -> None:
    with pytest.raises(OnnxEncoderMissing, match="run `python -m export_onnx --model mobile_sam`"):
        get_encoder("mobile_sam", "onnx", "cpu")


def test_an_onnx_encoder_built_from_another_checkpoint_is_not_used(
    mobile_sam_build, no_onnx_build: Path
) -> None:
    folder = no_onnx_build / "mobile_sam"
    folder.mkdir()
    encoder_file = mobile_sam_build.out_dir / mobile_sam_build.manifest["image_encoder"]["file"]
    (folder / encoder_file.name).symlink_to(encoder_file)
    manifest = {**mobile_sam_build.manifest, "checkpoint_sha256": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))

    with pytest.raises(OnnxEncoderMissing, match="built from another checkpoint"):
        get_encoder("mobile_sam", "onnx", "cpu")


@pytest.fixture(scope="module")
def two_photos(photo):
    return [photo("astronaut"), photo("coffee")]


def test_the_onnxruntime_encoder_gives_pytorchs_embeddings_and_masks(mobile_sam_build, two_photos):
    images = [Image.fromarray(pixels) for pixels, _ in two_photos]
    torch_emb = np.concatenate([emb for _, emb in two_photos])
    onnx_emb = encode(images, backend="onnx", batch_size=2)
    assert onnx_emb.shape == (2, 256, 64, 64) and onnx_emb.dtype == np.float32
    np.testing.assert_allclose(onnx_emb, torch_emb, atol=2e-3)
    # And the masks they give agree.
    pixels = two_photos[0][0]
    size = pixels.shape[:2]
    a = predict(torch_emb[0], [[250, 150]], [1], multimask=False, image_size=size).masks[0]
    b = predict(onnx_emb[0], [[250, 150]], [1], multimask=False, image_size=size).masks[0]
    assert np.logical_and(a, b).sum() / np.logical_or(a, b).sum() >= 0.99


def test_the_encoder_command_writes_the_onnxruntime_embedding(
    mobile_sam_build, two_photos, tmp_path: Path
) -> None:
    pixels, torch_embedding = two_photos[1]
    Image.fromarray(pixels).save(tmp_path / "coffee.png")

    result = subprocess.run(
        [sys.executable, "-m", "export_onnx.encoder", str(tmp_path / "coffee.png"),
         "--backend", "onnx", "--out", str(tmp_path / "out")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(tmp_path / "out" / "coffee.npy")]
    written = np.load(tmp_path / "out" / "coffee.npy")
    assert (written.shape, written.dtype) == ((1, 256, 64, 64), np.float32)
    np.testing.assert_allclose(written, torch_embedding, atol=2e-3)
