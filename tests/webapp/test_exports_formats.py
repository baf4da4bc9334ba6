"""The zip layouts, read back by independent readers: pycocotools for COCO, PIL for
VOC and instance masks, plain parsing for YOLO."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image as PILImage
from pycocotools import mask as coco_mask
from pycocotools.coco import COCO

from tests.webapp.factories_exports import Dataset, make_dataset, make_picture_row
from webapp.exports.exporter import write_export
from webapp.exports.selection import ExportOptions, unique_file_names

pytestmark = pytest.mark.django_db


@pytest.fixture
def dataset(make_project: Any, media_root: Path) -> Dataset:
    return make_dataset(make_project())


def export(data: Dataset, tmp_path: Path, **options: Any) -> zipfile.ZipFile:
    out = tmp_path / "export.zip"
    write_export(out, data.project, ExportOptions(**options))
    return zipfile.ZipFile(out)


def load_coco(archive: zipfile.ZipFile, tmp_path: Path) -> COCO:
    path = tmp_path / "annotations.json"
    path.write_bytes(archive.read("annotations.json"))
    return COCO(str(path))


def iou(a: np.ndarray, b: np.ndarray) -> float:
    return float((a & b).sum() / (a | b).sum())


def test_coco_rle_decodes_with_pycocotools_to_the_saved_masks(dataset: Dataset, tmp_path: Path):
    coco = load_coco(export(dataset, tmp_path, format="coco"), tmp_path)

    assert sorted(coco.getAnnIds()) == sorted(dataset.masks)
    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert isinstance(annotation["segmentation"]["counts"], str)
        decoded = coco_mask.decode(annotation["segmentation"]).astype(bool)
        saved = dataset.masks[annotation["id"]]
        assert np.array_equal(decoded, saved)
        assert annotation["area"] == int(saved.sum())
        assert annotation["bbox"] == coco_mask.toBbox(annotation["segmentation"]).tolist()
        assert annotation["iscrowd"] == 0
    assert {c["id"]: c["name"] for c in coco.loadCats(coco.getCatIds())} == {
        dataset.cat.pk: "cat",
        dataset.dog.pk: "dog",
    }
    first = coco.loadAnns(dataset.annotations[0].pk)[0]
    assert first["category_id"] == dataset.cat.pk
    assert first["image_id"] == dataset.images[0].pk


def test_coco_lists_every_image_with_its_size_and_a_unique_file_name(
    dataset: Dataset, tmp_path: Path
):
    coco = load_coco(export(dataset, tmp_path, format="coco", image_scope="all"), tmp_path)

    images = {i["id"]: i for i in coco.loadImgs(coco.getImgIds())}
    first, second, empty = dataset.images
    assert images[first.pk]["file_name"] == f"{first.pk}_street.png"
    assert images[second.pk]["file_name"] == f"{second.pk}_street.jpg"
    assert images[empty.pk]["file_name"] == "empty.png"
    assert (images[second.pk]["width"], images[second.pk]["height"]) == (32, 24)


def test_coco_polygons_rasterise_back_and_keep_the_hole(dataset: Dataset, tmp_path: Path):
    coco = load_coco(export(dataset, tmp_path, format="coco", mask_format="polygon"), tmp_path)

    for annotation in coco.loadAnns(coco.getAnnIds()):
        assert isinstance(annotation["segmentation"], list)
        back = coco.annToMask(annotation).astype(bool)
        assert iou(back, dataset.masks[annotation["id"]]) >= 0.98
    holed = coco.loadAnns(dataset.annotations[0].pk)[0]
    back = coco.annToMask(holed).astype(bool)
    assert not back[10:20, 12:28].any()  # the hole stays empty
    assert back[4:10, 5:35].all()
    parts = coco.loadAnns(dataset.annotations[1].pk)[0]
    assert len(parts["segmentation"]) == 2  # two separate parts, two rings


def test_images_are_included_byte_for_byte_or_left_out(dataset: Dataset, tmp_path: Path):
    with_images = export(dataset, tmp_path, format="coco")
    for image in dataset.images:
        name = f"images/{image.pk}_street.png" if image == dataset.images[0] else None
        if name:
            assert with_images.read(name) == image.read_original()
    # The third image has no annotations and is left out by default.
    assert len([n for n in with_images.namelist() if n.startswith("images/")]) == 2

    without = export(dataset, tmp_path, format="coco", include_images=False)
    assert [n for n in without.namelist() if n.startswith("images/")] == []


def test_filters_keep_only_the_chosen_classes_and_images(dataset: Dataset, tmp_path: Path):
    archive = export(
        dataset,
        tmp_path,
        format="coco",
        label_classes=[dataset.dog.pk],
        images=[dataset.images[1].pk, dataset.images[2].pk],
        image_scope="all",
    )
    coco = load_coco(archive, tmp_path)

    assert sorted(coco.getImgIds()) == [dataset.images[1].pk, dataset.images[2].pk]
    assert coco.getCatIds() == [dataset.dog.pk]
    assert coco.getAnnIds() == [dataset.annotations[2].pk]
    assert len([n for n in archive.namelist() if n.startswith("images/")]) == 2


def test_yolo_lines_name_the_class_by_project_order_with_coordinates_in_unit_range(
    dataset: Dataset, tmp_path: Path
):
    archive = export(dataset, tmp_path, format="yolo", val_fraction=0)
    first, second, _empty = dataset.images

    lines = archive.read(f"labels/train/{first.pk}_street.txt").decode().splitlines()
    assert [line.split()[0] for line in lines] == ["1", "0"]  # cat then dog; dog is first
    for line in lines:
        values = [float(v) for v in line.split()[1:]]
        assert len(values) % 2 == 0 and len(values) >= 6
        assert all(0.0 <= v <= 1.0 for v in values)
    # The square of the dog on the second image: corners (4, 3) to (14, 13) of 32 x 24.
    dog_square = archive.read(f"labels/train/{second.pk}_street.txt").decode().splitlines()[0]
    points = np.array([float(v) for v in dog_square.split()[1:]]).reshape(-1, 2)
    assert np.allclose(points.min(axis=0), [4 / 32, 3 / 24], atol=1e-6)
    assert np.allclose(points.max(axis=0), [14 / 32, 13 / 24], atol=1e-6)
    data_yaml = archive.read("data.yaml").decode()
    assert 'names:\n  0: "dog"\n  1: "cat"\n' in data_yaml
    assert f"images/train/{second.pk}_street.jpg" in archive.namelist()


def read_yaml(archive: zipfile.ZipFile) -> dict[str, Any]:
    import yaml

    return yaml.safe_load(archive.read("data.yaml"))


def labelled_images(project: Any, count: int) -> list[Any]:
    """``count`` images named img0.png... with one square of class "thing" each."""
    from tests.webapp.factories_exports import annotate, square
    from webapp.projects.models import LabelClass

    label = LabelClass.objects.create(project=project, name="thing")
    images = []
    for n in range(count):
        image = make_picture_row(project, f"img{n}.png", width=20, height=20)
        annotate(image, label, square(2, 2, 5 + n % 5, height=20, width=20))
        images.append(image)
    return images


def split_of(archive: zipfile.ZipFile) -> dict[str, set[str]]:
    """split -> the stems of its label files; where the zip has images, checks that each
    split's pictures are those of its labels."""
    out: dict[str, set[str]] = {"train": set(), "val": set()}
    for name in archive.namelist():
        parts = name.split("/")
        if parts[0] == "labels":
            out[parts[1]].add(Path(parts[2]).stem)
    with_images = any(n.startswith("images/") for n in archive.namelist())
    for split, stems in out.items():
        if not with_images:
            break
        pictures = {Path(n).stem for n in archive.namelist() if n.startswith(f"images/{split}/")}
        assert pictures == stems, split
    return out


