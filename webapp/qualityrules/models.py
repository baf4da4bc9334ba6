"""A project's quality rules, versioned, and the results of checking images with them.

Each save of a project's rules makes a new :class:`RuleSetVersion` (the latest is in
force); every :class:`RuleCheck` records the version it ran. A :class:`ProjectCheck` is the
worker's job that checks every image of a project, following the encoding job's shape
(claimed with one conditional update, counts kept on the row).
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction

from webapp.images.models import Image
from webapp.projects.models import Project


class RuleSetVersion(models.Model):
    """``rules``: the spec's list, ``[{"name", "builtin", "params"} | {"name", "source"}]``
    (see :mod:`qualityrules.ruleset`), validated before it is stored."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rule_sets")
    version = models.PositiveIntegerField()
    rules = models.JSONField(default=list)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["project", "version"], name="one_rule_set_version")
        ]

    def spec(self) -> dict[str, Any]:
        return {"version": self.version, "rules": self.rules}

    @classmethod
    def current(cls, project: Project | int) -> RuleSetVersion | None:
        pk = project if isinstance(project, int) else project.pk
        return cls.objects.filter(project_id=pk).order_by("-version").first()

    @classmethod
    def save_new(cls, project: Project, rules: list[dict[str, Any]], user: Any) -> RuleSetVersion:
        """Store ``rules`` (already validated) as the project's next version; two saves at
        once get consecutive versions (the unique constraint settles a race: retry)."""
        for _ in range(5):
            latest = cls.current(project)
            try:
                with transaction.atomic():
                    return cls.objects.create(
                        project=project,
                        version=(latest.version if latest else 0) + 1,
                        rules=rules,
                        created_by=user if getattr(user, "is_authenticated", False) else None,
                    )
            except IntegrityError:
                continue
        raise RuntimeError("could not store the rules: too many saves at once")


class CheckKind(models.TextChoices):
    SUBMIT = "submit"
    ACCEPT = "accept"
    PROJECT = "project"  # a whole-project check on the worker
    MANUAL = "manual"  # asked for through the API


class ProjectCheckState(models.TextChoices):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class ProjectCheck(models.Model):
    """A check of every image of a project with one rule set version, on the worker."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="rule_checks")
    ruleset_version = models.PositiveIntegerField()
    state = models.CharField(
        max_length=10, choices=ProjectCheckState.choices, default=ProjectCheckState.QUEUED
    )
    images_total = models.PositiveIntegerField(default=0)
    images_checked = models.PositiveIntegerField(default=0)
    images_with_errors = models.PositiveIntegerField(default=0)
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    # Rule name -> why the sandbox stopped it (time, memory, output).
    stopped = models.JSONField(default=dict, blank=True)
    failure = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]


class RuleCheck(models.Model):
    """The problems one image had under one rule set version: ``problems`` is a list of
    ``{"rule", "severity", "message", "annotation_ids"}``. ``reason`` is what the person
    who submitted or accepted the image despite its errors wrote (the reviewer reads it)."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="rule_checks")
    project_check = models.ForeignKey(
        ProjectCheck, null=True, blank=True, on_delete=models.CASCADE, related_name="results"
    )
    kind = models.CharField(max_length=10, choices=CheckKind.choices)
    ruleset_version = models.PositiveIntegerField()
    problems = models.JSONField(default=list)
    errors = models.PositiveIntegerField(default=0)
    warnings = models.PositiveIntegerField(default=0)
    reason = models.TextField(blank=True)
    checked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["image", "-created_at"])]
