"""The four zip layouts, each a function that writes one :class:`Selection` into an open
:class:`zipfile.ZipFile`, one image or one annotation at a time.

Masks are decoded from each annotation's stored COCO RLE ((H, W) bool, the image's frame as
the user sees it) only while that annotation or image is written.
"""

from __future__ import annotations

import io
import json
import shutil
import time
import zipfile
from collections.abc import Callable
from pathlib import PurePosixPath
from typing import BinaryIO

import numpy as np
from PIL import Image as PILImage
from PIL import ImageOps

from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.exports.contours import mask_to_rings, mask_to_single_ring, ring_to_flat
from webapp.exports.models import MaskFormat
from webapp.exports.selection import ExportError, Selection, safe_file_name

Tick = Callable[[], None]  # called once per annotation written

_EXIF_ORIENTATION = 0x0112

# VOC reserves 255 for "border / don't care"; 0 is background.
_VOC_MAX_INDEX = 254


def _now() -> tuple[int, int, int, int, int, int]:
    return time.localtime()[:6]


def write_bytes(archive: zipfile.ZipFile, name: str, content: bytes, compress: bool) -> None:
    info = zipfile.ZipInfo(name, date_time=_now())
    info.compress_type = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    archive.writestr(info, content)


def write_png(archive: zipfile.ZipFile, name: str, picture: PILImage.Image) -> None:
    buffer = io.BytesIO()
    picture.save(buffer, format="PNG", optimize=False)
    write_bytes(archive, name, buffer.getvalue(), compress=False)


def write_images(
    archive: zipfile.ZipFile, selection: Selection, folder: str | Callable[[int], str]
) -> None:
    """Copy each selected image's stored file to ``<folder>/<file name>`` (``folder``: a
    name, or a function of the image id giving one): byte for byte, unless its EXIF says
    to turn it; then it is turned and saved again in its own format, so that the pixels
    match the masks (which are in the frame the user sees)."""
    for image in selection.iter_images():
        where = folder(image.pk) if callable(folder) else folder
        name = f"{where}/{selection.file_names[image.pk]}"
        info = zipfile.ZipInfo(name, date_time=_now())
        info.compress_type = zipfile.ZIP_STORED  # pictures are compressed already
        try:
            source = image.file.storage.open(image.file.name, "rb")
        except FileNotFoundError:
            raise ExportError(
                f"The file of image {image.pk} ({selection.file_names[image.pk]}) is missing "
                "from storage; export without images or upload it again."
            ) from None
        with source:
            turned = _turned_by_exif(source)
            if turned is not None:
                archive.writestr(info, turned)
                continue
            source.seek(0)
            with archive.open(info, "w", force_zip64=True) as target:
                shutil.copyfileobj(source, target, 1024 * 1024)


def _turned_by_exif(source: BinaryIO) -> bytes | None:
    """The picture turned upright and encoded again, or None when it needs no turning
    (or is not a picture Pillow reads: then it is exported as it is)."""
    try:
        picture = PILImage.open(source)
        orientation = picture.getexif().get(_EXIF_ORIENTATION, 1)
        if orientation in (1, None):
            return None
        picture_format = picture.format or "PNG"
        upright = ImageOps.exif_transpose(picture)
    except (OSError, SyntaxError, ValueError):
        return None
    buffer = io.BytesIO()
    options = {"quality": 95} if picture_format == "JPEG" else {}
    upright.save(buffer, format=picture_format, **options)
    return buffer.getvalue()


def decode_mask(annotation: Annotation) -> np.ndarray:
    """The annotation's mask, (H, W) bool."""
    return rle_codec.decode(annotation.rle)


def stem(file_name: str) -> str:
    return PurePosixPath(file_name).stem


# --- COCO ---


def coco_segmentation(annotation: Annotation, mask_format: str) -> object:
    """COCO RLE with a compressed ``counts`` string, or a list of flat polygon rings."""
    stored = annotation.rle
    if mask_format == MaskFormat.POLYGON:
        return [ring_to_flat(ring) for ring in mask_to_rings(decode_mask(annotation))]
    if isinstance(stored.get("counts"), str):
        return {"size": list(stored["size"]), "counts": stored["counts"]}
    return rle_codec.encode(decode_mask(annotation))


