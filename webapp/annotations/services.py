"""Creating and editing annotations: the rules that span an image, its project's label
classes and the annotation itself.

Everything a client sends is checked before anything is written, so a rejected request
stores nothing. Masks are stored as compressed COCO RLE at the image's full size
(``[image.height, image.width]``), whether the client sent an RLE or polygons.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.db import transaction
from django.db.models import QuerySet

from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation, AnnotationSource, VersionConflict
from webapp.images.models import Image
from webapp.projects.models import LabelClass
from webapp.reviews.models import AnnotationVersion
from webapp.suggestions.tasks import pool_after_commit
from webapp.workflow.models import Event, EventKind


class AnnotationRejected(ValueError):
    """The request does not describe a valid annotation; ``field`` names what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def create_annotation(
    image: Image,
    *,
    author: AbstractBaseUser | None,
    label_class: object,
    rle: object = None,
    polygons: object = None,
    prompts: object = None,
    source: str = AnnotationSource.MANUAL,
    proposal_id: int | None = None,
    class_suggested: bool = False,
) -> Annotation:
    """Validate and store a new annotation of ``image``; raise AnnotationRejected.
    ``source`` and ``proposal_id`` say where its mask came from (a proposal's id when
    accepted from one); ``class_suggested``, that no person chose its class (see the
    model)."""
    fields: dict[str, Any] = {
        "label_class": label_class_of(image, label_class),
        "class_suggested": class_suggested,
    }
    if proposal_id is not None:
        check_proposal(image, proposal_id)
        source = AnnotationSource.PROPOSAL
    fields.update(source=source, proposal_id=proposal_id)
    fields.update(mask_fields(image, rle=rle, polygons=polygons))
    fields["prompts"] = validate_prompts(image, prompts)
    with transaction.atomic():
        annotation = Annotation.objects.create(
            image=image, author=author, last_editor=author, **fields
        )
        _saved(annotation, EventKind.ANNOTATION_CREATED, author)
        pool_after_commit(annotation)  # its feature, for class suggestions
    return annotation


def check_proposal(image: Image, proposal_id: int) -> None:
    """Raise AnnotationRejected unless ``proposal_id`` is one of ``image``'s proposals."""
    from django.apps import apps

    if not apps.is_installed("webapp.proposals"):
        raise AnnotationRejected("proposal_id", "this server keeps no proposals")
    proposal = apps.get_model("proposals", "Proposal")
    if not proposal.objects.filter(pk=proposal_id, image=image).exists():
        raise AnnotationRejected("proposal_id", f"image {image.pk} has no proposal {proposal_id}")


def edit_annotation(
    annotation: Annotation,
    expected_version: int,
    changes: dict[str, object],
    editor: AbstractBaseUser | None = None,
) -> Annotation:
    """Apply ``changes`` (any of label_class, rle or polygons, prompts) if the stored
    version is still ``expected_version``, as ``editor``; raise AnnotationRejected or
    VersionConflict (then nothing changes)."""
    if not changes:
        raise AnnotationRejected(
            "non_field_errors", "send at least one of label_class, rle, polygons, prompts"
        )
    image = annotation.image
    fields: dict[str, Any] = {}
    if "label_class" in changes:
        fields["label_class"] = label_class_of(image, changes["label_class"])
        fields["class_suggested"] = False  # a person gave it its class
    if "rle" in changes or "polygons" in changes:
        fields.update(mask_fields(image, rle=changes.get("rle"), polygons=changes.get("polygons")))
    if "prompts" in changes:
        fields["prompts"] = validate_prompts(image, changes["prompts"])
    with transaction.atomic():
        annotation.apply_edit(expected_version, editor=editor, **fields)
        _saved(annotation, EventKind.ANNOTATION_EDITED, editor)
        if "rle" in fields:
            pool_after_commit(annotation)  # the new mask's feature
    return annotation


def delete_annotation(
    annotation: Annotation, expected_version: int | None, actor: AbstractBaseUser | None
) -> None:
    """Delete it (only at ``expected_version`` when given: VersionConflict otherwise)."""
    annotation_id = annotation.pk
    with transaction.atomic():
        if expected_version is None:
            annotation.delete()
        else:
            annotation.delete_at_version(expected_version)
        Event.record(
            EventKind.ANNOTATION_DELETED,
            project=annotation.image.project_id,
            actor=actor,
            image=annotation.image,
            detail={
                "annotation": annotation_id,
                "label_class": annotation.label_class_id,
                # Its author, for an unmerge that makes it again (unmerge_annotations).
                "author": annotation.author_id,
            },
        )


