from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.qualityrules.models import ProjectCheck, RuleCheck, RuleSetVersion


class RuleSetSerializer(serializers.ModelSerializer[RuleSetVersion]):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = RuleSetVersion
        fields = ["version", "rules", "created_by", "created_at"]


class RuleSetWriteSerializer(serializers.Serializer[Any]):
    rules = serializers.JSONField(
        help_text='[{"name", "builtin", "params"} | {"name", "source"}], see qualityrules.'
    )


class RuleCheckSerializer(serializers.ModelSerializer[RuleCheck]):
    checked_by = serializers.CharField(source="checked_by.username", default=None)

    class Meta:
        model = RuleCheck
        fields = [
            "id", "image", "kind", "ruleset_version", "problems", "errors", "warnings",
            "reason", "checked_by", "created_at",
        ]  # fmt: skip


class ProjectCheckSerializer(serializers.ModelSerializer[ProjectCheck]):
    class Meta:
        model = ProjectCheck
        fields = [
            "id", "ruleset_version", "state", "images_total", "images_checked",
            "images_with_errors", "errors", "warnings", "stopped", "failure",
            "created_at", "started_at", "finished_at",
        ]  # fmt: skip
