"""JSON shapes of the workflow API."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.core.fields import api_datetime
from webapp.workflow.models import Event, WorkItem, WorkState
from webapp.workflow.rules import ACTIONS


class WorkItemSerializer(serializers.ModelSerializer[WorkItem]):
    image = serializers.IntegerField(source="image_id", read_only=True)
    image_name = serializers.CharField(source="image.original_name", read_only=True)
    annotator = serializers.SlugRelatedField(slug_field="username", read_only=True)
    reviewer = serializers.SlugRelatedField(slug_field="username", read_only=True)
    assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    review_assignee = serializers.SlugRelatedField(slug_field="username", read_only=True)
    description = serializers.SerializerMethodField(
        help_text="Where the image is, for a person: its state and who holds it."
    )

    class Meta:
        model = WorkItem
        fields = [
            "image",
            "image_name",
            "state",
            "annotator",
            "reviewer",
            "assignee",
            "review_assignee",
            "lease_expires_at",
            "reason",
            "changed_at",
            "version",
            "description",
        ]
        read_only_fields = fields

    def get_description(self, item: WorkItem) -> str:
        return item.describe()


def _username(user: Any) -> str | None:
    return None if user is None else str(user.username)


def work_item_body(item: WorkItem) -> dict[str, Any]:
    """``WorkItemSerializer(item).data``, field for field and in its order, built without
    the serializer: a ModelSerializer builds its fields from the model again for every
    instance, which cost the hot moves (next image, submit) about a millisecond of CPU
    each. The serializer stays the schema's description of this shape, and a test keeps
    the two equal. ``item``'s image and the members it names should be loaded
    (select_related), as for the serializer."""
    return {
        "image": int(item.image_id),
        "image_name": str(item.image.original_name),
        "state": str(item.state),
        "annotator": _username(item.annotator),
        "reviewer": _username(item.reviewer),
        "assignee": _username(item.assignee),
        "review_assignee": _username(item.review_assignee),
        "lease_expires_at": api_datetime(item.lease_expires_at),
        "reason": str(item.reason),
        "changed_at": api_datetime(item.changed_at),
        "version": int(item.version),
        "description": item.describe(),
    }


class MoveSerializer(serializers.Serializer[Any]):
    reason = serializers.CharField(
        required=False, allow_blank=True, max_length=2000, default="",
        help_text="Why: required to skip, shown to the annotator when rejecting.",
    )  # fmt: skip


class NextRequestSerializer(serializers.Serializer[Any]):
    stage = serializers.ChoiceField(choices=["annotate", "review"], default="annotate")


class NextSerializer(serializers.Serializer[Any]):
    item = WorkItemSerializer(allow_null=True)
    detail = serializers.CharField(help_text="What happened, for a person.")
    position = serializers.IntegerField(
        allow_null=True, help_text="1-based place of this image in your queue."
    )
    queue_size = serializers.IntegerField(help_text="Images in your queue.")


class AssignSerializer(serializers.Serializer[Any]):
    stage = serializers.ChoiceField(choices=["annotate", "review"], default="annotate")
    images = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        max_length=100_000,
        help_text="Image ids; or leave out and give a state to pick every image in it.",
    )
    state = serializers.ChoiceField(
        choices=WorkState.choices, required=False,
        help_text="Every image in this state (instead of a list of ids).",
    )  # fmt: skip
    to = serializers.CharField(
        required=False, allow_null=True, default=None,
        help_text="Username of the member to give the images to; null takes them back.",
    )  # fmt: skip
    split_among = serializers.ListField(
        child=serializers.CharField(), required=False, max_length=1000,
        help_text="Usernames: the images are split evenly among them, in image order.",
    )  # fmt: skip

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        if ("images" in attrs) == ("state" in attrs):
            raise serializers.ValidationError("Give either images (ids) or a state.")
        if attrs.get("split_among") and attrs.get("to"):
            raise serializers.ValidationError("Give either to or split_among, not both.")
        return attrs


class ActiveTimeSerializer(serializers.Serializer[Any]):
    seconds = serializers.IntegerField(min_value=1, max_value=300)


class EventSerializer(serializers.ModelSerializer[Event]):
    actor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    image = serializers.IntegerField(source="image_id", read_only=True, allow_null=True)

    class Meta:
        model = Event
        fields = [
            "id",
            "at",
            "actor",
            "kind",
            "action",
            "from_state",
            "to_state",
            "image",
            "image_name",
            "detail",
        ]
        read_only_fields = fields


MOVE_ACTIONS = ACTIONS
