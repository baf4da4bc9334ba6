"""The torch -> ONNX conversions and the int8 quantization behind ``build_onnx``."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path

import onnx
import torch
from onnxruntime.quantization import QuantType, quantize_dynamic

from export_onnx.decoder import (
    DECODER_INPUTS,
    LOW_RES_OUTPUTS,
    UPSAMPLED_OUTPUTS,
    SamDecoderOnnx,
    example_inputs,
)

OPSET = 17


def write_decoder(sam: torch.nn.Module, path: Path, upsample: bool) -> None:
    wrapper = SamDecoderOnnx(sam, upsample=upsample).eval()  # type: ignore[arg-type]
    inputs = DECODER_INPUTS if upsample else DECODER_INPUTS[:5]
    outputs = UPSAMPLED_OUTPUTS if upsample else LOW_RES_OUTPUTS
    dynamic = {"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about Python ints are expected
        torch.onnx.export(
            wrapper,
            example_inputs(with_size=upsample),
            str(path),
            dynamo=False,
            input_names=inputs,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=OPSET,
            do_constant_folding=True,
        )
    onnx.checker.check_model(str(path))


def write_split_decoder(sam: torch.nn.Module, image_stage: Path, prompt_stage: Path) -> None:
    """The two graphs of :mod:`export_onnx.split_decoder`."""
    from export_onnx import split_decoder as split

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            split.ImageStage(sam).eval(),  # type: ignore[arg-type]
            (torch.zeros(1, 256, 64, 64),),
            str(image_stage),
            dynamo=False,
            input_names=split.IMAGE_STAGE_INPUTS,
            output_names=split.IMAGE_STAGE_OUTPUTS,
            opset_version=OPSET,
            do_constant_folding=True,
        )
        torch.onnx.export(
            split.PromptStage(sam).eval(),  # type: ignore[arg-type]
            split.example_inputs(sam),  # type: ignore[arg-type]
            str(prompt_stage),
            dynamo=False,
            input_names=split.PROMPT_STAGE_INPUTS,
            output_names=split.PROMPT_STAGE_OUTPUTS,
            dynamic_axes={"point_coords": {1: "num_points"}, "point_labels": {1: "num_points"}},
            opset_version=OPSET,
            custom_opsets={"com.microsoft": 1},  # SimplifiedLayerNormalization
            do_constant_folding=True,
        )
    onnx.checker.check_model(str(image_stage))
    onnx.checker.check_model(str(prompt_stage))


def write_image_encoder(sam: torch.nn.Module, path: Path) -> None:
    encoder = sam.image_encoder.eval()  # type: ignore[union-attr]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            encoder,
            (torch.zeros(1, 3, 1024, 1024),),
            str(path),
            dynamo=False,
            input_names=["images"],
            output_names=["image_embeddings"],
            dynamic_axes={"images": {0: "batch"}, "image_embeddings": {0: "batch"}},
            opset_version=OPSET,
            do_constant_folding=True,
        )


def quantize(src: Path, dst: Path, per_channel: bool = False) -> None:
    """uint8 weights for ``src``'s matrix products, one scale per tensor (as SAM's own
    build) or per output channel. Products with a stack of weight matrices (3-D, one
    per attention head) stay fp32: the per-channel scales are made for one matrix.
    Products of two activations stay fp32 too, except the split decoder's
    ``Int8Product`` ones, quantized on both sides with one scale each."""
    from export_onnx.split_decoder import INT8_PRODUCTS

    logging.getLogger().setLevel(logging.WARNING)  # the quantizer logs every skipped node
    graph = onnx.load(str(src), load_external_data=False).graph
    weights = {i.name for i in graph.initializer}
    stacked = {i.name for i in graph.initializer if len(i.dims) > 2}

    def fp32(node: onnx.NodeProto) -> bool:
        if stacked & set(node.input):
            return True
        return node.input[1] not in weights and f"/{INT8_PRODUCTS}" not in node.name

    keep = [n.name for n in graph.node if n.op_type == "MatMul" and fp32(n)]
    # SAM's published call also passed optimize_model, which current onnxruntime
    # refuses; per-tensor QUInt8 weights are what SAM used.
    quantize_dynamic(
        str(src),
        str(dst),
        per_channel=per_channel,
        reduce_range=False,
        weight_type=QuantType.QUInt8,
        nodes_to_exclude=keep,
        extra_options={"MatMulConstBOnly": False},  # ``keep`` says which stay fp32
    )
