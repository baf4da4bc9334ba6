"""How proposals and their runs look in the JSON API, and what clients send."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from webapp.core.fields import row_id_field
from webapp.proposals.models import Proposal, ProposalRun


class SuggestionSerializer(serializers.Serializer[Any]):
    label_class = serializers.IntegerField()
    confidence = serializers.FloatField()
    preselect = serializers.BooleanField()  # confident enough, in this project, to pre-select


class ProposalSerializer(serializers.ModelSerializer[Proposal]):
    """A proposed mask: ``rle`` compressed COCO RLE at the image's size, ``bbox`` [x, y,
    width, height] and ``point`` [x, y] (the grid point that made it) in original-image
    pixels, ``predicted_iou`` and ``stability`` from 0 to 1; ``suggestion``: the likely
    label class, or null (context ``suggestions``: {proposal id: suggestion})."""

    suggestion = serializers.SerializerMethodField()

    class Meta:
        model = Proposal
        fields = ["id", "rle", "bbox", "area", "predicted_iou", "stability", "point", "suggestion"]
        read_only_fields = fields

    @extend_schema_field(SuggestionSerializer(allow_null=True))
    def get_suggestion(self, proposal: Proposal) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.context.get("suggestions", {}).get(proposal.pk)
        return found


class ProposalRunSerializer(serializers.Serializer[Any]):
    """The state of an image's proposals: ``status`` none (never asked for), pending,
    running, done or failed (``error`` says why); ``proposal_count`` made by the last
    run, in ``seconds`` on the worker."""

    status = serializers.ChoiceField(choices=["none", "pending", "running", "done", "failed"])
    model = serializers.CharField()
    params = serializers.DictField()
    error = serializers.CharField()
    proposal_count = serializers.IntegerField()
    attempts = serializers.IntegerField()
    seconds = serializers.FloatField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)

    @staticmethod
    def of(run: ProposalRun | None, model: str) -> dict[str, Any]:
        if run is None:
            return {
                "status": "none",
                "model": model,
                "params": {},
                "error": "",
                "proposal_count": 0,
                "attempts": 0,
                "seconds": None,
                "finished_at": None,
            }
        return ProposalRunSerializer(run).data


class AcceptSerializer(serializers.Serializer[Any]):
    label_class = row_id_field()


class AcceptAllSerializer(serializers.Serializer[Any]):
    """Exactly one of ``label_class`` (every proposal gets it) or ``suggested: true``."""

    label_class = row_id_field(required=False)
    suggested = serializers.BooleanField(
        default=False,
        help_text="Each proposal gets its suggested class, where the annotator would "
        "pre-select it; the others are left open.",
    )
    min_iou = serializers.FloatField(
        min_value=0.0, max_value=1.0, default=0.9, help_text="Least predicted IoU accepted."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("label_class" in attrs) == attrs["suggested"]:
            raise serializers.ValidationError(
                {"label_class": ["send either a label class or suggested: true"]}
            )
        return attrs


class GenerateSerializer(serializers.Serializer[Any]):
    images = serializers.ListField(
        child=row_id_field(), required=False, allow_empty=False, max_length=10_000
    )
    all = serializers.BooleanField(
        default=False, help_text="Every image of the project (managers and owners)."
    )

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if bool(attrs.get("images")) == attrs["all"]:
            raise serializers.ValidationError(
                {"images": ["send either a list of image ids or all: true"]}
            )
        return attrs
