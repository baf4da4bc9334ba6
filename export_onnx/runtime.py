"""Running a built ONNX decoder with onnxruntime, exactly as the browser feeds it.

Used by the parity tests and the benchmark. The browser's own code follows the same
steps: coordinates to the model frame, a padding point when there is no box, box
corners labelled 2 and 3, the previous low-res mask as ``mask_input``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import torch

from export_onnx.manifest import read_manifest
from inference.predict import MASK_THRESHOLD, Prediction, upscale_masks
from inference.registry import DEFAULT_MODEL, onnx_dir
from inference.transforms import ResizeTransform


def prompt_arrays(
    transform: ResizeTransform,
    points: npt.ArrayLike | None,
    labels: npt.ArrayLike | None,
    box: npt.ArrayLike | None,
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.float32]]:
    """``point_coords`` (1, N, 2) in the model frame and ``point_labels`` (1, N)."""
    coords: list[npt.NDArray[np.float32]] = []
    lbls: list[npt.NDArray[np.float32]] = []
    if points is not None:
        coords.append(transform.to_model(np.asarray(points, np.float32).reshape(-1, 2)))
        lbls.append(np.asarray(labels, np.float32).reshape(-1))
    if box is not None:
        coords.append(
            transform.boxes_to_model(np.asarray(box, np.float32).reshape(4)).reshape(2, 2)
        )
        lbls.append(np.array([2, 3], np.float32))
    else:
        coords.append(np.zeros((1, 2), np.float32))
        lbls.append(np.array([-1], np.float32))
    return np.concatenate(coords)[None], np.concatenate(lbls)[None]


class OnnxDecoder:
    """One decoder variant of a build, in an onnxruntime session."""

    def __init__(
        self,
        variant: str,
        model: str = DEFAULT_MODEL,
        out_dir: Path | None = None,
        threads: int | None = None,
    ) -> None:
        out_dir = out_dir or onnx_dir(model)
        self.manifest: dict[str, Any] = read_manifest(out_dir)
        self.entry: dict[str, Any] = self.manifest["decoders"][variant]
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(
            str(out_dir / self.entry["file"]), options, providers=["CPUExecutionProvider"]
        )
        self.upsampled: bool = self.entry["upsampled"]
        # A split decoder's image stage runs once per embedding, as in the browser.
        self.image_stage: ort.InferenceSession | None = None
        if self.entry.get("image_stage"):
            self.image_stage = ort.InferenceSession(
                str(out_dir / self.entry["image_stage"]["file"]),
                options,
                providers=["CPUExecutionProvider"],
            )
        self._stage_for: npt.NDArray[np.float32] | None = None
        self._stage: dict[str, npt.NDArray[np.float32]] = {}

    def image_feeds(self, embedding: npt.NDArray[np.float32]) -> dict[str, npt.NDArray[np.float32]]:
        """The per-image inputs: the embedding, or a split decoder's image-stage outputs
        (computed once per distinct embedding)."""
        embedding = np.asarray(embedding, np.float32).reshape(1, 256, 64, 64)
        if self.image_stage is None:
            return {"image_embeddings": embedding}
        if self._stage_for is None or not np.array_equal(self._stage_for, embedding):
            names = [o.name for o in self.image_stage.get_outputs()]
            outputs = self.image_stage.run(None, {"image_embeddings": embedding})
            self._stage = dict(zip(names, outputs, strict=True))
            self._stage_for = embedding.copy()
        return self._stage

    def run(
        self,
        embedding: npt.NDArray[np.float32],
        point_coords: npt.NDArray[np.float32],
        point_labels: npt.NDArray[np.float32],
        mask_input: npt.NDArray[np.float32] | None = None,
        orig_size: tuple[int, int] | None = None,
    ) -> dict[str, npt.NDArray[np.float32]]:
        """Raw graph outputs by name, for inputs already in the model frame."""
        feeds = {
            **self.image_feeds(embedding),
            "point_coords": point_coords,
            "point_labels": point_labels,
            "mask_input": (
                np.zeros((1, 1, 256, 256), np.float32)
                if mask_input is None
                else np.asarray(mask_input, np.float32).reshape(1, 1, 256, 256)
            ),
            "has_mask_input": np.array([0.0 if mask_input is None else 1.0], np.float32),
        }
        if self.upsampled:
            assert orig_size is not None, "the upsampled decoder needs the original size"
            feeds["orig_im_size"] = np.array(orig_size, np.float32)
        names = [o.name for o in self.session.get_outputs()]
        return dict(zip(names, self.session.run(None, feeds), strict=True))

    def predict(
        self,
        embedding: npt.NDArray[np.float32],
        points: npt.ArrayLike | None = None,
        labels: npt.ArrayLike | None = None,
        box: npt.ArrayLike | None = None,
        mask_input: npt.NDArray[np.float32] | None = None,
        multimask: bool = True,
        *,
        image_size: tuple[int, int],
    ) -> Prediction:
        """Like :func:`inference.predict.predict`, with this decoder.

        The upsampled variant returns the one mask SAM's rule picks; the low-res variant
        returns tokens 1-3 (``multimask``) or token 0, upsampled here as the browser does.
        """
        transform = ResizeTransform(*image_size)
        coords, lbls = prompt_arrays(transform, points, labels, box)
        out = self.run(embedding, coords, lbls, mask_input, image_size)
        if self.upsampled:
            return Prediction(
                masks=out["masks"][0] > MASK_THRESHOLD,
                scores=out["iou_predictions"][0],
                low_res_logits=out["low_res_masks"][0],
            )
        chosen = slice(1, 4) if multimask else slice(0, 1)
        low_res = out["low_res_masks"][:, chosen]
        masks = upscale_masks(torch.from_numpy(low_res), transform)[0].numpy() > MASK_THRESHOLD
        return Prediction(
            masks=masks, scores=out["iou_predictions"][0, chosen], low_res_logits=low_res[0]
        )
