"""COCO RLE helpers that work on runs directly, in pure Python.

A mask of ``height`` × ``width`` pixels is stored as COCO's run lengths over the pixels in
column-major order (down column 0, then column 1...), alternating unset and set runs and
beginning with an unset run (of length 0 when the first pixel is set). Pixel ``(x, y)``
(x to the right, y down) has the flat index ``x * height + y``.

Nothing here builds the (H, W) pixel grid: a 4000 × 3000 mask with a few hundred runs costs
a few hundred steps. The helpers:

- :func:`parse` validates an RLE and returns ``(height, width, counts)``; string counts are
  COCO's compressed form (``rleFrString``), list counts are taken as they are.
- :func:`set_runs` gives the set runs as ``(start, end)`` flat indices, end exclusive;
  :func:`area` their total length.
- :func:`column_segments` splits the set runs at column boundaries: ``(x, y0, y1)`` with
  rows ``y0 <= y < y1``.
- :func:`components` groups the segments into connected parts, 8-connected by default
  (``connectivity=4`` for edge neighbours only); :func:`holes` finds the unset regions
  that the mask encloses, connected the other way (4 for an 8-connected mask, as is usual,
  so that a diagonal gap in the outline does not open a hole).
- :func:`intersection_area` and :func:`iou` compare two masks of one size.
- :func:`counts_to_string` is COCO's ``rleToString`` (the inverse of the string parse).
"""

from __future__ import annotations

from typing import Any

Segment = tuple[int, int, int]  # (x, y0, y1): column x, rows y0 <= y < y1

_MAX_PIXELS = 2**40
_MAX_CHARS_PER_RUN = 12


class InvalidRle(ValueError):
    """An RLE that does not describe a mask of its size."""


def parse(rle: dict[str, Any]) -> tuple[int, int, list[int]]:
    """Validate ``rle``; return ``(height, width, counts)`` with counts summing to H * W."""
    if not isinstance(rle, dict):
        raise InvalidRle('an RLE must be {"size": [height, width], "counts": ...}')
    size = rle.get("size")
    if (
        not isinstance(size, list | tuple)
        or len(size) != 2
        or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in size)
    ):
        raise InvalidRle(f"RLE size must be [height, width], two positive integers, not {size!r}")
    height, width = int(size[0]), int(size[1])
    if height * width > _MAX_PIXELS:
        raise InvalidRle(f"RLE size {height}x{width} is larger than any image")
    raw = rle.get("counts")
    if isinstance(raw, bytes):
        raw = raw.decode("ascii", errors="replace")
    if isinstance(raw, str):
        counts = counts_from_string(raw)
    elif isinstance(raw, list | tuple):
        if not all(isinstance(n, int) and not isinstance(n, bool) for n in raw):
            raise InvalidRle("RLE counts must be a string or a list of whole numbers")
        counts = [int(n) for n in raw]
    else:
        raise InvalidRle("RLE counts must be a string or a list of whole numbers")
    if any(n < 0 for n in counts):
        raise InvalidRle("RLE counts contain a negative run length")
    total = sum(counts)
    if total != height * width:
        raise InvalidRle(
            f"RLE counts cover {total} pixels but size {height}x{width} has {height * width}"
        )
    return height, width, counts


def counts_from_string(text: str) -> list[int]:
    """COCO's ``rleFrString``: compressed counts to run lengths (from the fourth run on,
    each is stored as its change from the run two before it)."""
    counts: list[int] = []
    value = shift = chars = 0
    for char in text:
        group = ord(char) - 48
        if group < 0 or group > 63:
            raise InvalidRle("RLE counts contain a character outside COCO's alphabet ('0'..'o')")
        value |= (group & 0x1F) << shift
        shift += 5
        chars += 1
        if chars > _MAX_CHARS_PER_RUN:
            raise InvalidRle("RLE counts contain a run too long to be a pixel count")
        if group & 0x20:
            continue
        if group & 0x10:
            value |= -1 << shift
        if len(counts) > 2:
            value += counts[-2]
        counts.append(value)
        value = shift = chars = 0
    if chars:
        raise InvalidRle("RLE counts end in the middle of a run")
    return counts


