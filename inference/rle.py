"""COCO run-length encoding of binary masks, written with numpy alone.

A mask is an (H, W) bool array in the image's frame, row ``y`` then column ``x``. Its RLE is
``{"size": [H, W], "counts": ...}``: the lengths of alternating runs of 0s and 1s over the
pixels in column-major (Fortran) order, beginning with a run of 0s (of length 0 when the
first pixel is set). ``counts`` is either that list of ints ("uncompressed") or COCO's
compressed string, in which each run is stored, after subtracting the run two before it
(from the fourth run on, exactly as COCO's ``rleToString`` does), as a little-endian
sequence of 5-bit groups with a continuation bit, each written as ``chr(48 + group)``.

This is the one codec of the project: the inference library writes its automatic masks
with it, and the web app (``webapp.annotations.rle``) re-exports it beside its polygon
helpers. Everything here is a pure function; malformed input raises :class:`InvalidMask`
(a ``ValueError``) with a message a person can act on. Strings made here are
byte-for-byte those of ``pycocotools.mask.encode``, and masks decoded here are those it
would decode.
"""

from __future__ import annotations

from typing import Any

import numpy as np

RLE = dict[str, Any]

# A mask has at most 2**40 pixels (a million by a million), so a run or its change fits in
# 12 groups of 5 bits; refusing longer groups keeps all arithmetic within int64.
_MAX_PIXELS = 2**40
_MAX_CHARS_PER_RUN = 12
_ASCII_OFFSET = 48


class InvalidMask(ValueError):
    """An RLE or polygon that does not describe a mask."""


def encode(mask: np.ndarray) -> RLE:
    """Encode ``mask``, (H, W) bool (any dtype: non-zero is set), as a compressed COCO RLE.

    Returns ``{"size": [H, W], "counts": str}``; H and W must both be positive.
    """
    mask = np.asarray(mask)
    if mask.ndim != 2 or mask.shape[0] < 1 or mask.shape[1] < 1:
        raise InvalidMask(f"a mask must be a non-empty (H, W) array, not shape {mask.shape}")
    height, width = mask.shape
    pixels = mask.astype(bool).ravel(order="F")
    return {"size": [int(height), int(width)], "counts": _counts_to_string(_runs(pixels))}


def decode(rle: RLE) -> np.ndarray:
    """Decode a COCO RLE (string or list counts) into an (H, W) bool mask."""
    height, width, counts = _parse(rle)
    values = np.arange(counts.size) % 2 == 1
    pixels = np.repeat(values, counts)
    return np.ascontiguousarray(pixels.reshape(width, height).T)


def normalize(rle: RLE) -> RLE:
    """``rle`` (string or list counts, validated) in its one canonical form, the compressed
    RLE :func:`encode` writes for the mask it decodes to: zero-length runs dropped (but a
    leading run of 0s of length 0 when the first pixel is set) and neighbouring runs of
    one value joined. Works on the runs alone, never on the (H, W) pixels, so a 24-megapixel
    mask costs what its runs cost."""
    height, width, counts = _parse(rle)
    values = np.arange(counts.size) % 2  # 0, 1, 0, ...: the value of each run
    kept = counts > 0
    lengths, values = counts[kept], values[kept]
    starts = np.flatnonzero(np.concatenate(([True], values[1:] != values[:-1])))
    runs = np.add.reduceat(lengths, starts)
    if values[0] == 1:
        runs = np.concatenate(([0], runs))
    return {"size": [height, width], "counts": _counts_to_string(runs.astype(np.int64))}


def area(rle: RLE) -> int:
    """The number of set pixels of a COCO RLE (as ``pycocotools.mask.area``)."""
    _, _, counts = _parse(rle)
    return int(counts[1::2].sum())


def bbox(rle: RLE) -> list[int]:
    """The tight box ``[x, y, width, height]`` of the set pixels, in pixels, COCO's
    convention (as ``pycocotools.mask.toBbox``); ``[0, 0, 0, 0]`` for an empty mask."""
    height, _, counts = _parse(rle)
    ends = np.cumsum(counts)
    starts = ends - counts
    ones = (np.arange(counts.size) % 2 == 1) & (counts > 0)
    if not ones.any():
        return [0, 0, 0, 0]
    first, last = starts[ones], ends[ones] - 1  # flat column-major indices, inclusive
    first_x, first_y = first // height, first % height
    last_x, last_y = last // height, last % height
    x0, x1 = int(first_x.min()), int(last_x.max())
    # A run that crosses into the next column covers the bottom of one column and the top
    # of the next, so its rows reach from 0 to H - 1.
    crosses = first_x != last_x
    y0 = 0 if crosses.any() else int(first_y.min())
    y1 = height - 1 if crosses.any() else int(last_y.max())
    return [x0, y0, x1 - x0 + 1, y1 - y0 + 1]


