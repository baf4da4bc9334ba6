"""How annotations look in the JSON API, and the shape of what clients send."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.annotations.models import Annotation, AnnotationSource
from webapp.core.fields import api_datetime, row_id_field

# The largest version an annotation can reach: its PositiveIntegerField holds 2**31 - 1
# on every database. A larger one in a request is refused rather than looked up.
MAX_VERSION = 2**31 - 1


class AnnotationSerializer(serializers.ModelSerializer[Annotation]):
    """An annotation as clients read it; ``rle`` is compressed COCO RLE at the image's
    size, ``bbox`` [x, y, width, height] and ``prompts`` in original-image pixels."""

    author = serializers.SerializerMethodField()
    last_editor = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = [
            "id",
            "image",
            "label_class",
            "rle",
            "bbox",
            "area",
            "prompts",
            "author",
            "last_editor",
            "created_at",
            "updated_at",
            "version",
            "source",
            "proposal_id",
            "class_suggested",
        ]
        read_only_fields = fields

    def get_author(self, annotation: Annotation) -> str | None:
        return annotation.author.username if annotation.author else None

    def get_last_editor(self, annotation: Annotation) -> str | None:
        """Who saved it last: its creator until someone edits it."""
        return annotation.last_editor.username if annotation.last_editor else None


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)


def annotation_body(annotation: Annotation) -> dict[str, Any]:
    """``AnnotationSerializer(annotation).data``, field for field and in its order, built
    without the serializer: a ModelSerializer builds its fields from the model again for
    every instance, a good part of the CPU of saving or reading one annotation. The
    serializer stays the schema's description of this shape, and a test keeps the two
    equal. Load the author and last editor with the annotation (select_related) where
    they are not at hand, as for the serializer."""
    author, editor = annotation.author, annotation.last_editor
    return {
        "id": int(annotation.pk),
        "image": _optional_int(annotation.image_id),
        "label_class": _optional_int(annotation.label_class_id),
        "rle": annotation.rle,
        "bbox": annotation.bbox,
        "area": int(annotation.area),
        "prompts": annotation.prompts,
        "author": author.username if author else None,
        "last_editor": editor.username if editor else None,
        "created_at": api_datetime(annotation.created_at),
        "updated_at": api_datetime(annotation.updated_at),
        "version": int(annotation.version),
        "source": str(annotation.source),
        "proposal_id": _optional_int(annotation.proposal_id),
        "class_suggested": bool(annotation.class_suggested),
    }


class ParsedJSON(serializers.JSONField):
    """A value as the parser produced it. Unlike DRF's JSONField it lets infinities
    through (``1e999`` parses as one) so that services.py can name the bad coordinate."""

    def to_internal_value(self, data: Any) -> Any:
        return data


class AnnotationWriteSerializer(serializers.Serializer[None]):
    """What a client sends to create (all but ``version``) or edit (any subset) an
    annotation. Only the types are checked here; the rules are in services.py."""

    label_class = row_id_field()
    rle = ParsedJSON(required=False)
    polygons = ParsedJSON(required=False)
    prompts = ParsedJSON(required=False)
    version = serializers.IntegerField(required=False, min_value=1, max_value=MAX_VERSION)
    proposal_id = row_id_field(
        required=False,
        help_text="On create: the proposal of this image that the mask was refined from.",
    )


class AnnotationMergeSerializer(serializers.Serializer[None]):
    """A merge of annotation ``other`` into the one addressed: the versions the client
    read of both (the kept one's as ``version``); the server makes the union itself."""

    other = row_id_field(help_text="The annotation merged in and deleted (same image, class).")
    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    other_version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)


class AnnotationUnmergeSerializer(serializers.Serializer[None]):
    """The undo of a merge into the annotation addressed: its ``version`` now (the
    merge's, or a later one), its mask before the merge (``rle``, compressed COCO RLE at
    the image's size; one of its saved versions, which the server restores from its
    history), and the annotation the merge deleted: its id then (``other``), its mask
    (``other_rle``, within the kept one's), prompts (original-image pixels) and, when it
    came from a proposal, that proposal's id. Only the types are checked here; the
    rules are in services.py."""

    version = serializers.IntegerField(min_value=1, max_value=MAX_VERSION)
    rle = ParsedJSON(help_text="The kept annotation's mask before the merge.")
    other = row_id_field(help_text="The id of the annotation the merge deleted.")
    other_rle = ParsedJSON(help_text="Its mask, as it was.")
    other_prompts = ParsedJSON(required=False, help_text="Its prompts, as they were.")
    # A plain string (checked in services.py) so that the schema keeps one name for the
    # annotation sources, the one of AnnotationSerializer's ``source``.
    other_source = serializers.CharField(
        required=False,
        help_text="Where its mask came from: " + ", ".join(AnnotationSource.values) + ".",
    )
    other_proposal_id = row_id_field(
        required=False, help_text="The proposal its mask was refined from, when it was."
    )


class AnnotationUnmergeResultSerializer(serializers.Serializer[None]):
    """An unmerge's answer: the kept annotation at its new version, and the one made
    again (under a new id)."""

    kept = AnnotationSerializer()
    other = AnnotationSerializer()
