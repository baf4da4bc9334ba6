from __future__ import annotations

from typing import Any

from rest_framework import serializers

from webapp.qualityrules.models import ProjectCheck, RuleCheck, RuleSetVersion


class RuleSetSerializer(serializers.ModelSerializer[RuleSetVersion]):
    created_by = serializers.CharField(source="created_by.username", default=None)

    class Meta:
        model = RuleSetVersion
        fields = ["version", "rules", "created_by", "created_at"]


class RuleSetAnswerSerializer(RuleSetSerializer):
    """The rules in force as GET answers them: version 0 and no rules when none were
    saved, with the built-in rules' titles by name."""

    builtins = serializers.DictField(child=serializers.CharField(), read_only=True)

    class Meta(RuleSetSerializer.Meta):
        fields = [*RuleSetSerializer.Meta.fields, "builtins"]


class RuleErrorsSerializer(serializers.Serializer[Any]):
    """A refused rule set: each problem with the rule's index and name, and the line of
    its source where there is one."""

    errors = serializers.ListField(child=serializers.DictField())


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