def test_yolo_holds_out_the_validation_share_in_its_own_folders(
    make_project: Any, media_root: Path, tmp_path: Path
):
    project = make_project()
    labelled_images(project, 10)
    out = tmp_path / "split.zip"
    write_export(out, project, ExportOptions(format="yolo", val_fraction=0.2, seed=7))
    archive = zipfile.ZipFile(out)

    splits = split_of(archive)
    assert len(splits["val"]) == 2 and len(splits["train"]) == 8
    assert splits["val"].isdisjoint(splits["train"])
    config = read_yaml(archive)
    assert (config["train"], config["val"]) == ("images/train", "images/val")
    assert config["names"] == {0: "thing"}
    assert "8 images for training, 2 for validation" in archive.read("data.yaml").decode()
    # Every label file names at least one object.
    labels = [n for n in archive.namelist() if n.startswith("labels/")]
    assert len(labels) == 10 and all(archive.read(n).strip() for n in labels)


def test_the_same_seed_picks_the_same_validation_images(
    make_project: Any, media_root: Path, tmp_path: Path
):
    project = make_project()
    labelled_images(project, 10)

    def validation(seed: int) -> set[str]:
        out = tmp_path / f"seed{seed}.zip"
        options = ExportOptions(format="yolo", include_images=False, val_fraction=0.3, seed=seed)
        write_export(out, project, options)
        return split_of(zipfile.ZipFile(out))["val"]

    assert validation(1) == validation(1)
    assert len(validation(1)) == 3
    assert any(validation(seed) != validation(1) for seed in (2, 3, 4))