class MergeConflict(Exception):
    """One or both annotations of a merge changed since the versions the client read;
    ``changed`` holds them as they are now (the kept one first when both did)."""

    def __init__(self, changed: list[Annotation]) -> None:
        super().__init__(", ".join(f"annotation {a.pk} is at version {a.version}" for a in changed))
        self.changed = changed


def merge_annotations(
    kept: Annotation,
    expected_version: int,
    other: Annotation,
    other_expected_version: int,
    editor: AbstractBaseUser | None,
) -> Annotation:
    """Merge ``other`` into ``kept`` in one transaction: ``kept`` gets the union of the
    two stored masks as a new version (edit_annotation: its history, event and counts),
    ``other`` is deleted (delete_annotation). Both must be of one image and one label
    class (AnnotationRejected otherwise) and still at the versions given (MergeConflict
    otherwise); a refusal stores nothing."""
    if other.pk == kept.pk:
        raise AnnotationRejected("other", "an annotation cannot be merged with itself")
    if other.image_id != kept.image_id:
        raise AnnotationRejected(
            "other", f"annotation {other.pk} is on another image: only one image's merge"
        )
    with transaction.atomic():
        locked = {
            a.pk: a
            for a in Annotation.objects.select_for_update(of=("self",))
            .filter(pk__in=[kept.pk, other.pk])
            .order_by("pk")
        }
        current_kept, current_other = locked.get(kept.pk), locked.get(other.pk)
        if current_kept is None or current_other is None:
            raise Annotation.DoesNotExist
        changed = [
            current
            for current, expected in (
                (current_kept, expected_version),
                (current_other, other_expected_version),
            )
            if current.version != expected
        ]
        if changed:
            raise MergeConflict(changed)
        if current_other.label_class_id != current_kept.label_class_id:
            raise AnnotationRejected(
                "other",
                f"annotation {other.pk} is of another label class: only one class's "
                "annotations merge",
            )
        # The kept one's mask before the merge must be in its history for an unmerge to
        # restore it; one imported in bulk has no history yet.
        if not AnnotationVersion.objects.filter(
            annotation_id=kept.pk, version=current_kept.version
        ).exists():
            AnnotationVersion.record(current_kept, current_kept.last_editor)
        union = rle_codec.decode(current_kept.rle) | rle_codec.decode(current_other.rle)
        edit_annotation(kept, expected_version, {"rle": rle_codec.encode(union)}, editor)
        delete_annotation(other, other_expected_version, editor)
    return kept


class AlreadyRestored(Exception):
    """An unmerge of annotation ``other_id``, which an earlier unmerge re-created already
    (as ``restored_as``)."""

    def __init__(self, other_id: int, restored_as: object) -> None:
        super().__init__(f"annotation {other_id} was re-created already, as {restored_as}")
        self.other_id = other_id
        self.restored_as = restored_as


