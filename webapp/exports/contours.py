"""Masks to polygons that keep their holes, with numpy alone.

A mask is an (H, W) bool array, row ``y`` then column ``x``. Its outline is traced along
pixel edges: pixel (x, y) is the square from corner (x, y) to corner (x + 1, y + 1), so the
traced loops enclose exactly the set pixels, with no approximation. Loops run with the set
pixels on their right in image coordinates (y down): outlines go clockwise on screen and
holes counter-clockwise, so both the even-odd and the non-zero fill rules give the mask back.

Formats that have no place for holes (a COCO polygon is filled ring by ring and the rings
are then unioned; a YOLO line is one ring) get each hole joined to its outline by a cut
that is walked there and back. The two walks cancel under either fill rule, so the ring
fills to the outline minus the hole.
"""

from __future__ import annotations

import numpy as np

Ring = list[tuple[float, float]]  # corners (x, y) in pixels, x right, y down

# Directions of unit edges, as (dx, dy): right, down, left, up.
_STEPS = np.array([[1, 0], [0, 1], [-1, 0], [0, -1]], dtype=np.int64)


def trace_loops(mask: np.ndarray) -> list[np.ndarray]:
    """Every closed outline of ``mask``'s set pixels: a list of (N, 2) int64 arrays of
    corners (x, y) in pixel-corner coordinates, only where the direction changes.

    Outlines are clockwise on screen (positive :func:`signed_area`), holes
    counter-clockwise. Pixels that touch only at a corner belong to separate outlines.
    """
    mask = np.asarray(mask, dtype=bool)
    rows, columns = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if rows.size == 0:
        return []
    # Trace inside the mask's box: an object is usually small next to its image.
    top, left = int(rows[0]), int(columns[0])
    box = mask[top : rows[-1] + 1, left : columns[-1] + 1]
    corner = np.array([left, top], dtype=np.int64)
    return [loop + corner for loop in _trace_loops_in_box(box)]