def _runs(pixels: np.ndarray) -> np.ndarray:
    """Run lengths of a flat bool array, (R,) int64, the first being a run of False."""
    changes = np.flatnonzero(pixels[1:] != pixels[:-1]) + 1
    bounds = np.concatenate(([0], changes, [pixels.size]))
    runs = np.diff(bounds)
    if pixels[0]:
        runs = np.concatenate(([0], runs))
    return runs.astype(np.int64)


def _counts_to_string(counts: np.ndarray) -> str:
    """COCO's ``rleToString``, vectorised over runs: one row of 5-bit groups per run."""
    values = counts.astype(np.int64).copy()
    values[3:] -= counts[1:-2]  # from the fourth run on, store the change from two before
    rows: list[np.ndarray] = []
    active = np.ones(values.size, dtype=bool)
    while active.any():
        group = values & 0x1F
        values >>= 5  # arithmetic shift: negative deltas keep their sign, as in C
        more = np.where(group & 0x10, values != -1, values != 0) & active
        rows.append(np.where(active, (group | (more.astype(np.int64) << 5)) + _ASCII_OFFSET, 0))
        active = more
    table = np.stack(rows, axis=1)  # (R, groups); 0 marks the groups a run does not use
    return table[table != 0].astype(np.uint8).tobytes().decode("ascii")


def _string_to_counts(text: str) -> np.ndarray:
    """COCO's ``rleFrString``, vectorised; validates every character."""
    try:
        raw = np.frombuffer(text.encode("ascii"), dtype=np.uint8).astype(np.int64)
    except UnicodeEncodeError:
        raise InvalidMask("RLE counts contain a character outside COCO's alphabet") from None
    groups = raw - _ASCII_OFFSET
    if raw.size and (groups.min() < 0 or groups.max() > 63):
        raise InvalidMask("RLE counts contain a character outside COCO's alphabet ('0'..'o')")
    ends = (groups & 0x20) == 0
    if raw.size and not ends[-1]:
        raise InvalidMask("RLE counts end in the middle of a run")
    run_of = np.concatenate(([0], np.cumsum(ends)[:-1]))  # which run each character is in
    first_char = np.flatnonzero(np.concatenate(([True], ends[:-1])))
    position = np.arange(raw.size) - first_char[run_of]
    if raw.size and position.max() >= _MAX_CHARS_PER_RUN:
        raise InvalidMask("RLE counts contain a run too long to be a pixel count")
    shifted = (groups & 0x1F) << (5 * position)
    values = np.add.reduceat(shifted, first_char) if raw.size else shifted
    lengths = position[ends] + 1
    negative = (groups[ends] & 0x10) != 0
    values[negative] |= np.left_shift(-1, 5 * lengths[negative])
    counts = values.copy()
    # Undo the delta: from the fourth run on, each adds the run two before it.
    if counts.size > 3:
        counts[3::2] = np.cumsum(values[3::2]) + values[1]
    if counts.size > 4:
        counts[4::2] = np.cumsum(values[4::2]) + values[2]
    return counts


def _parse(rle: RLE) -> tuple[int, int, np.ndarray]:
    """Validate ``rle``; return (H, W, counts as (R,) int64) with counts summing to H*W."""
    if not isinstance(rle, dict):
        raise InvalidMask('an RLE must be an object {"size": [height, width], "counts": ...}')
    size = rle.get("size")
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(_is_positive_int(n) for n in size)
    ):
        raise InvalidMask(f"RLE size must be [height, width], two positive integers, not {size!r}")
    height, width = int(size[0]), int(size[1])
    if height * width > _MAX_PIXELS:
        raise InvalidMask(f"RLE size {height}x{width} is larger than any image")
    raw = rle.get("counts")
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", errors="replace")
    if isinstance(raw, str):
        counts = _string_to_counts(raw)
    elif isinstance(raw, list | tuple):
        if not all(isinstance(n, int | np.integer) and not isinstance(n, bool) for n in raw):
            raise InvalidMask("RLE counts must be a string or a list of whole numbers")
        try:
            counts = np.asarray(raw, dtype=np.int64)
        except OverflowError:
            raise InvalidMask("RLE counts contain a number too large to be a run") from None
    else:
        raise InvalidMask("RLE counts must be a string or a list of whole numbers")
    if counts.size and counts.min() < 0:
        raise InvalidMask("RLE counts contain a negative run length")
    if counts.size and counts.max() > height * width:
        raise InvalidMask(f"RLE counts contain a run longer than {height}x{width} pixels")
    total = int(counts.sum()) if counts.size else 0
    if total != height * width:
        raise InvalidMask(
            f"RLE counts cover {total} pixels but size {height}x{width} has {height * width}"
        )
    return height, width, counts


def _is_positive_int(value: object) -> bool:
    return bool(isinstance(value, int | np.integer) and not isinstance(value, bool) and value > 0)
