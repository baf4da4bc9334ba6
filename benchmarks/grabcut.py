"""The GrabCut benchmark set: 50 photos with ground-truth masks (``images/`` and
``masks/``, the same stem), as the interactive-segmentation papers use it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image


def grabcut_photos(folder: Path, limit: int | None) -> list[tuple[Path, npt.NDArray[np.uint8]]]:
    """The benchmark's photos (``folder/images``, the first ``limit``) with their ground
    truth (``folder/masks``, same stem): (path, mask (H, W), 255 object, 128 ignored)."""
    photos = []
    for path in sorted((folder / "images").iterdir())[:limit]:
        gt_path = next((folder / "masks").glob(path.stem + ".*"))
        photos.append((path, np.asarray(Image.open(gt_path).convert("L"))))
    return photos