def counts_to_string(counts: list[int]) -> str:
    """COCO's ``rleToString``: run lengths to the compressed string."""
    out: list[str] = []
    for i, count in enumerate(counts):
        value = count - counts[i - 2] if i > 2 else count
        more = True
        while more:
            group = value & 0x1F
            value >>= 5
            more = value != -1 if group & 0x10 else value != 0
            if more:
                group |= 0x20
            out.append(chr(group + 48))
    return "".join(out)


def from_runs(height: int, width: int, runs: list[tuple[int, int]]) -> dict[str, Any]:
    """The RLE (list counts) of a mask whose set pixels are ``runs``, sorted, disjoint
    ``(start, end)`` flat column-major indices (end exclusive)."""
    counts: list[int] = []
    position = 0
    for start, end in runs:
        if start < position or end < start or end > height * width:
            raise InvalidRle("runs must be sorted, disjoint and within the mask")
        if counts and start == position:
            counts[-1] += end - start  # touching runs merge
        else:
            counts.extend((start - position, end - start))
        position = end
    counts.append(height * width - position)
    return {"size": [height, width], "counts": counts}


def set_runs(rle: dict[str, Any]) -> list[tuple[int, int]]:
    """The set runs of ``rle`` as ``(start, end)`` flat column-major indices, end exclusive,
    in order; empty runs are left out."""
    _, _, counts = parse(rle)
    return _set_runs(counts)


def _set_runs(counts: list[int]) -> list[tuple[int, int]]:
    runs: list[tuple[int, int]] = []
    position = 0
    for i, count in enumerate(counts):
        if i % 2 == 1 and count > 0:
            runs.append((position, position + count))
        position += count
    return runs


def area(rle: dict[str, Any]) -> int:
    """The number of set pixels."""
    _, _, counts = parse(rle)
    return sum(counts[1::2])


def bbox(rle: dict[str, Any]) -> tuple[int, int, int, int]:
    """The tight box ``(x, y, width, height)`` of the set pixels; zeros for an empty mask."""
    segments = column_segments(rle)
    if not segments:
        return (0, 0, 0, 0)
    x0, x1 = segments[0][0], segments[-1][0]
    y0 = min(s[1] for s in segments)
    y1 = max(s[2] for s in segments)
    return (x0, y0, x1 - x0 + 1, y1 - y0)


def column_segments(rle: dict[str, Any]) -> list[Segment]:
    """The set pixels as ``(x, y0, y1)`` segments, sorted by column then row."""
    height, _, counts = parse(rle)
    return _segments(height, _set_runs(counts))


def _segments(height: int, runs: list[tuple[int, int]]) -> list[Segment]:
    segments: list[Segment] = []
    for start, end in runs:
        x, y = divmod(start, height)
        last_x, last_y = divmod(end - 1, height)
        while x < last_x:
            segments.append((x, y, height))
            x, y = x + 1, 0
        segments.append((x, y, last_y + 1))
    return segments


def _touch(a: Segment, b: Segment, connectivity: int) -> bool:
    """Whether ``a`` in column x and ``b`` in column x + 1 are neighbours."""
    if connectivity == 8:
        return a[1] <= b[2] and b[1] <= a[2]
    return a[1] < b[2] and b[1] < a[2]


