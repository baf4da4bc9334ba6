"""A project's quality rules, versioned, and the results of checking images with them.

Each save of a project's rules makes a new :class:`RuleSetVersion` (the latest is in
force); every :class:`RuleCheck` records the version it ran. A :class:`ProjectCheck` is the
worker's job that checks every image of a project, following the encoding job's shape
(claimed with one conditional update, counts kept on the row).
"""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, models, transaction
from django.db.models import F
from django.utils import timezone

from webapp.core.jobs import MAX_ATTEMPTS
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
                    saved = cls.objects.create(
                        project=project,
                        version=(latest.version if latest else 0) + 1,
                        rules=rules,
                        created_by=user if getattr(user, "is_authenticated", False) else None,
                    )
                    in_force = saved.version if rules else 0
                    Project.objects.filter(pk=project.pk).update(quality_rules_version=in_force)
                    project.quality_rules_version = in_force
                    return saved
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


class ProjectCheckQuerySet(models.QuerySet["ProjectCheck"]):
    def requeue_stuck(self, older_than: timedelta | None = None) -> tuple[list[int], list[int]]:
        """Queued, or running without a sign of life, for longer than ``older_than``
        (default SAMLABEL_STUCK_AFTER_SECONDS): a lost message or a worker that died under
        it. Put back to queued, or failed once a worker died under it
        :data:`~webapp.core.jobs.MAX_ATTEMPTS` times; ``(ids to queue again, ids failed)``.
        Each row moves only if it is still as it was read, so two sweeps never both act."""
        if older_than is None:
            older_than = timedelta(seconds=settings.SAMLABEL_STUCK_AFTER_SECONDS)
        now = timezone.now()
        rows = self.filter(
            state__in=[ProjectCheckState.QUEUED, ProjectCheckState.RUNNING],
            heartbeat_at__lt=now - older_than,
        ).values_list("pk", "state", "heartbeat_at", "attempts")
        requeued: list[int] = []
        failed: list[int] = []
        for pk, state, heartbeat, attempts in rows:
            same = ProjectCheck.objects.filter(pk=pk, state=state, heartbeat_at=heartbeat)
            if attempts >= MAX_ATTEMPTS:
                failure = f"The worker stopped {attempts} times while checking; start it again."
                if same.update(state=ProjectCheckState.FAILED, failure=failure, finished_at=now):
                    failed.append(pk)
            elif same.update(state=ProjectCheckState.QUEUED, heartbeat_at=now):
                requeued.append(pk)
        return requeued, failed


class ProjectCheck(models.Model):
    """A check of every image of a project with one rule set version, on the worker.

    Claimed like the other worker jobs (:meth:`claim`): ``attempts`` counts the claims and
    ``heartbeat_at`` is the last sign of life (creation, claim, each batch); a worker holds
    the job while it is running with the attempts its claim set."""

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
    attempts = models.PositiveIntegerField(default=0)
    heartbeat_at = models.DateTimeField(default=timezone.now)

    objects = ProjectCheckQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def claim(self) -> bool:
        """Queued -> running for this caller, as a new attempt whose earlier results (a
        worker that died under it) are removed; False when someone else has it."""
        now = timezone.now()
        with transaction.atomic():
            claimed = ProjectCheck.objects.filter(
                pk=self.pk, state=ProjectCheckState.QUEUED, attempts=self.attempts
            ).update(
                state=ProjectCheckState.RUNNING,
                attempts=F("attempts") + 1,
                started_at=now,
                heartbeat_at=now,
                images_checked=0,
                images_with_errors=0,
                errors=0,
                warnings=0,
                stopped={},
            )
            if claimed:
                RuleCheck.objects.filter(project_check=self).delete()
        if claimed:
            self.refresh_from_db()
        return bool(claimed)

    def held(self) -> models.QuerySet[ProjectCheck]:
        """This row while this attempt still holds it (not given to another by the sweep)."""
        return ProjectCheck.objects.filter(
            pk=self.pk, state=ProjectCheckState.RUNNING, attempts=self.attempts
        )


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
