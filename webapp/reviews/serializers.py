"""JSON shapes of review issues and annotation history."""

from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.core.fields import row_id_field
from webapp.reviews.models import MAX_COMMENT_LENGTH, AnnotationVersion, Comment, Issue


class CommentSerializer(serializers.ModelSerializer[Comment]):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Comment
        fields = ["id", "author", "text", "created_at"]
        read_only_fields = fields


class IssueSerializer(serializers.ModelSerializer[Issue]):
    """An issue; ``x``, ``y``: where it is pinned, in original-image pixels (x right,
    y down), or null; ``text``: its first comment; ``comment_count``: its thread's
    length, the first comment included."""

    image = serializers.IntegerField(source="image_id", read_only=True)
    annotation = serializers.IntegerField(source="annotation_id", read_only=True)
    author = serializers.SlugRelatedField(slug_field="username", read_only=True)
    resolved_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    text = serializers.SerializerMethodField()
    comment_count = serializers.SerializerMethodField()

    class Meta:
        model = Issue
        fields = [
            "id",
            "image",
            "annotation",
            "x",
            "y",
            "author",
            "status",
            "text",
            "comment_count",
            "created_at",
            "resolved_at",
            "resolved_by",
        ]
        read_only_fields = fields

    def get_text(self, issue: Issue) -> str:
        comments = list(issue.comments.all())  # prefetched by the views
        return comments[0].text if comments else ""

    def get_comment_count(self, issue: Issue) -> int:
        return len(issue.comments.all())


class IssueDetailSerializer(IssueSerializer):
    """An issue with its whole thread, oldest comment first."""

    comments = CommentSerializer(many=True, read_only=True)

    class Meta(IssueSerializer.Meta):
        fields = [*IssueSerializer.Meta.fields, "comments"]
        read_only_fields = fields


class IssueOpenSerializer(serializers.Serializer[Any]):
    """What a reviewer sends to open an issue: the image, optionally a point of it
    (``x``, ``y`` in original-image pixels) and/or one of its annotations, and the first
    comment."""

    image = row_id_field()
    annotation = row_id_field(required=False, allow_null=True)
    x = serializers.FloatField(required=False, allow_null=True)
    y = serializers.FloatField(required=False, allow_null=True)
    text = serializers.CharField(max_length=MAX_COMMENT_LENGTH)


class CommentWriteSerializer(serializers.Serializer[Any]):
    text = serializers.CharField(max_length=MAX_COMMENT_LENGTH)


class IssueCountsSerializer(serializers.Serializer[Any]):
    """Issue counts: the project's, per image (images with issues, in image order) and
    per member (issues on the images they labelled, issues they opened)."""

    project = serializers.DictField(child=serializers.IntegerField())
    images = serializers.ListField(child=serializers.DictField(child=serializers.IntegerField()))
    members = serializers.ListField(child=serializers.DictField())


class AnnotationVersionSerializer(serializers.ModelSerializer[AnnotationVersion]):
    """One saved state; ``changed_since_review``: saved after the image's last accept or
    reject (always true when it was never reviewed)."""

    editor = serializers.SlugRelatedField(slug_field="username", read_only=True)
    label_class = serializers.IntegerField(source="label_class_id", read_only=True)
    changed_since_review = serializers.SerializerMethodField()

    class Meta:
        model = AnnotationVersion
        fields = [
            "version",
            "editor",
            "saved_at",
            "label_class",
            "rle",
            "bbox",
            "area",
            "prompts",
            "changed_since_review",
        ]
        read_only_fields = fields

    def get_changed_since_review(self, version: AnnotationVersion) -> bool:
        reviewed_at = self.context.get("reviewed_at")
        return reviewed_at is None or version.saved_at > reviewed_at


class ReviewSerializer(serializers.Serializer[Any]):
    action = serializers.CharField(help_text="accept or reject")
    by = serializers.CharField(allow_null=True)
    at = serializers.DateTimeField()


class AnnotationHistorySerializer(serializers.Serializer[Any]):
    """An annotation's history: who created it and saved it last, the image's last
    review (null when never reviewed) and its versions, newest first."""

    annotation = serializers.IntegerField()
    image = serializers.IntegerField()
    version = serializers.IntegerField(help_text="The annotation's current version.")
    author = serializers.CharField(allow_null=True, help_text="Who created it.")
    last_editor = serializers.CharField(allow_null=True, help_text="Who saved it last.")
    last_review = ReviewSerializer(allow_null=True)
    versions = AnnotationVersionSerializer(many=True)