def unmerge_annotations(
    kept: Annotation,
    expected_version: int,
    *,
    rle: object,
    other_id: int,
    other_rle: object,
    other_prompts: object = None,
    other_source: str | None = None,
    other_proposal_id: int | None = None,
    editor: AbstractBaseUser | None,
) -> Annotation:
    """Undo a merge into ``kept`` in one transaction; returns the re-created annotation.

    ``kept`` (still at ``expected_version``: VersionConflict otherwise) gets back, as a
    new version, its mask ``rle`` from before the merge, which must be one of its saved
    versions (the mask stored is that version's, from the history). The annotation
    ``other_id`` that the merge deleted from ``kept``'s image is made again under a new
    id: its label class is the one its deletion recorded (which must be ``kept``'s), its
    mask ``other_rle`` (at the image's size, and within ``kept``'s mask now, as a part
    of a merge is), its prompts, source and proposal as sent; its author the one its
    deletion recorded (see _original_author), its last editor ``editor``. An annotation
    is re-created once (AlreadyRestored after that). Anything else refused raises
    AnnotationRejected; a refusal stores nothing. History, events and counts as an edit
    and a create record them; the re-created one's creation event names the id it
    ``restores``.
    """
    image = kept.image
    wanted = mask_fields(image, rle=rle)
    recreated = _as_field("other_rle", lambda: mask_fields(image, rle=other_rle))
    prompts = _as_field("other_prompts", lambda: validate_prompts(image, other_prompts))
    if other_source is not None and other_source not in AnnotationSource.values:
        raise AnnotationRejected(
            "other_source", f"source must be one of {', '.join(AnnotationSource.values)}"
        )
    source = AnnotationSource.PROPOSAL if other_proposal_id is not None else other_source
    events = Event.objects.filter(project_id=image.project_id)
    with transaction.atomic():
        current = Annotation.objects.select_for_update(of=("self",)).filter(pk=kept.pk).first()
        if current is None:
            raise Annotation.DoesNotExist
        if current.version != expected_version:
            raise VersionConflict(current)
        if Annotation.objects.filter(pk=other_id, image_id=image.pk).exists():
            raise AnnotationRejected(
                "other", f"annotation {other_id} is still there: there is nothing to re-create"
            )
        deleted = (
            events.filter(kind=EventKind.ANNOTATION_DELETED, image=image)
            .filter(detail__annotation=other_id)
            .order_by("-at", "-pk")
            .first()
        )
        if deleted is None:
            raise AnnotationRejected(
                "other", f"no annotation {other_id} was deleted from image {image.pk}"
            )
        restored = (
            events.filter(kind=EventKind.ANNOTATION_CREATED)
            .filter(detail__restores=other_id)
            .first()
        )
        if restored is not None:
            raise AlreadyRestored(other_id, restored.detail.get("annotation"))
        if deleted.detail.get("label_class") != current.label_class_id:
            raise AnnotationRejected(
                "other",
                f"annotation {other_id} was of another label class than annotation "
                f"{kept.pk}: it was not merged into it",
            )
        merged = rle_codec.decode(current.rle)
        if (rle_codec.decode(recreated["rle"]) & ~merged).any():
            raise AnnotationRejected(
                "other_rle",
                f"the mask reaches outside annotation {kept.pk}'s: it is not a part of it",
            )
        before = _saved_mask(current, wanted["rle"], wanted["area"])
        edit_annotation(kept, expected_version, {"rle": before}, editor)
        author = _original_author(events, deleted, editor)
        other = Annotation.objects.create(
            image=image,
            label_class_id=current.label_class_id,
            author=author,
            last_editor=editor if getattr(editor, "is_authenticated", False) else None,
            prompts=prompts,
            source=source or AnnotationSource.MANUAL,
            proposal_id=other_proposal_id,
            **recreated,
        )
        _saved(other, EventKind.ANNOTATION_CREATED, editor, restores=other_id)
        pool_after_commit(other)
    return other


