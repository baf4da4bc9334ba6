"""The networks match the official checkpoints: MobileSAM's real file loads strictly,
and SAM's ViT-B/L/H hold the tensors, names and shapes of the official SAM files."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from inference.build import ARCHITECTURES, build_vit_b
from inference.model import load_checkpoint
from inference.modeling.sam import Sam
from inference.registry import BUILTIN_MODELS, register_local


def stored_values(model: Sam) -> int:
    """How many numbers a checkpoint of ``model`` holds (parameters and buffers)."""
    return sum(tensor.numel() for tensor in model.state_dict().values())


def test_the_real_mobile_sam_checkpoint_loads_strictly_with_every_tensor_in_place(
    mobile_sam: Sam, mobile_sam_checkpoint: Path
) -> None:
    in_file = torch.load(mobile_sam_checkpoint, map_location="cpu", weights_only=True)
    in_model = mobile_sam.state_dict()

    assert in_model.keys() == in_file.keys()
    differing = [k for k, v in in_file.items() if not torch.equal(in_model[k].cpu(), v)]
    assert differing == []
    # MobileSAM: a 5.8M TinyViT (plus its unused 0.3M classification head) and SAM's
    # 4M prompt encoder and mask decoder.
    parameters = sum(p.numel() for p in mobile_sam.parameters())
    assert 9_500_000 < parameters < 10_500_000
    assert not mobile_sam.training


# Parameter counts of the official checkpoints (mobile_sam.pt, sam_vit_b_01ec64.pth...),
# as other projects report them for the same files (Ultralytics maps 93735472 to
# "sam_b", 312342832 to "sam_l"). The SAM paper quotes ViT-B/L/H as 91M, 308M and
# 636M: those are rounder, slightly different counts, not a second truth to meet.
OFFICIAL_PARAMETERS = {
    "mobile_sam": 10_130_092,
    "sam_vit_b": 93_735_472,
    "sam_vit_l": 312_342_832,
    "sam_vit_h": 641_090_608,
}


@pytest.mark.parametrize("model_name", sorted(OFFICIAL_PARAMETERS))
def test_each_architecture_holds_as_many_values_as_its_official_checkpoint(
    model_name: str,
) -> None:
    spec = BUILTIN_MODELS[model_name]
    # On the meta device nothing is allocated, so even ViT-H is built in a blink.
    with torch.device("meta"):
        model = ARCHITECTURES[spec.architecture]()

    parameters = sum(p.numel() for p in model.parameters())
    assert parameters == OFFICIAL_PARAMETERS[model_name]
    # The official files are float32 tensors plus a little pickle framing.
    float32_bytes = 4 * stored_values(model)
    assert float32_bytes <= spec.size <= float32_bytes * 1.005


# Names and shapes from the official SAM checkpoints: the tensors that differ between
# ViT-B, ViT-L and ViT-H (width, depth, heads, which blocks attend globally).
OFFICIAL_ENCODER_TENSORS = {
    "vit_b": {
        "image_encoder.patch_embed.proj.weight": (768, 3, 16, 16),
        "image_encoder.pos_embed": (1, 64, 64, 768),
        "image_encoder.blocks.0.attn.rel_pos_h": (27, 64),
        "image_encoder.blocks.2.attn.rel_pos_w": (127, 64),
        "image_encoder.blocks.11.attn.rel_pos_h": (127, 64),
        "image_encoder.blocks.11.mlp.lin1.weight": (3072, 768),
        "image_encoder.neck.0.weight": (256, 768, 1, 1),
    },
    "vit_l": {
        "image_encoder.patch_embed.proj.weight": (1024, 3, 16, 16),
        "image_encoder.blocks.4.attn.rel_pos_h": (27, 64),
        "image_encoder.blocks.5.attn.rel_pos_h": (127, 64),
        "image_encoder.blocks.23.attn.rel_pos_w": (127, 64),
        "image_encoder.blocks.23.attn.qkv.weight": (3072, 1024),
        "image_encoder.neck.0.weight": (256, 1024, 1, 1),
    },
    "vit_h": {
        "image_encoder.patch_embed.proj.weight": (1280, 3, 16, 16),
        "image_encoder.pos_embed": (1, 64, 64, 1280),
        "image_encoder.blocks.6.attn.rel_pos_h": (27, 80),
        "image_encoder.blocks.7.attn.rel_pos_h": (127, 80),
        "image_encoder.blocks.31.attn.rel_pos_w": (127, 80),
        "image_encoder.blocks.31.mlp.lin2.weight": (1280, 5120),
        "image_encoder.neck.2.weight": (256, 256, 3, 3),
    },
}
LAST_BLOCK = {"vit_b": 11, "vit_l": 23, "vit_h": 31}


@pytest.mark.parametrize("architecture", sorted(OFFICIAL_ENCODER_TENSORS))
def test_sam_vit_encoders_name_and_shape_their_tensors_like_the_official_checkpoints(
    architecture: str,
) -> None:
    with torch.device("meta"):
        state = ARCHITECTURES[architecture]().state_dict()

    shapes = {name: tuple(state[name].shape) for name in OFFICIAL_ENCODER_TENSORS[architecture]}
    assert shapes == OFFICIAL_ENCODER_TENSORS[architecture]
    depth = 1 + max(int(k.split(".")[2]) for k in state if k.startswith("image_encoder.blocks."))
    assert depth == LAST_BLOCK[architecture] + 1


def test_a_vit_b_checkpoint_registered_locally_loads_strictly_with_its_values(
    tmp_path: Path, isolated_cache: Path
) -> None:
    torch.manual_seed(0)
    # Half precision halves the file; loading copies the values into float32 exactly.
    saved = {name: tensor.half() for name, tensor in build_vit_b().state_dict().items()}
    path = tmp_path / "my_vit_b.pth"
    torch.save(saved, path)

    model = load_checkpoint(register_local("my_vit_b", "vit_b", path))

    loaded = model.state_dict()
    assert loaded.keys() == saved.keys()
    assert all(torch.equal(loaded[name], saved[name].float()) for name in saved)


def test_a_checkpoint_registered_under_the_wrong_architecture_does_not_load(
    mobile_sam_checkpoint: Path, isolated_cache: Path
) -> None:
    spec = register_local("mislabelled", "vit_b", mobile_sam_checkpoint)

    with pytest.raises(RuntimeError, match=r"Missing key\(s\).*image_encoder\.blocks\.0"):
        load_checkpoint(spec)
