"""onnxruntime's graph optimizations applied once, at build time, instead of in every browser.

Creating a session for the split decoder with ``graphOptimizationLevel: "all"`` took
onnxruntime-web about 0.7-1 s of the annotator's start on the 2-core machine, nearly all
of it fusing and folding the same graph every time. Here onnxruntime (Python) runs the
optimizations up to ``extended`` (they do not depend on the CPU, unlike ``all``'s layout
changes) and saves the result; the browser then only runs the cheap ``basic`` level.
The tanh GELUs become FastGelu nodes, a fusion onnxruntime's session leaves out.

Folding computes constant sub-graphs, such as the grid's positional encoding, into
float32 tensors: ones of a million values or more are stored as float16 with a Cast
(their values are within [-1, 1], so the error is below 2.5e-4), which the browser's
``basic`` level folds again at load. That keeps the files as small as before.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

# onnxruntime registers these of its own operators in the ONNX domain, where onnx (its
# exporter and checker) knows nothing of them: the build writes them in onnxruntime's
# domain, and ``optimize_offline`` moves them where onnxruntime looks for them.
ORT_OPS_IN_ONNX_DOMAIN = frozenset({"SimplifiedLayerNormalization"})
ORT_DOMAIN = "com.microsoft"

# The level the browser uses for a file made by ``optimize_offline``.
BROWSER_LEVEL = "basic"
LARGE = 1 << 20  # values; smaller constants are weights or cheap to keep as they are


def optimize_offline(path: Path) -> None:
    """Replace the ONNX file at ``path`` by its onnxruntime-optimized form (in place)."""
    import onnxruntime as ort

    source = onnx.load(str(path))
    _move_ort_ops(source.graph, ORT_DOMAIN, "")
    tmp = path.with_suffix(".optimized.tmp")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = str(tmp)
    ort.InferenceSession(source.SerializeToString(), options, providers=["CPUExecutionProvider"])
    model = _fuse_tanh_gelu(onnx.load(str(tmp)))
    tmp.unlink()
    _large_constants_as_float16(model.graph)
    # The browser's onnxruntime may be older than this one: keep the source's IR version.
    model.ir_version = min(model.ir_version, source.ir_version)
    check_model(model)
    out = path.with_suffix(".tmp")
    onnx.save(model, str(out))
    os.replace(out, path)


def check_model(model: onnx.ModelProto) -> None:
    """onnx's checker, on a copy whose ``ORT_OPS_IN_ONNX_DOMAIN`` nodes are in
    onnxruntime's domain (whose operators it leaves alone)."""
    copy = onnx.ModelProto()
    copy.CopyFrom(model)
    _move_ort_ops(copy.graph, "", ORT_DOMAIN)
    if not any(o.domain == ORT_DOMAIN for o in copy.opset_import):
        copy.opset_import.append(helper.make_opsetid(ORT_DOMAIN, 1))
    onnx.checker.check_model(copy)


def _move_ort_ops(graph: onnx.GraphProto, src: str, dst: str) -> None:
    for node in graph.node:
        if node.op_type in ORT_OPS_IN_ONNX_DOMAIN and node.domain == src:
            node.domain = dst


def _fuse_tanh_gelu(model: onnx.ModelProto) -> onnx.ModelProto:
    """The tanh GELU's seven element-wise nodes as one FastGelu (onnxruntime's contrib
    op; its optimizers leave that fusion to the transformers tool used here). In wasm it
    takes half the time of the separate nodes."""
    from onnxruntime.transformers.fusion_fastgelu import FusionFastGelu
    from onnxruntime.transformers.onnx_model import OnnxModel

    wrapped = OnnxModel(model)
    FusionFastGelu(wrapped).apply()
    wrapped.prune_graph()
    wrapped.topological_sort()
    return wrapped.model


def _large_constants_as_float16(graph: onnx.GraphProto) -> None:
    for init in list(graph.initializer):
        if init.data_type != TensorProto.FLOAT or int(np.prod(init.dims)) < LARGE:
            continue
        values = numpy_helper.to_array(init)
        if np.abs(values).max() > 1.0:  # only bounded tensors keep their precision
            continue
        graph.initializer.remove(init)
        half = numpy_helper.from_array(values.astype(np.float16), f"{init.name}_float16")
        graph.initializer.append(half)
        cast = helper.make_node(
            "Cast", [half.name], [init.name], to=TensorProto.FLOAT, name=f"{init.name}_cast"
        )
        graph.node.insert(0, cast)