def _as_field(field: str, check: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    """``check()``, its refusal named as ``field`` of the request."""
    try:
        return check()
    except AnnotationRejected as exc:
        raise AnnotationRejected(field, exc.message) from None


def _saved_mask(annotation: Annotation, rle: dict[str, Any], area: int) -> dict[str, Any]:
    """The mask of the newest saved version of ``annotation`` older than its current one
    whose mask is ``rle`` (the same pixels); AnnotationRejected when none is."""
    candidates = (
        AnnotationVersion.objects.filter(
            annotation_id=annotation.pk, version__lt=annotation.version, area=area
        )
        .order_by("-version")
        .values_list("rle", flat=True)
    )
    wanted = None
    for stored in candidates:
        if stored == rle:
            return dict(stored)
        if wanted is None:
            wanted = rle_codec.decode(rle)
        if (rle_codec.decode(stored) == wanted).all():
            return dict(stored)
    raise AnnotationRejected(
        "rle", f"this mask is none of annotation {annotation.pk}'s saved versions before this one"
    )


def _original_author(
    events: QuerySet[Event], deleted: Event, editor: AbstractBaseUser | None
) -> AbstractBaseUser | None:
    """Who created the annotation whose deletion is ``deleted``: as the deletion recorded
    it, else (a deletion logged before deletions named authors) as its creation event
    did; ``editor`` when neither tells (one imported, or made before events were kept).
    None when that person's account is gone."""
    if "author" in deleted.detail:
        author_id = deleted.detail["author"]
    else:
        created = (
            events.filter(kind=EventKind.ANNOTATION_CREATED)
            .filter(detail__annotation=deleted.detail.get("annotation"))
            .order_by("at", "pk")
            .first()
        )
        if created is None:
            return editor if getattr(editor, "is_authenticated", False) else None
        author_id = created.actor_id
    return get_user_model().objects.filter(pk=author_id).first() if author_id else None


def _saved(
    annotation: Annotation, kind: str, editor: AbstractBaseUser | None, **detail: object
) -> None:
    """Keep this version in the annotation's history and log the save (``detail``: more
    of it for the log)."""
    AnnotationVersion.record(annotation, editor)
    Event.record(
        kind,
        project=annotation.image.project_id,
        actor=editor,
        image=annotation.image,
        detail={
            "annotation": annotation.pk,
            "version": annotation.version,
            "label_class": annotation.label_class_id,
            **detail,
        },
    )


def label_class_of(image: Image, label_class_id: object) -> LabelClass:
    """The label class ``label_class_id`` of the image's project."""
    if not _is_int(label_class_id):
        raise AnnotationRejected("label_class", "label_class must be the id of a label class")
    found = LabelClass.objects.filter(project_id=image.project_id, pk=label_class_id).first()
    if found is None:
        raise AnnotationRejected(
            "label_class", f"this project has no label class with id {label_class_id}"
        )
    return found


def mask_fields(image: Image, *, rle: object = None, polygons: object = None) -> dict[str, Any]:
    """``{"rle", "bbox", "area"}`` of the mask given as an RLE or as polygons, which must
    be at the image's size, [image.height, image.width], and not empty."""
    size = [image.height, image.width]
    if (rle is None) == (polygons is None):
        raise AnnotationRejected("rle", "send the mask as exactly one of rle or polygons")
    try:
        if rle is not None:
            # Compare sizes before decoding, so that a huge claimed size costs nothing.
            if not isinstance(rle, dict):
                raise rle_codec.InvalidMask(
                    'rle must be an object {"size": [height, width], "counts": ...}'
                )
            claimed = rle.get("size")
            if claimed != size:
                raise AnnotationRejected(
                    "rle", f"RLE size {claimed!r} is not the image's size {size} (height, width)"
                )
            # The canonical form from the runs alone: no (H, W) decode of a big mask.
            encoded = rle_codec.normalize(rle)
            field = "rle"
        else:
            mask = rle_codec.polygon_to_mask(polygons, image.height, image.width)  # type: ignore[arg-type]
            encoded = rle_codec.encode(mask)
            field = "polygons"
    except rle_codec.InvalidMask as exc:
        raise AnnotationRejected("polygons" if rle is None else "rle", str(exc)) from None
    area = rle_codec.area(encoded)
    if area == 0:
        raise AnnotationRejected(field, "the mask is empty: it must cover at least one pixel")
    return {"rle": encoded, "bbox": rle_codec.bbox(encoded), "area": area}


def validate_prompts(image: Image, prompts: object) -> dict[str, Any]:
    """Normalise prompts to ``{"points": [[x, y], ...], "labels": [0|1, ...], "box":
    [x0, y0, x1, y1] | None}``, in original-image pixels within
    [0, width] x [0, height]."""
    if prompts is None:
        prompts = {}
    if not isinstance(prompts, dict):
        raise AnnotationRejected("prompts", 'prompts must be an object {"points", "labels", "box"}')
    unknown = sorted(set(prompts) - {"points", "labels", "box"})
    if unknown:
        raise AnnotationRejected("prompts", f"prompts has unknown keys: {', '.join(unknown)}")
    points = prompts.get("points") or []
    labels = prompts.get("labels") or []
    box = prompts.get("box")
    if not isinstance(points, list) or not all(
        isinstance(p, list) and len(p) == 2 and all(rle_codec.is_finite_number(v) for v in p)
        for p in points
    ):
        raise AnnotationRejected("prompts", "prompts.points must be a list of [x, y] numbers")
    for x, y in points:
        if not (0 <= x <= image.width and 0 <= y <= image.height):
            raise AnnotationRejected(
                "prompts",
                f"point [{x}, {y}] is outside the image ({image.width}x{image.height} pixels)",
            )
    if not isinstance(labels, list) or not all(_is_int(v) and v in (0, 1) for v in labels):
        raise AnnotationRejected(
            "prompts", "prompts.labels must be a list of 1 (object) or 0 (background)"
        )
    if len(labels) != len(points):
        raise AnnotationRejected(
            "prompts", f"{len(points)} points need {len(points)} labels, not {len(labels)}"
        )
    if box is not None:
        if (
            not isinstance(box, list)
            or len(box) != 4
            or not all(rle_codec.is_finite_number(v) for v in box)
        ):
            raise AnnotationRejected("prompts", "prompts.box must be [x0, y0, x1, y1] numbers")
        x0, y0, x1, y1 = box
        if not (x0 < x1 and y0 < y1):
            raise AnnotationRejected("prompts", "prompts.box must have x0 < x1 and y0 < y1")
        if not (0 <= x0 < x1 <= image.width and 0 <= y0 < y1 <= image.height):
            raise AnnotationRejected(
                "prompts", f"prompts.box is outside the image ({image.width}x{image.height})"
            )
    return {"points": points, "labels": labels, "box": box}


def _is_int(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)