def write_coco(archive: zipfile.ZipFile, selection: Selection, tick: Tick) -> None:
    """``annotations.json`` (images, categories, annotations) and ``images/``.

    Category ids are label class ids. Written piece by piece: no list of annotations is
    ever built.
    """
    if selection.options.include_images:
        write_images(archive, selection, "images")
    info = zipfile.ZipInfo("annotations.json", date_time=_now())
    info.compress_type = zipfile.ZIP_DEFLATED
    with archive.open(info, "w", force_zip64=True) as raw:
        out = io.TextIOWrapper(raw, encoding="utf-8")
        header = {"description": selection.project.name, "version": "1.0"}
        out.write(f'{{"info": {json.dumps(header)}, "licenses": [], "images": [')
        for number, image in enumerate(selection.iter_images()):
            entry = {
                "id": image.pk,
                "file_name": selection.file_names[image.pk],
                "width": image.width,
                "height": image.height,
            }
            out.write(("," if number else "") + json.dumps(entry))
        categories = [{"id": c.pk, "name": c.name, "supercategory": ""} for c in selection.classes]
        out.write(f'], "categories": {json.dumps(categories)}, "annotations": [')
        written = 0
        for annotation in selection.iter_annotations():
            tick()
            if selection.options.mask_format == MaskFormat.POLYGON and not annotation.area:
                continue  # an empty mask has no polygon
            entry = {
                "id": annotation.pk,
                "image_id": annotation.image_id,
                "category_id": annotation.label_class_id,
                "segmentation": coco_segmentation(annotation, selection.options.mask_format),
                "area": annotation.area,
                "bbox": annotation.bbox,
                "iscrowd": 0,
            }
            out.write(("," if written else "") + json.dumps(entry))
            written += 1
        out.write("]}")
        out.flush()
        out.detach()


# --- Ultralytics YOLO ---


def yolo_line(class_index: int, mask: np.ndarray) -> str | None:
    """``class x1 y1 x2 y2 ...`` with corners divided by the image's width and height, so
    in [0, 1]; None for an empty mask. Holes and separate parts are joined into one ring."""
    ring = mask_to_single_ring(mask)
    if not ring:
        return None
    height, width = mask.shape
    values = " ".join(f"{x / width:.6f} {y / height:.6f}" for x, y in ring)
    return f"{class_index} {values}"


def write_yolo(archive: zipfile.ZipFile, selection: Selection, tick: Tick) -> None:
    """``images/{train,val}/`` and ``labels/{train,val}/<stem>.txt`` per image (a label
    file is empty only for an image without objects, which only ``image_scope`` "all"
    exports), and ``data.yaml``. Class ids count the chosen label classes in the
    project's order from 0. Which images are held out for validation:
    :meth:`Selection.split_of`; when none are, ``data.yaml`` says so and names the
    training folder for both."""
    index_of = {label.pk: i for i, label in enumerate(selection.classes)}
    for image, on_image in selection.iter_images_with_annotations():
        lines = []
        for annotation in on_image:
            tick()
            line = yolo_line(index_of[annotation.label_class_id], decode_mask(annotation))
            if line is not None:
                lines.append(line + "\n")
        split = selection.split_of(image.pk)
        name = f"labels/{split}/{stem(selection.file_names[image.pk])}.txt"
        write_bytes(archive, name, "".join(lines).encode(), compress=True)
    write_bytes(archive, "data.yaml", yolo_data_yaml(selection).encode(), compress=True)
    if selection.options.include_images:
        write_images(archive, selection, lambda pk: f"images/{selection.split_of(pk)}")


def yolo_data_yaml(selection: Selection) -> str:
    """Ultralytics' dataset file: the folders of both splits and the class names."""
    total = len(selection.file_names)
    held_out = len(selection.validation_ids)
    options = selection.options
    if held_out:
        header = (
            f"# {total - held_out} images for training, {held_out} for validation "
            f"(val_fraction {options.val_fraction}, seed {options.seed}).\n"
        )
        folders = "train: images/train\nval: images/val\n"
    else:
        reason = (
            f"val_fraction {options.val_fraction}"
            if options.val_fraction == 0
            else f"{total} image(s) are too few to hold any out"
        )
        header = (
            f"# One split: all {total} images are in images/train ({reason}).\n"
            "# val names the same folder on purpose, so validation figures are measured\n"
            "# on the training images.\n"
        )
        folders = "train: images/train\nval: images/train\n"
    # JSON strings are YAML strings, so names with quotes or colons stay intact.
    names = "".join(
        f"  {i}: {json.dumps(label.name)}\n" for i, label in enumerate(selection.classes)
    )
    return f"{header}path: .\n{folders}names:\n{names}"


