"""The decode-by-decode agreement benchmark, on one photo laid out like GrabCut."""

from __future__ import annotations

import numpy as np
from PIL import Image
from skimage import data

from benchmarks.agreement import agreement_rows


def test_agreement_rows_show_the_fp32_split_decoder_equal_to_pytorch(mobile_sam_build, tmp_path):
    (tmp_path / "images").mkdir()
    (tmp_path / "masks").mkdir()
    pixels = data.coffee()  # 400 x 600; the cup's saucer fills the middle
    Image.fromarray(pixels).save(tmp_path / "images" / "coffee.png")
    yy, xx = np.mgrid[: pixels.shape[0], : pixels.shape[1]]
    ellipse = ((xx - 300) / 140) ** 2 + ((yy - 170) / 110) ** 2 <= 1
    Image.fromarray(np.where(ellipse, 255, 0).astype(np.uint8)).save(
        tmp_path / "masks" / "coffee.png"
    )

    rows = agreement_rows(tmp_path, "mobile_sam", limit=None)

    cells = {row.split("|")[1].strip(): [c.strip() for c in row.split("|")[2:-1]] for row in rows}
    assert set(cells) == {"split int8, shipped", "SAM's low-res int8", "split fp32"}

    def numbers(cell: str) -> tuple[float, str, float]:
        mean, share, fifth = (part.strip() for part in cell.split(","))
        return float(mean), share, float(fifth)

    # fp32 ONNX on the float16 embedding against PyTorch on the fp32 one: equal masks.
    for cell in cells["split fp32"][:2]:
        mean, share, fifth = numbers(cell)
        assert mean >= 0.999 and share == "100%" and fifth >= 0.99
    assert cells["split fp32"][2] == "0 / 1"
    for label in ("split int8, shipped", "SAM's low-res int8"):
        assert numbers(cells[label][0])[0] >= 0.9 and numbers(cells[label][1])[0] >= 0.9