def test_a_zero_validation_share_says_plainly_that_there_is_one_split(
    dataset: Dataset, tmp_path: Path
):
    archive = export(dataset, tmp_path, format="yolo", val_fraction=0)

    text = archive.read("data.yaml").decode()
    config = read_yaml(archive)
    assert config["train"] == config["val"] == "images/train"
    assert text.startswith("# One split: all 2 images are in images/train (val_fraction 0")
    assert not [n for n in archive.namelist() if "/val/" in n]


def test_yolo_exports_no_empty_label_file_by_default(dataset: Dataset, tmp_path: Path):
    archive = export(dataset, tmp_path, format="yolo")

    labels = [n for n in archive.namelist() if n.startswith("labels/")]
    assert len(labels) == 2
    assert all(archive.read(n).strip() for n in labels)
    assert not [n for n in archive.namelist() if "empty" in n]


def test_all_images_exports_the_unlabelled_one_with_an_empty_label_file(
    dataset: Dataset, tmp_path: Path
):
    archive = export(dataset, tmp_path, format="yolo", image_scope="all", val_fraction=0)

    assert archive.read("labels/train/empty.txt") == b""
    assert "images/train/empty.png" in archive.namelist()


def test_an_image_annotated_only_in_a_class_left_out_is_left_out(dataset: Dataset, tmp_path: Path):
    coco = load_coco(export(dataset, tmp_path, format="coco", label_classes=[dataset.cat.pk]),
                     tmp_path)  # fmt: skip
    # Both street images have a cat; the empty one has nothing.
    assert sorted(coco.getImgIds()) == [dataset.images[0].pk, dataset.images[1].pk]
    only_dog_on = export(
        dataset, tmp_path, format="coco", label_classes=[dataset.dog.pk],
        images=[dataset.images[0].pk, dataset.images[2].pk],
    )  # fmt: skip
    assert sorted(load_coco(only_dog_on, tmp_path).getImgIds()) == [dataset.images[0].pk]


def test_the_default_coco_export_lists_only_annotated_images(dataset: Dataset, tmp_path: Path):
    archive = export(dataset, tmp_path, format="coco")
    coco = load_coco(archive, tmp_path)

    assert sorted(coco.getImgIds()) == [dataset.images[0].pk, dataset.images[1].pk]
    assert "images/empty.png" not in archive.namelist()


def test_yolo_polygon_of_a_mask_with_a_hole_fills_back_without_the_hole(
    dataset: Dataset, tmp_path: Path
):
    archive = export(dataset, tmp_path, format="yolo", include_images=False, val_fraction=0)
    first = dataset.images[0]
    line = archive.read(f"labels/train/{first.pk}_street.txt").decode().splitlines()[0]
    points = np.array([float(v) for v in line.split()[1:]]).reshape(-1, 2) * [40, 30]

    rle = coco_mask.frPyObjects([points.ravel().tolist()], 30, 40)
    back = coco_mask.decode(coco_mask.merge(rle)).astype(bool)
    assert iou(back, dataset.masks[dataset.annotations[0].pk]) >= 0.98
    assert not back[10:20, 12:28].any()


def test_voc_pngs_decode_to_the_masks_with_class_and_object_indices(
    dataset: Dataset, tmp_path: Path
):
    archive = export(dataset, tmp_path, format="voc", image_scope="all")
    first, second, _empty = dataset.images
    assert archive.read("class_names.txt").decode() == "background\ndog\ncat\n"

    classes = PILImage.open(io.BytesIO(archive.read(f"SegmentationClass/{first.pk}_street.png")))
    objects = PILImage.open(io.BytesIO(archive.read(f"SegmentationObject/{first.pk}_street.png")))
    assert classes.mode == objects.mode == "P"
    assert classes.getpalette()[:6] == [0, 0, 0, 128, 0, 0]
    class_pixels, object_pixels = np.asarray(classes), np.asarray(objects)
    cat_mask = dataset.masks[dataset.annotations[0].pk]
    dog_mask = dataset.masks[dataset.annotations[1].pk]
    expected_classes = np.zeros((30, 40), dtype=np.uint8)
    expected_classes[cat_mask] = 2
    expected_classes[dog_mask] = 1  # the later annotation is on top
    assert np.array_equal(class_pixels, expected_classes)
    expected_objects = np.zeros((30, 40), dtype=np.uint8)
    expected_objects[cat_mask] = 1
    expected_objects[dog_mask] = 2
    assert np.array_equal(object_pixels, expected_objects)
    assert 255 not in class_pixels

    blank = np.asarray(PILImage.open(io.BytesIO(archive.read("SegmentationClass/empty.png"))))
    assert blank.shape == (12, 16) and not blank.any()
    assert f"JPEGImages/{second.pk}_street.jpg" in archive.namelist()