# --- Pascal VOC ---


def voc_palette() -> list[int]:
    """The 256 colours of the Pascal VOC palette, flat [r, g, b, ...]."""
    palette = []
    for index in range(256):
        r = g = b = 0
        value = index
        for shift in range(7, -1, -1):
            r |= ((value >> 0) & 1) << shift
            g |= ((value >> 1) & 1) << shift
            b |= ((value >> 2) & 1) << shift
            value >>= 3
        palette += [r, g, b]
    return palette


def _palette_png(indices: np.ndarray, palette: list[int]) -> PILImage.Image:
    picture = PILImage.fromarray(indices, mode="P")
    picture.putpalette(palette)
    return picture


def write_voc(archive: zipfile.ZipFile, selection: Selection, tick: Tick) -> None:
    """``SegmentationClass/<stem>.png`` (pixel = 1 + the class's place in
    ``class_names.txt``, after ``background``), ``SegmentationObject/<stem>.png``
    (pixel = 1 + the annotation's place on its image, by id), both palette PNGs with 0 for
    background; ``class_names.txt``, ``ImageSets/Segmentation/default.txt`` and
    ``JPEGImages/`` (the stored files, whatever their type). Where annotations overlap,
    the later one (higher id) is on top."""
    if len(selection.classes) > _VOC_MAX_INDEX:
        raise ExportError(f"VOC allows at most {_VOC_MAX_INDEX} classes.")
    index_of = {label.pk: i + 1 for i, label in enumerate(selection.classes)}
    palette = voc_palette()
    stems = []
    for image, on_image in selection.iter_images_with_annotations():
        file_stem = stem(selection.file_names[image.pk])
        if len(on_image) > _VOC_MAX_INDEX:
            raise ExportError(
                f"Image {selection.file_names[image.pk]} has {len(on_image)} annotations; "
                f"a VOC object mask holds at most {_VOC_MAX_INDEX}."
            )
        classes = np.zeros((image.height, image.width), dtype=np.uint8)
        objects = np.zeros((image.height, image.width), dtype=np.uint8)
        for number, annotation in enumerate(on_image, start=1):
            tick()
            mask = decode_mask(annotation)
            if mask.shape != classes.shape:
                raise ExportError(
                    f"Annotation {annotation.pk} is {mask.shape[1]}x{mask.shape[0]} but its "
                    f"image is {image.width}x{image.height}."
                )
            classes[mask] = index_of[annotation.label_class_id]
            objects[mask] = number
        write_png(archive, f"SegmentationClass/{file_stem}.png", _palette_png(classes, palette))
        write_png(archive, f"SegmentationObject/{file_stem}.png", _palette_png(objects, palette))
        stems.append(file_stem)
    names = "background\n" + "".join(f"{label.name}\n" for label in selection.classes)
    write_bytes(archive, "class_names.txt", names.encode(), compress=True)
    listing = "".join(f"{s}\n" for s in stems).encode()
    write_bytes(archive, "ImageSets/Segmentation/default.txt", listing, compress=True)
    if selection.options.include_images:
        write_images(archive, selection, "JPEGImages")


# --- one PNG per instance ---


def write_instance_masks(archive: zipfile.ZipFile, selection: Selection, tick: Tick) -> None:
    """``masks/<image stem>/<annotation id>_<class>.png``: 8-bit greyscale, 255 where the
    instance is, 0 elsewhere; and ``images/``."""
    class_names = {
        label.pk: safe_file_name(label.name, f"class{label.pk}") for label in selection.classes
    }
    for image, on_image in selection.iter_images_with_annotations():
        folder = f"masks/{stem(selection.file_names[image.pk])}"
        for annotation in on_image:
            tick()
            pixels = decode_mask(annotation).astype(np.uint8) * 255
            name = f"{folder}/{annotation.pk}_{class_names[annotation.label_class_id]}.png"
            write_png(archive, name, PILImage.fromarray(pixels, mode="L"))
    if selection.options.include_images:
        write_images(archive, selection, "images")


WRITERS: dict[str, Callable[[zipfile.ZipFile, Selection, Tick], None]] = {
    "coco": write_coco,
    "yolo": write_yolo,
    "voc": write_voc,
    "masks": write_instance_masks,
}
