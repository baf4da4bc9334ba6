"""Taking in uploaded files: checked, stored under generated names, queued for encoding.

This module calls the encoding task (:func:`webapp.images.tasks.queue_encoding`); the tasks
never import it back.

:func:`ingest_upload` is the one business rule of an upload. Each file is handled alone:
a rejected file leaves nothing behind (no row, no stored file) and does not stop the
others; a file whose content is already in the project is reported as a duplicate.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.db import IntegrityError, transaction

from webapp.images.models import Image
from webapp.images.tasks import queue_encoding
from webapp.projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser
    from PIL.Image import Image as Picture

log = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256  # pixels, the longest side of a thumbnail
# Pillow format name -> the extension of the stored original.
EXTENSIONS = {
    "JPEG": "jpg",
    "MPO": "jpg",
    "PNG": "png",
    "WEBP": "webp",
    "GIF": "gif",
    "BMP": "bmp",
    "TIFF": "tif",
}

# Formats every browser decodes. Of their EXIF orientations, browsers apply a JPEG's as
# Pillow does; other formats' they may ignore (a WebP's, in Chromium). Anything else gets
# a display copy (see prepare_image).
BROWSER_FORMATS = {"JPEG", "MPO", "PNG", "WEBP", "GIF", "BMP"}
ORIENTED_BY_BROWSERS = {"JPEG", "MPO"}

Outcome = Literal["created", "duplicate", "rejected"]


@dataclass(frozen=True)
class PreparedImage:
    """What is stored for one accepted image file, besides the file itself.

    ``width``, ``height``: the picture's size upright (EXIF orientation applied);
    ``extension``: of the stored original; ``thumbnail``: a JPEG (see
    :func:`make_thumbnail`); ``display``: a PNG of the upright picture when browsers
    cannot draw the original as SAM sees it, else None.
    """

    width: int
    height: int
    extension: str
    thumbnail: bytes
    display: bytes | None


def needs_display_copy(file_format: str, orientation: int) -> bool:
    """True when browsers cannot be trusted to draw a file upright as Pillow does."""
    if file_format not in BROWSER_FORMATS:
        return True
    return orientation != 1 and file_format not in ORIENTED_BY_BROWSERS


def prepare_image(content: bytes) -> PreparedImage:
    """Check ``content`` and make what is stored with it. Raises
    :class:`inference.images.ImageRejected` (with "the upload: " before the reason) for a
    file that is not an accepted, decodable image of an acceptable size.

    Memory stays bounded (``SAMLABEL_MAX_DECODED_BYTES``): the file is decoded at the
    thumbnail's scale where the format allows, and only a file that needs a display copy
    is decoded whole, once more, after the first decode is released.
    """
    from inference.images import load_image_reduced, load_upright

    # Every byte is checked, but a large JPEG is decoded at the thumbnail's scale (an
    # eighth of 4000 pixels is 500): the request does not pay for a full decode.
    picture = load_image_reduced(content, long_side=THUMBNAIL_SIDE)
    display = None
    if needs_display_copy(picture.format, picture.orientation):
        upright = load_upright(content)
        out = io.BytesIO()
        upright.pixels.save(out, format="PNG", compress_level=6)
        upright.pixels.close()
        display = out.getvalue()
    return PreparedImage(
        width=picture.width,
        height=picture.height,
        extension=EXTENSIONS.get(picture.format, picture.format.lower() or "bin"),
        thumbnail=make_thumbnail(picture.pixels),
        display=display,
    )


@dataclass(frozen=True)
class UploadResult:
    """What became of one uploaded file."""

    name: str  # the original name, reduced to a safe basename
    outcome: Outcome
    image: Image | None = None  # the new image, or the one it duplicates
    reason: str = ""  # why it was rejected, for a person
    too_large: bool = False


def safe_original_name(name: str | None) -> str:
    """The user's file name reduced to a basename: no folders, no ``..``, no control
    characters, at most 255 characters. Only ever shown; never used to store a file."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = re.sub(r"[\x00-\x1f\x7f]", "", base).replace("..", "").strip(" .")
    return base[-255:] or "image"


def make_thumbnail(picture: Picture) -> bytes:
    """A JPEG whose longest side is at most 256 pixels, as the user sees the image;
    ``picture`` may be a reduced decode (at least 256 pixels on its longest side)."""
    thumbnail = picture.copy()
    thumbnail.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    out = io.BytesIO()
    thumbnail.save(out, format="JPEG", quality=85)
    return out.getvalue()


def _rejected(name: str, reason: str, *, too_large: bool = False) -> UploadResult:
    return UploadResult(name=name, outcome="rejected", reason=reason, too_large=too_large)


def ingest_upload(
    project: Project, upload: UploadedFile, user: AbstractBaseUser | None
) -> UploadResult:
    """Check one uploaded file and, if it is a new usable image, store it in ``project``.

    Encoding is queued once the row is committed.
    """
    from inference.images import ImageRejected

    name = safe_original_name(upload.name)
    limit = settings.SAMLABEL_MAX_UPLOAD_BYTES
    if upload.size is not None and upload.size > limit:
        return _rejected(
            name,
            f"the file is {upload.size:,} bytes, over the limit of {limit:,} bytes",
            too_large=True,
        )
    content = upload.read()
    if not content:
        return _rejected(name, "the file is empty")
    sha256 = hashlib.sha256(content).hexdigest()
    existing = Image.objects.filter(project=project, sha256=sha256).first()
    if existing is not None:
        return UploadResult(name=name, outcome="duplicate", image=existing)
    try:
        prepared = prepare_image(content)
    except ImageRejected as exc:
        return _rejected(name, str(exc).removeprefix("the upload: "))

    image = Image(
        project=project,
        original_name=name,
        # The full image's size, as the user sees it (not the reduced decode's).
        width=prepared.width,
        height=prepared.height,
        sha256=sha256,
        uploaded_by=user,
    )
    stored: list[str] = []
    try:
        image.file.save(f"original.{prepared.extension}", ContentFile(content), save=False)
        stored.append(image.file.name)
        image.thumbnail.save("thumbnail.jpg", ContentFile(prepared.thumbnail), save=False)
        stored.append(image.thumbnail.name)
        if prepared.display is not None:
            image.display.save("display.png", ContentFile(prepared.display), save=False)
            stored.append(image.display.name)
        with transaction.atomic():
            image.save()
            transaction.on_commit(lambda: queue_encoding(image.pk))
    except BaseException as exc:
        for stored_name in stored:
            image.file.storage.delete(stored_name)
        if isinstance(exc, IntegrityError):
            # The same content was uploaded at the same moment by another request.
            existing = Image.objects.filter(project=project, sha256=sha256).first()
            if existing is not None:
                return UploadResult(name=name, outcome="duplicate", image=existing)
        raise
    return UploadResult(name=name, outcome="created", image=image)
