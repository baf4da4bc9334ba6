"""Each image's place in the team's workflow, and the log of who did what.

An image moves ``new`` → ``annotating`` (held by one annotator) → ``submitted`` →
``in_review`` (held by one reviewer) → ``accepted``, or ``rejected``: back to its
annotator, who starts it again (``annotating``), fixes it and submits it again. With review
off, submitting accepts. A manager may ``skip`` an image (with a reason) and ``reopen``
any image (back to ``new``). The moves themselves, and who may make them, are in
:mod:`webapp.workflow.rules`; every move is one conditional update on ``version`` (compare
and set), so two people acting on the same image at once cannot both win.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import models
from django.utils import timezone

from webapp.images.models import Image
from webapp.projects.models import Project

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser


class WorkState(models.TextChoices):
    NEW = "new"
    ANNOTATING = "annotating"
    SUBMITTED = "submitted"
    IN_REVIEW = "in_review"
    ACCEPTED = "accepted"
    REJECTED = "rejected"
    SKIPPED = "skipped"


class WorkItemQuerySet(models.QuerySet["WorkItem"]):
    def expired_leases(self, now: Any = None) -> WorkItemQuerySet:
        """Images held (annotating or in review) whose holder has been idle past the
        lease."""
        now = now or timezone.now()
        return self.filter(
            state__in=[WorkState.ANNOTATING, WorkState.IN_REVIEW], lease_expires_at__lt=now
        )

    def queue_of(self, user: AbstractBaseUser) -> WorkItemQuerySet:
        """The images that are this member's to label: given to them, held by them, or
        sent back to them (skipped ones excepted), in image order."""
        return (
            self.filter(models.Q(assignee=user) | models.Q(annotator=user))
            .exclude(state=WorkState.SKIPPED)
            .order_by("image_id")
        )


class WorkItem(models.Model):
    """One image's workflow state. ``annotator``: who holds the image to label it, or
    labelled it last (a rejected image goes back to them); ``reviewer`` likewise for the
    review. ``assignee`` / ``review_assignee``: the member a manager gave the image to,
    for each stage (kept when a lease expires, so the image stays in their queue)."""

    image = models.OneToOneField(
        Image, primary_key=True, on_delete=models.CASCADE, related_name="work"
    )
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="work_items")
    state = models.CharField(max_length=12, choices=WorkState.choices, default=WorkState.NEW)
    annotator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    review_assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    # While held: the holder's lease, renewed by their activity; when it passes, the
    # sweep gives the image back (annotating → new or rejected, in review → submitted).
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    reason = models.TextField(blank=True)  # of the last rejection or skip
    changed_at = models.DateTimeField(default=timezone.now)
    version = models.PositiveIntegerField(default=1)
    # The image's annotations, kept by webapp.workflow.tallies as they are saved and
    # deleted, so that the gallery sorts and filters by it through an index.
    annotation_count = models.IntegerField(default=0)

    objects = WorkItemQuerySet.as_manager()

    class Meta:
        ordering = ["image_id"]
        indexes = [
            models.Index(fields=["project", "state"]),
            models.Index(fields=["project", "assignee", "state"]),
            models.Index(fields=["project", "annotator", "state"]),
            models.Index(fields=["project", "review_assignee", "state"]),
            models.Index(fields=["state", "lease_expires_at"]),
            models.Index(fields=["project", "-annotation_count", "image"]),
        ]

    def __str__(self) -> str:
        return f"{self.image} ({self.state})"

    def lease_until(self, project: Project | None = None) -> Any:
        minutes = (project or self.project).lease_minutes
        return timezone.now() + timedelta(minutes=minutes)

    def describe(self) -> str:
        """Where the image is, for a person: its state and who holds it."""
        name = f"{self.image.original_name!r}"
        who = {
            "annotator": _name(self.annotator),
            "reviewer": _name(self.reviewer),
        }
        match self.state:
            case WorkState.NEW:
                given = f", given to {_name(self.assignee)}" if self.assignee_id else ""
                return f"{name} is new (nobody is labelling it yet{given})"
            case WorkState.ANNOTATING:
                return f"{name} is being labelled by {who['annotator']}"
            case WorkState.SUBMITTED:
                return f"{name} was submitted by {who['annotator']} and waits for review"
            case WorkState.IN_REVIEW:
                return f"{name} is in review by {who['reviewer']}"
            case WorkState.ACCEPTED:
                by = f" by {who['reviewer']}" if self.reviewer_id else ""
                return f"{name} was accepted{by}"
            case WorkState.REJECTED:
                return (
                    f"{name} was rejected by {who['reviewer']} and is back with {who['annotator']}"
                )
            case _:
                because = f": {self.reason}" if self.reason else ""
                return f"{name} was skipped{because}"


def _name(user: Any) -> str:
    return user.get_username() if user is not None else "nobody"


class EventKind(models.TextChoices):
    TRANSITION = "transition"
    ASSIGNED = "assigned"
    ANNOTATION_CREATED = "annotation.created"
    ANNOTATION_EDITED = "annotation.edited"
    ANNOTATION_DELETED = "annotation.deleted"
    ISSUE_OPENED = "issue.opened"
    ISSUE_REPLIED = "issue.replied"
    ISSUE_RESOLVED = "issue.resolved"
    ISSUE_REOPENED = "issue.reopened"


class Event(models.Model):
    """One thing a member did in a project, for the activity feed and the lead's
    figures: a workflow move (``action``, ``from_state`` → ``to_state``, with the
    reason), an assignment, an annotation saved or deleted, an issue opened or answered.
    The image's name is kept so the feed still reads after the image is deleted."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="events")
    image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    image_name = models.CharField(max_length=255, blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    kind = models.CharField(max_length=24, choices=EventKind.choices)
    action = models.CharField(max_length=20, blank=True)
    from_state = models.CharField(max_length=12, blank=True)
    to_state = models.CharField(max_length=12, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["project", "-at"]),
            models.Index(fields=["project", "actor", "-at"]),
            models.Index(fields=["project", "kind", "-at"]),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.action} on {self.image_name}"

    @classmethod
    def record(
        cls,
        kind: str,
        *,
        project: Project | int,
        actor: Any,
        image: Image | None = None,
        **fields: Any,
    ) -> Event:
        project_id = project if isinstance(project, int) else project.pk
        return cls.objects.create(
            project_id=project_id,
            kind=kind,
            actor=actor if getattr(actor, "is_authenticated", False) else None,
            image=image,
            image_name=image.original_name if image is not None else "",
            **fields,
        )