def test_instance_masks_are_one_png_per_annotation(dataset: Dataset, tmp_path: Path):
    archive = export(dataset, tmp_path, format="masks", include_images=False)
    first = dataset.images[0]
    names = sorted(n for n in archive.namelist() if n.startswith("masks/"))
    assert len(names) == 4
    cat = dataset.annotations[0]
    picture = PILImage.open(io.BytesIO(archive.read(f"masks/{first.pk}_street/{cat.pk}_cat.png")))
    assert np.array_equal(np.asarray(picture) == 255, dataset.masks[cat.pk])
    assert not [n for n in archive.namelist() if n.startswith("images/")]


def test_names_that_collide_get_an_id_prefix_and_paths_are_stripped():
    names = unique_file_names([(1, "a.png"), (2, "x/A.jpg"), (3, "b.png"), (4, "../../c.png")])
    assert names == {1: "1_a.png", 2: "2_A.jpg", 3: "b.png", 4: "c.png"}


def test_command_writes_a_readable_zip(dataset: Dataset, tmp_path: Path):
    from django.core.management import call_command

    out = tmp_path / "cli.zip"
    call_command(
        "export_project",
        str(dataset.project.pk),
        "--format",
        "coco",
        "--mask-format",
        "polygon",
        "--no-images",
        "--labels",
        str(dataset.cat.pk),
        "--scope",
        "annotated",
        "--out",
        str(out),
        stdout=io.StringIO(),
    )
    with zipfile.ZipFile(out) as archive:
        assert archive.namelist() == ["annotations.json"]
        body = json.loads(archive.read("annotations.json"))
    assert {a["category_id"] for a in body["annotations"]} == {dataset.cat.pk}
    assert len(body["annotations"]) == 2


def test_exporting_many_annotations_keeps_memory_flat(
    make_project: Any, media_root: Path, tmp_path: Path
):
    """300 annotations of 512 x 512 masks: all of them decoded at once would take 75 MB,
    one image's worth 2.5 MB;
    the exporter holds one at a time."""
    import tracemalloc

    from tests.webapp.factories_exports import annotate, square
    from webapp.projects.models import LabelClass

    project = make_project()
    label = LabelClass.objects.create(project=project, name="thing")
    for n in range(30):
        image = make_picture_row(project, f"img{n}.png", width=512, height=512)
        for k in range(10):
            annotate(image, label, square(k * 40, n * 10, 30, height=512, width=512))

    tracemalloc.start()
    write_export(tmp_path / "big.zip", project, ExportOptions(format="voc", include_images=False))
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert peak < 8 * 1024 * 1024  # measured: about 1.5 MB
    with zipfile.ZipFile(tmp_path / "big.zip") as archive:
        assert len([n for n in archive.namelist() if n.startswith("SegmentationObject/")]) == 30


def test_an_image_turned_by_exif_is_exported_upright(make_project: Any, media_root: Path, tmp_path):
    """Stored 40 x 30 with EXIF "turn 90°": the user, the masks and annotations.json see
    30 x 40, and so must the exported picture."""
    import hashlib

    from django.core.files.base import ContentFile

    from webapp.images.models import Image

    project = make_project()
    exif = PILImage.Exif()
    exif[0x0112] = 6
    buffer = io.BytesIO()
    PILImage.new("RGB", (40, 30), (200, 10, 10)).save(buffer, format="JPEG", exif=exif)
    content = buffer.getvalue()
    Image.objects.create(
        project=project,
        file=ContentFile(content, name="turned.jpg"),
        original_name="turned.jpg",
        width=30,
        height=40,
        sha256=hashlib.sha256(content).hexdigest(),
    )
    out = tmp_path / "turned.zip"
    write_export(out, project, ExportOptions(format="coco", image_scope="all"))

    with zipfile.ZipFile(out) as archive:
        picture = PILImage.open(io.BytesIO(archive.read("images/turned.jpg")))
        body = json.loads(archive.read("annotations.json"))
    assert picture.size == (30, 40)
    assert picture.getexif().get(0x0112, 1) == 1
    assert (body["images"][0]["width"], body["images"][0]["height"]) == (30, 40)
