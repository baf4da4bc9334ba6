"""JSON API of class suggestions: the label classes a mask most likely has."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.annotations import rle as rle_codec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action
from webapp.suggestions.calibration import PreselectionBar
from webapp.suggestions.features import feature_for_mask, load_embedding
from webapp.suggestions.neighbours import current_bar, rank_with_bar


class SuggestClassRequest(serializers.Serializer[Any]):
    """Exactly one of ``rle`` (compressed COCO RLE at the image's size) or ``annotation``
    (the id of one of the image's annotations, which then does not vote for itself)."""

    rle = serializers.JSONField(required=False)
    annotation = serializers.IntegerField(required=False, min_value=1, max_value=2**63 - 1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("rle" in attrs) == ("annotation" in attrs):
            raise ValidationError({"rle": ["send exactly one of rle or annotation"]})
        return attrs


CALIBRATION_FIELDS = {
    "preselect_at": serializers.FloatField(allow_null=True),
    "calibration": inline_serializer(
        name="SuggestionCalibration",
        fields={
            "evaluated": serializers.IntegerField(),
            "right_when_preselected": serializers.FloatField(allow_null=True),
            "familiar_from": serializers.FloatField(allow_null=True),
        },
    ),
}


def calibration_json(bar: PreselectionBar) -> dict[str, Any]:
    """``{"preselect_at", "calibration": {"evaluated", "right_when_preselected"}}`` of a
    project's bar (see :class:`SuggestClass`)."""
    return {
        "preselect_at": None if bar.at is None else round(bar.at, 4),
        "calibration": {
            "evaluated": bar.evaluated,
            "right_when_preselected": None if bar.right is None else round(bar.right, 4),
            "familiar_from": None if bar.familiar_from is None else round(bar.familiar_from, 4),
        },
    }


SUGGESTIONS_RESPONSE = inline_serializer(
    name="ClassSuggestions",
    fields={
        "suggestions": inline_serializer(
            name="ClassSuggestion",
            many=True,
            fields={
                "label_class": serializers.IntegerField(),
                "name": serializers.CharField(),
                "confidence": serializers.FloatField(),
                "preselect": serializers.BooleanField(),
            },
        ),
        **CALIBRATION_FIELDS,
    },
)


class SuggestClass(APIView):
    """``POST`` a mask of one image: the label classes it most likely has, best first,
    by its nearest labelled neighbours in the project (an empty list until a class has
    enough labelled examples). The first is marked ``preselect`` when its confidence
    reaches ``preselect_at``, the project's bar (null: suggestions are not right often
    enough there to pre-select any), measured by a vote for each of ``evaluated`` of the
    project's labelled annotations (``right_when_preselected``: how often those votes
    that reach the bar are right; null before there are enough to measure), and only
    for a mask whose nearest labelled annotation has a cosine similarity of at least
    ``familiar_from`` (null: no such check yet). Anyone who may annotate there."""

    permission_classes = [IsAuthenticated, ProjectRole]
    write_action = Action.ANNOTATE
    project: Any  # set by ProjectRole

    @extend_schema(request=SuggestClassRequest, responses={200: SUGGESTIONS_RESPONSE})
    def post(self, request: Request, project_pk: int, image_pk: int) -> Response:
        image = get_object_or_404(Image.objects.select_related("project"), pk=image_pk,
                                  project=self.project)  # fmt: skip
        incoming = SuggestClassRequest(data=request.data)
        incoming.is_valid(raise_exception=True)
        exclude: list[int] = []
        rle = incoming.validated_data.get("rle")
        if rle is None:
            annotation = get_object_or_404(
                Annotation, pk=incoming.validated_data["annotation"], image=image
            )
            rle, exclude = annotation.rle, [annotation.pk]
        embedding = load_embedding(image)
        if embedding is None:
            return Response(
                {"detail": "This image is not encoded yet; ask again once it is."},
                status=status.HTTP_409_CONFLICT,
            )
        try:
            feature = feature_for_mask(image, rle, embedding)
        except rle_codec.InvalidMask as exc:
            raise ValidationError({"rle": [str(exc)]}) from None
        if feature is None:
            raise ValidationError({"rle": ["the mask is empty: it must cover at least one pixel"]})
        ranked, bar = rank_with_bar(image.project, [feature], exclude_annotations=exclude)
        return Response({"suggestions": ranked[0], **calibration_json(bar)})


class SuggestionCalibration(APIView):
    """``GET``: how sure a class suggestion must be before the annotator pre-selects it
    in this project, as :class:`SuggestClass` reports it, and ``target_right``, the
    share of right pre-selections the bar is set for. Any member."""

    permission_classes = [IsAuthenticated, ProjectRole]
    project: Any  # set by ProjectRole

    @extend_schema(
        responses={
            200: inline_serializer(
                name="SuggestionCalibrationState",
                fields={**CALIBRATION_FIELDS, "target_right": serializers.FloatField()},
            )
        }
    )
    def get(self, request: Request, project_pk: int) -> Response:
        target = settings.SAMLABEL_SUGGESTION_PRESELECT_PERCENT / 100
        return Response({**calibration_json(current_bar(self.project)), "target_right": target})
