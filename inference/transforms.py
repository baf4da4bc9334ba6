"""The one place where original-image pixels meet SAM's model frame.

Frames:
- *original*: pixels of the image as the user sees it (EXIF orientation applied),
  x to the right in [0, width), y down in [0, height).
- *model*: pixels of the image resized so that its longest side is 1024
  (``IMAGE_SIZE``), before padding. Padding is added at the right and bottom only,
  so the model frame and the padded 1024×1024 input share their origin.

Mapping: ``x_model = x_orig * (resized_w / orig_w)``, ``y_model = y_orig * (resized_h / orig_h)``,
where ``resized_* = int(orig_* * 1024 / max(orig_w, orig_h) + 0.5)``. This is SAM's
``ResizeLongestSide``: the two axes get slightly different scales after rounding.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image

IMAGE_SIZE = 1024  # side of the padded, square model input
EMBEDDING_SIZE = 64  # side of the (256, 64, 64) image embedding
LOW_RES_MASK_SIZE = 256  # side of the decoder's low-res mask logits
# SAM's normalisation, per RGB channel, on 0-255 pixel values.
PIXEL_MEAN = (123.675, 116.28, 103.53)
PIXEL_STD = (58.395, 57.12, 57.375)


def resized_shape(height: int, width: int, long_side: int = IMAGE_SIZE) -> tuple[int, int]:
    """(height, width) of an image scaled so that its longest side is ``long_side``."""
    scale = long_side / max(height, width)
    return int(height * scale + 0.5), int(width * scale + 0.5)


@dataclass(frozen=True)
class ResizeTransform:
    """Maps between the original frame and the model frame of one image."""

    orig_height: int
    orig_width: int

    @property
    def resized(self) -> tuple[int, int]:
        """(height, width) in the model frame."""
        return resized_shape(self.orig_height, self.orig_width)

    def to_model(self, coords: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(..., 2) original pixels, x then y -> model pixels."""
        out = np.array(coords, dtype=np.float32, copy=True)
        rh, rw = self.resized
        out[..., 0] *= rw / self.orig_width
        out[..., 1] *= rh / self.orig_height
        return out

    def to_original(self, coords: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(..., 2) model pixels, x then y -> original pixels."""
        out = np.array(coords, dtype=np.float32, copy=True)
        rh, rw = self.resized
        out[..., 0] *= self.orig_width / rw
        out[..., 1] *= self.orig_height / rh
        return out

    def boxes_to_model(self, boxes: npt.ArrayLike) -> npt.NDArray[np.float32]:
        """(..., 4) boxes x0 y0 x1 y1 in original pixels -> model pixels."""
        b = np.asarray(boxes, dtype=np.float32)
        return self.to_model(b.reshape(*b.shape[:-1], 2, 2)).reshape(b.shape)


def to_model_input(
    image: Image.Image, original_size: tuple[int, int] | None = None
) -> npt.NDArray[np.float32]:
    """An 8-bit RGB image -> SAM's input (3, 1024, 1024) float32: resized once, with
    bilinear filtering, so the longest side is 1024, normalised with SAM's mean and
    std, zero-padded at the right and bottom.

    ``original_size`` (height, width): when ``image`` is a reduced decode of a larger
    image, the full image's size; the model frame is computed from it, so that it is the
    same frame the decoder and :class:`ResizeTransform` use.
    """
    if image.mode != "RGB":
        raise ValueError(f"expected an RGB image, got mode {image.mode}")
    h, w = resized_shape(*(original_size or (image.height, image.width)))
    resized = np.asarray(image.resize((w, h), Image.Resampling.BILINEAR))  # (h, w, 3) uint8
    out = np.zeros((3, IMAGE_SIZE, IMAGE_SIZE), dtype=np.float32)
    # Normalised channel by channel straight into the padded input: a third of the time
    # of converting the whole image to float and transposing it.
    for channel, (mean, std) in enumerate(zip(PIXEL_MEAN, PIXEL_STD, strict=True)):
        plane = out[channel, :h, :w]
        np.subtract(resized[:, :, channel], np.float32(mean), out=plane, dtype=np.float32)
        plane *= np.float32(1 / std)
    return out