def _label(segments: list[Segment], connectivity: int) -> list[int]:
    """A component label per segment (union-find over neighbouring columns)."""
    if connectivity not in (4, 8):
        raise ValueError(f"connectivity must be 4 or 8, not {connectivity!r}")
    parent = list(range(len(segments)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    # Segments are sorted by column then row, so two pointers walk each pair of
    # neighbouring columns once.
    column_start: dict[int, int] = {}
    for i, segment in enumerate(segments):
        column_start.setdefault(segment[0], i)
    n = len(segments)
    for x, first in column_start.items():
        nxt = column_start.get(x + 1)
        if nxt is None:
            continue
        i, j = first, nxt
        while i < n and segments[i][0] == x and j < n and segments[j][0] == x + 1:
            a, b = segments[i], segments[j]
            if _touch(a, b, connectivity):
                ra, rb = find(i), find(j)
                if ra != rb:
                    parent[max(ra, rb)] = min(ra, rb)
            # Advance the segment that ends first (8-connectivity reaches one row further).
            if a[2] < b[2]:
                i += 1
            elif b[2] < a[2]:
                j += 1
            else:
                i += 1
                j += 1
    return [find(i) for i in range(n)]


def components(rle: dict[str, Any], connectivity: int = 8) -> list[list[Segment]]:
    """The connected parts of the set pixels, each a list of segments, ordered by their
    first segment (leftmost column, then top row). ``connectivity`` is 8 (pixels that share
    an edge or a corner) or 4 (an edge)."""
    return _group(column_segments(rle), connectivity)


def _group(segments: list[Segment], connectivity: int) -> list[list[Segment]]:
    labels = _label(segments, connectivity)
    groups: dict[int, list[Segment]] = {}
    for label, segment in zip(labels, segments, strict=True):
        groups.setdefault(label, []).append(segment)
    return list(groups.values())


def component_areas(rle: dict[str, Any], connectivity: int = 8) -> list[int]:
    """The area of each connected part, in the order of :func:`components`."""
    return [sum(y1 - y0 for _, y0, y1 in part) for part in components(rle, connectivity)]


def holes(rle: dict[str, Any], connectivity: int = 8) -> list[list[Segment]]:
    """The holes of a mask whose set pixels are ``connectivity``-connected: the parts of the
    unset pixels, connected the other way (4 for 8), that do not reach the image's border."""
    height, width, counts = parse(rle)
    unset = _segments(height, _set_runs([0, *counts]))
    other = 4 if connectivity == 8 else 8
    found = []
    for part in _group(unset, other):
        on_border = any(x == 0 or x == width - 1 or y0 == 0 or y1 == height for x, y0, y1 in part)
        if not on_border:
            found.append(part)
    return found


def hole_areas(rle: dict[str, Any], connectivity: int = 8) -> list[int]:
    """The area of each hole, in the order of :func:`holes`."""
    return [sum(y1 - y0 for _, y0, y1 in part) for part in holes(rle, connectivity)]


def intersection_area(a: dict[str, Any], b: dict[str, Any]) -> int:
    """The number of pixels set in both ``a`` and ``b`` (masks of one size)."""
    height_a, width_a, counts_a = parse(a)
    height_b, width_b, counts_b = parse(b)
    if (height_a, width_a) != (height_b, width_b):
        raise InvalidRle(f"masks of different sizes: {height_a}x{width_a} and {height_b}x{width_b}")
    runs_a, runs_b = _set_runs(counts_a), _set_runs(counts_b)
    total = i = j = 0
    while i < len(runs_a) and j < len(runs_b):
        start = max(runs_a[i][0], runs_b[j][0])
        end = min(runs_a[i][1], runs_b[j][1])
        if start < end:
            total += end - start
        if runs_a[i][1] < runs_b[j][1]:
            i += 1
        else:
            j += 1
    return total


def iou(a: dict[str, Any], b: dict[str, Any]) -> float:
    """Intersection over union of two masks of one size (0.0 when both are empty)."""
    inter = intersection_area(a, b)
    union = area(a) + area(b) - inter
    return inter / union if union else 0.0


def boxes_overlap(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Whether two ``(x, y, w, h)`` boxes share a pixel (a cheap test before :func:`iou`)."""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]
