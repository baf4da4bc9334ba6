"""Class suggestions: top-1 accuracy with k labelled examples per class, and the cost
of one vote.

    python -m benchmarks.class_suggestions --grabcut ../shared/datasets/grabcut

The data: the GrabCut set's 50 photos, one object each with its ground-truth mask
(255 object; the uncertain band left out). No class labels come with it: the classes
below were given by hand, from the file names where they name the object and by
looking at the photos otherwise. Five coarse classes have enough members; the 6
objects that fit none (a car, a plane, three bananas, the moon) are left out. Its
limits, plainly: 44 objects in 5 classes, one object per photo, so every example comes
from another photo (the hard case); classes are coarse
and uneven (18 people, 5 plants); no class has 21 members, so k = 20 cannot be
measured on it, and k = 5 only for the 4 classes with at least 6 members.

The protocol: leave one out. Each object in turn is the query; from the other objects,
k examples of each class taking part are drawn at random (``--draws`` times); the
suggestion is the first class of :func:`webapp.suggestions.voting.vote` (the product's
rule: 10 nearest by cosine, weighted by similarity); top-1 accuracy is the share of
(query, draw) pairs where it is the query's class. Features are the product's too:
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
from webapp.suggestions.voting import Examples, vote

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


def top1_accuracy(
    features: np.ndarray, labels: list[str], k: int, draws: int, seed: int = 0
) -> tuple[float, int, int]:
    """Leave-one-out top-1 accuracy with ``k`` examples per class (see the module's
    docstring): (accuracy, number of queries, number of classes taking part)."""
    rng = np.random.default_rng(seed)
    names = sorted(set(labels))
    label_ids = np.array([names.index(name) for name in labels])
    # A class takes part when it has k examples besides the query itself.
    counts = np.bincount(label_ids, minlength=len(names))
    taking_part = [c for c in range(len(names)) if counts[c] >= k + 1]
    if len(taking_part) < 2:
        return float("nan"), 0, len(taking_part)
    right = total = 0
    queries = [i for i in range(len(labels)) if label_ids[i] in taking_part]
    for query in queries:
        for _ in range(draws):
            chosen = []
            for c in taking_part:
                pool = [i for i in np.flatnonzero(label_ids == c) if i != query]
                chosen.extend(rng.choice(pool, size=k, replace=False).tolist())
            examples = Examples(
                features[chosen], label_ids[chosen], np.array(chosen, dtype=np.int64)
            )
            ranked = vote(examples, features[query])
            right += int(ranked[0][0] == label_ids[query])
            total += 1
    return right / total, len(queries), len(taking_part)


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


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--grabcut", type=Path, required=True, help="the GrabCut folder")
    parser.add_argument("--model", default=DEFAULT_MODEL)
    parser.add_argument("--cache", type=Path, default=Path("var/bench/grabcut-embeddings"))
    parser.add_argument("--draws", type=int, default=20, help="example draws per query")
    args = parser.parse_args(argv)

    print(f"machine: {cpu_name()}, {os.cpu_count()} cores; load average {os.getloadavg()}")
    features, labels = grabcut_features(args.grabcut, args.cache / args.model, args.model)
    sizes = {name: labels.count(name) for name in sorted(set(labels))}
    print(f"objects: {len(labels)} in {len(sizes)} classes {sizes}; model {args.model}")
    for k in (1, 5, 20):
        accuracy, queries, classes = top1_accuracy(features, labels, k, args.draws)
        if queries == 0:
            print(f"k={k:>2}: not measurable (fewer than 2 classes have {k + 1} objects)")
            continue
        print(
            f"k={k:>2}: top-1 {accuracy:.1%} over {queries} queries x {args.draws} draws, "
            f"{classes} classes (chance {1 / classes:.0%})"
        )
    for n in (1000, 5000, 20000):
        print(f"one vote among {n} stored features: {vote_seconds(n) * 1000:.1f} ms")
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