def _trace_loops_in_box(mask: np.ndarray) -> list[np.ndarray]:
    width = mask.shape[1]
    padded = np.pad(mask, 1)
    inner = padded[1:-1, 1:-1]
    stride = width + 1
    starts: list[np.ndarray] = []
    directions: list[np.ndarray] = []
    # For each side, the set pixels whose neighbour there is unset, the corner the edge
    # starts from (relative to the pixel's top-left corner) and its direction.
    sides = (
        (padded[:-2, 1:-1], (0, 0), 0),  # top edge, walking right
        (padded[1:-1, 2:], (1, 0), 1),  # right edge, walking down
        (padded[2:, 1:-1], (1, 1), 2),  # bottom edge, walking left
        (padded[1:-1, :-2], (0, 1), 3),  # left edge, walking up
    )
    for neighbour, (ox, oy), side in sides:
        ys, xs = np.nonzero(inner & ~neighbour)
        starts.append((ys + oy) * stride + (xs + ox))
        directions.append(np.full(ys.size, side, dtype=np.int64))
    start = np.concatenate(starts).astype(np.int64)
    if start.size == 0:
        return []
    direction = np.concatenate(directions)
    end = start + _STEPS[direction, 1] * stride + _STEPS[direction, 0]

    # Link each edge to the one that starts where it ends. Where two edges start at the
    # same corner (pixels touching diagonally), take the right turn, which keeps to the
    # pixel just walked around.
    order = np.lexsort((direction, start))
    sorted_start = start[order]
    first = np.searchsorted(sorted_start, end, side="left")
    count = np.searchsorted(sorted_start, end, side="right") - first
    following = order[np.minimum(first, order.size - 1)]
    pinched = np.flatnonzero(count == 2)
    if pinched.size:
        right_turn = (direction[pinched] + 1) % 4
        candidates = np.stack([order[first[pinched]], order[first[pinched] + 1]], axis=1)
        pick = (direction[candidates[:, 1]] == right_turn).astype(np.int64)
        following[pinched] = candidates[np.arange(pinched.size), pick]

    loops: list[np.ndarray] = []
    visited = [False] * start.size
    following_list = following.tolist()
    for seed in range(start.size):
        if visited[seed]:
            continue
        path = []
        edge = seed
        while not visited[edge]:
            visited[edge] = True
            path.append(edge)
            edge = following_list[edge]
        edges = np.asarray(path, dtype=np.int64)
        turns = direction[edges] != direction[np.roll(edges, 1)]
        corners = start[edges[turns]]
        loops.append(np.stack([corners % stride, corners // stride], axis=1))
    return loops


def signed_area(loop: np.ndarray) -> float:
    """Shoelace area of a closed loop of (x, y) corners: positive for outlines (clockwise
    on screen, y down), negative for holes."""
    x = loop[:, 0].astype(np.float64)
    y = loop[:, 1].astype(np.float64)
    return float((x * np.roll(y, -1) - np.roll(x, -1) * y).sum() / 2)


def _contains(loop: np.ndarray, x: float, y: float) -> bool:
    """Whether point (x, y), never on a pixel edge, lies inside ``loop`` (even-odd)."""
    x0, y0 = loop[:, 0], loop[:, 1]
    x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
    crosses = (y0 > y) != (y1 > y)
    with np.errstate(divide="ignore", invalid="ignore"):
        at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return bool(np.count_nonzero(crosses & (at > x)) % 2)


def mask_to_rings(mask: np.ndarray) -> list[Ring]:
    """One ring per outline of ``mask``, each with the holes inside it joined in by cuts.

    Filled ring by ring and unioned (COCO's rule), or all together by the even-odd or
    non-zero rule, the rings give ``mask`` back; pycocotools rasterises them to exactly
    the same pixels.
    """
    loops = trace_loops(mask)
    outlines = [loop for loop in loops if signed_area(loop) > 0]
    holes = [loop for loop in loops if signed_area(loop) < 0]
    areas = [signed_area(loop) for loop in outlines]
    holes_of: list[list[np.ndarray]] = [[] for _ in outlines]
    for hole in holes:
        # The pixel on the right of the hole's first edge is set and lies in the outline
        # that directly encloses the hole: the smallest one containing that pixel's centre.
        (ax, ay), (bx, by) = hole[0], hole[1]
        dx, dy = np.sign(bx - ax), np.sign(by - ay)
        px, py = ax + dx * 0.5 - dy * 0.5, ay + dy * 0.5 + dx * 0.5
        enclosing = [i for i, outline in enumerate(outlines) if _contains(outline, px, py)]
        if enclosing:
            holes_of[min(enclosing, key=areas.__getitem__)].append(hole)
    return [_join(outline, holes_of[i]) for i, outline in enumerate(outlines)]


def mask_to_single_ring(mask: np.ndarray) -> Ring:
    """All of ``mask`` as one ring (outlines and holes joined by cuts), for formats that
    allow one polygon per object; empty for an empty mask."""
    rings = mask_to_rings(mask)
    if not rings:
        return []
    joined = list(rings[0])
    first = joined[0]
    for ring in rings[1:]:
        # Close the ring so far, walk out to the next one, round it, and back.
        joined += [first, *ring, ring[0]]
    return joined


def _join(outline: np.ndarray, holes: list[np.ndarray]) -> Ring:
    """``outline`` with each hole walked from the outline corner nearest to it and back."""
    inserts: dict[int, list[np.ndarray]] = {}
    for hole in holes:
        distances = np.abs(outline - hole[0]).sum(axis=1)
        inserts.setdefault(int(np.argmin(distances)), []).append(hole)
    points: list[tuple[int, int]] = []
    for index, (x, y) in enumerate(outline.tolist()):
        points.append((x, y))
        for hole in inserts.get(index, []):
            walked = [tuple(p) for p in hole.tolist()]
            points += [*walked, walked[0], (x, y)]
    return [(float(x), float(y)) for x, y in points]


def ring_to_flat(ring: Ring) -> list[float]:
    """``[(x1, y1), ...]`` as COCO's flat ``[x1, y1, x2, y2, ...]``."""
    return [float(v) for point in ring for v in point]