class ActiveTime(models.Model):
    """Seconds a member spent actively labelling or reviewing in a project on one day (UTC),
    measured in the annotator page from real interaction (idle stretches are left out)
    and sent with the page's heartbeats."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    seconds = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user", "day"], name="one_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} on {self.day}: {self.seconds} s"

    @classmethod
    def add(cls, project: Project, user: Any, seconds: int) -> None:
        """Count ``seconds`` more for ``user`` today (one upsert, safe under concurrency)."""
        from django.db.models import F

        day = timezone.now().date()
        row, created = cls.objects.get_or_create(
            project=project, user=user, day=day, defaults={"seconds": seconds}
        )
        if not created:
            cls.objects.filter(pk=row.pk).update(seconds=F("seconds") + seconds)


class AnnotationTally(models.Model):
    """How many annotations of one label class one author made in a project, and the sum
    of their mask areas (image pixels), kept by :mod:`webapp.workflow.tallies` in the
    transaction that changes them, so the dashboard and the project page read a few rows
    instead of counting every annotation.

    A (project, label class, author) may have several rows (two first annotations saved
    at once each add one, and deleting an author turns theirs into author-less rows): the
    figures are the sums over its rows, and a change goes to its lowest row. A single row
    may therefore go negative; the sums never do."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    label_class = models.ForeignKey(
        "projects.LabelClass", on_delete=models.CASCADE, related_name="+"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip
    count = models.IntegerField(default=0)
    area_sum = models.BigIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["project", "label_class", "author"])]

    def __str__(self) -> str:
        return f"{self.count} of {self.label_class_id} by {self.author_id}"


class DailyWork(models.Model):
    """One member's workflow figures in a project on one day (UTC): images they submitted,
    and verdicts on images they labelled (``accepted``, ``rejected``; a submit with review
    off accepts at once and counts as both), written in the transaction of the move."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="+")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    day = models.DateField()
    submitted = models.IntegerField(default=0)
    accepted = models.IntegerField(default=0)
    rejected = models.IntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user", "day"], name="one_work_row_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.project_id} on {self.day}"
