"""Memory per upload is bounded: a file of under a MB whose pixels would take gigabytes
once decoded is either refused before any pixel is decoded or taken in within a stated
bound, by the web process (the upload) and by the worker (the decode before encoding).

Each side runs in a fresh process (``benchmarks.image_memory``), whose peak resident
memory is what is measured. Before the bound, the 16-bit PNG took the web process to
2.7 GB and the worker to 2.7 GB (figures in docs/benchmarks.md).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from benchmarks.image_memory import measure, write_png

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="peak memory is read as Linux reports it"
)

# The decode may hold 256 MiB (SAMLABEL_MAX_DECODED_BYTES); the rest of the process
# (Django, numpy, Pillow, the upload's bytes, small copies) stays well within as much again.
PEAK_BOUND_MIB = 512


@pytest.fixture(scope="module")
def large_pngs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A 16-bit grey and an 8-bit RGB 10000×10000 PNG, each under 1.2 MB on disk."""
    folder = tmp_path_factory.mktemp("large")
    paths = {}
    for kind in ("grey16", "rgb8"):
        paths[kind] = folder / f"{kind}.png"
        write_png(paths[kind], kind)
    return paths


@pytest.mark.parametrize("side", ["web", "worker"])
def test_a_16_bit_100_megapixel_png_is_taken_in_within_the_bound(
    large_pngs: dict[str, Path], side: str
) -> None:
    result = measure(side, large_pngs["grey16"])

    assert result["outcome"] in ("created", "decoded"), result
    assert int(str(result["peak_mib"])) < PEAK_BOUND_MIB, result


@pytest.mark.parametrize("side", ["web", "worker"])
def test_an_rgb_100_megapixel_png_is_refused_before_its_pixels_are_decoded(
    large_pngs: dict[str, Path], side: str
) -> None:
    result = measure(side, large_pngs["rgb8"])

    assert result["outcome"] == "rejected", result
    assert "400,000,000 bytes once decoded, over the limit of 268,435,456" in str(result["reason"])
    # Refused from the header: the process grows by no more than a few MB.
    assert int(str(result["peak_mib"])) - int(str(result["before_mib"])) < 64, result
