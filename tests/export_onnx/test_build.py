"""What ``build_onnx`` writes, and that a second run only verifies it."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
import pytest

from export_onnx import build_onnx
from export_onnx.manifest import BROWSER_DECODER
from inference.transforms import IMAGE_SIZE, PIXEL_MEAN, PIXEL_STD

ROOT = Path(__file__).resolve().parents[2]
SAM_INPUTS = ["image_embeddings", "point_coords", "point_labels", "mask_input",
              "has_mask_input", "orig_im_size"]  # fmt: skip


def test_manifest_names_every_file_with_its_sha256(mobile_sam_build):
    manifest = mobile_sam_build.manifest
    out = mobile_sam_build.out_dir
    decoders = list(manifest["decoders"].values())
    entries = [*decoders, *(d["image_stage"] for d in decoders if "image_stage" in d),
               manifest["image_encoder"]]  # fmt: skip
    assert {e["file"] for e in entries} == {
        "decoder_fp32.onnx", "decoder_int8.onnx", "decoder_lowres_fp32.onnx",
        "decoder_lowres_int8.onnx", "decoder_split_fp32.onnx", "decoder_split_int8.onnx",
        "image_stage_fp32.onnx", "image_stage_int8.onnx", "image_encoder.onnx",
    }  # fmt: skip
    for entry in entries:
        data = (out / entry["file"]).read_bytes()
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["size"]


def test_manifest_carries_the_numbers_the_browser_needs(mobile_sam_build):
    m = mobile_sam_build.manifest
    assert m["model"] == "mobile_sam"
    assert m["image_size"] == IMAGE_SIZE
    assert m["embedding_shape"] == [1, 256, 64, 64]
    assert m["low_res_mask_size"] == 256
    assert m["pixel_mean"] == list(PIXEL_MEAN) and m["pixel_std"] == list(PIXEL_STD)
    assert m["point_labels"] == {"padding": -1, "negative": 0, "positive": 1,
                                 "box_top_left": 2, "box_bottom_right": 3}  # fmt: skip
    assert m["browser_decoder"] == BROWSER_DECODER in m["decoders"]
    exact = m["decoders"][m["exact_decoder"]]
    assert exact["precision"] == "fp32" and "image_stage" in exact
    assert m["opset"] >= 17


def test_standard_decoder_has_sams_interface_with_any_number_of_points(mobile_sam_build):
    entry = mobile_sam_build.manifest["decoders"]["fp32"]
    assert [i["name"] for i in entry["inputs"]] == SAM_INPUTS
    assert [o["name"] for o in entry["outputs"]] == ["masks", "iou_predictions", "low_res_masks"]
    coords = next(i for i in entry["inputs"] if i["name"] == "point_coords")
    assert isinstance(coords["shape"][1], str)  # a symbolic, dynamic dimension
    model = onnx.load(str(mobile_sam_build.out_dir / entry["file"]))
    assert model.opset_import[0].version >= 17


def test_low_res_decoder_has_no_size_input_and_returns_four_masks(mobile_sam_build, decoder, photo):
    entry = mobile_sam_build.manifest["decoders"]["lowres_fp32"]
    assert [i["name"] for i in entry["inputs"]] == SAM_INPUTS[:5]
    assert [o["name"] for o in entry["outputs"]] == ["iou_predictions", "low_res_masks"]
    assert entry["upsampled"] is False
    _, emb = photo("astronaut")
    coords = np.array([[[250.0, 150.0], [0.0, 0.0]]], np.float32)
    labels = np.array([[1.0, -1.0]], np.float32)
    out = decoder("lowres_fp32").run(emb, coords, labels)
    assert out["low_res_masks"].shape == (1, 4, 256, 256)
    assert out["iou_predictions"].shape == (1, 4)


@pytest.mark.parametrize("variant", ["split_fp32", "split_int8"])
def test_split_decoder_takes_its_image_stage_outputs_by_name(variant, mobile_sam_build):
    entry = mobile_sam_build.manifest["decoders"][variant]
    stage = entry["image_stage"]
    assert [i["name"] for i in stage["inputs"]] == ["image_embeddings"]
    stage_outputs = [o["name"] for o in stage["outputs"]]
    assert stage_outputs == ["image_tokens", "t2i_k", "t2i_v", "i2t_q"]
    assert [i["name"] for i in entry["inputs"]] == [*stage_outputs, *SAM_INPUTS[1:5]]
    assert [o["name"] for o in entry["outputs"]] == ["iou_predictions", "low_res_masks"]
    assert entry["upsampled"] is False


def test_int8_decoders_are_much_smaller(mobile_sam_build):
    d = mobile_sam_build.manifest["decoders"]
    assert d["int8"]["size"] < d["fp32"]["size"] / 3
    assert d["lowres_int8"]["size"] < d["lowres_fp32"]["size"] / 3


def test_second_build_reuses_verified_files_and_a_damaged_one_is_redone(tmp_path):
    first = build_onnx("mobile_sam", tmp_path, image_encoder=False)
    assert not first.reused
    again = build_onnx("mobile_sam", tmp_path, image_encoder=False)
    assert again.reused and again.manifest == first.manifest

    damaged = tmp_path / "decoder_int8.onnx"
    damaged.write_bytes(damaged.read_bytes()[:-10] + b"0123456789")
    redone = build_onnx("mobile_sam", tmp_path, image_encoder=False)
    assert not redone.reused
    sha = redone.manifest["decoders"]["int8"]["sha256"]
    assert hashlib.sha256(damaged.read_bytes()).hexdigest() == sha


def test_command_line_prints_the_manifest_path(mobile_sam_build):
    result = subprocess.run(
        [sys.executable, "-m", "export_onnx", "--model", "mobile_sam"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert str(mobile_sam_build.out_dir / "manifest.json") in result.stdout
    assert "up to date" in result.stdout
    manifest = json.loads((mobile_sam_build.out_dir / "manifest.json").read_text())
    assert manifest["model"] == "mobile_sam"


def test_command_line_refuses_an_unknown_model():
    result = subprocess.run(
        [sys.executable, "-m", "export_onnx", "--model", "no_such_model"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode != 0
    assert "unknown model 'no_such_model'" in result.stderr


def test_split_decoders_are_saved_optimized_and_small(mobile_sam_build):
    """The browser skips onnxruntime's costly optimizations for files optimized at build time."""
    decoders = mobile_sam_build.manifest["decoders"]
    for name, entry in decoders.items():
        assert entry["graph_optimization"] == ("basic" if name.startswith("split") else "all")
    model = onnx.load(str(mobile_sam_build.out_dir / decoders["split_int8"]["file"]))
    ops = {node.op_type for node in model.graph.node}
    assert "DynamicQuantizeMatMul" in ops  # a fusion onnxruntime made at build time
    assert "FastGelu" in ops and "Tanh" not in ops  # ours
    # The image side's layer norms are RMS norms on mean-free inputs (ours); the
    # tokens' (a few rows) keep onnxruntime's LayerNormalization.
    kinds = [node.op_type for node in model.graph.node]
    assert kinds.count("SimplifiedLayerNormalization") == 3
    # The image-to-tokens attentions' four products of two activations are int8, the
    # per-click side quantized in the graph.
    made_by = {out: node.op_type for node in model.graph.node for out in node.output}
    both_int8 = [
        node for node in model.graph.node
        if node.op_type == "DynamicQuantizeMatMul"
        and made_by.get(node.input[1]) == "DynamicQuantizeLinear"
    ]  # fmt: skip
    assert len(both_int8) == 4
    large = [i for i in model.graph.initializer if np.prod(i.dims) >= 1 << 20]
    assert large and all(i.data_type == onnx.TensorProto.FLOAT16 for i in large)
    # 6.8 MB: int8 weights, plus the fp32 per-head key and value weights that the
    # final attention folds into its queries.
    assert decoders["split_int8"]["size"] < 7_000_000
