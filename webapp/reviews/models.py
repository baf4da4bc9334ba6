"""Review issues pinned to an image, and the history of each annotation.

An :class:`Issue` is a reviewer's remark on one image: pinned to a point of it (``x``,
``y`` in original-image pixels, x to the right, y down, within [0, width] x [0, height]),
to one of its annotations, or to the image as a whole. It has a thread of
:class:`Comment` rows (the first is the remark itself) and is ``open`` or ``resolved``.

Who may do what (``role`` is the member's role in the project):

- reviewers, managers and owners open issues and reopen resolved ones;
- the image's annotator (who holds or last labelled it, or authored one of its
  annotations), reviewers, managers and owners reply to and resolve them: an annotator
  resolves the issues on their own image as they fix it;
- every member reads them; outsiders never learn they exist (the API answers 404).

:class:`AnnotationVersion` keeps every saved state of an annotation (its mask, label class
and prompts, who saved it and when), from version 1 at creation, so a reviewer sees what
changed since the image was last reviewed.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models, transaction
from django.db.models import Count, Q
from django.utils import timezone

from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.projects.models import Action, Project, role_allows
from webapp.workflow.models import Event, EventKind

# Longest comment kept; a thread is for remarks, not documents.
MAX_COMMENT_LENGTH = 5000


class IssueStatus(models.TextChoices):
    OPEN = "open"
    RESOLVED = "resolved"


class IssueRefused(Exception):
    """An issue action the rules refuse; ``status`` is the HTTP status that says why
    (400 for a bad request, 403 for a role or part that does not allow it)."""

    def __init__(self, message: str, status: int = 403) -> None:
        super().__init__(message)
        self.status = status


class IssueQuerySet(models.QuerySet["Issue"]):
    def open(self) -> IssueQuerySet:
        return self.filter(status=IssueStatus.OPEN)

    def of_project(self, project: Project) -> IssueQuerySet:
        return self.filter(project=project)

    def open_counts_by_image(self, project: Project) -> dict[int, int]:
        """``{image_id: open issues}`` for the project's images that have any."""
        rows = (
            self.of_project(project)
            .open()
            .values("image_id")
            .annotate(n=Count("id"))
            .values_list("image_id", "n")
        )
        return dict(rows)

    def counts_by_image(self, project: Project) -> list[dict[str, int]]:
        """``[{"image", "open", "total"}]`` for the project's images that have issues,
        in image order."""
        rows = (
            self.of_project(project)
            .values("image_id")
            .annotate(open=Count("id", filter=Q(status=IssueStatus.OPEN)), total=Count("id"))
            .order_by("image_id")
        )
        return [{"image": r["image_id"], "open": r["open"], "total": r["total"]} for r in rows]

    def counts_for_project(self, project: Project) -> dict[str, int]:
        """``{"open", "resolved", "total"}`` for the whole project."""
        found = self.of_project(project).aggregate(
            open=Count("id", filter=Q(status=IssueStatus.OPEN)), total=Count("id")
        )
        total = found["total"] or 0
        opened = found["open"] or 0
        return {"open": opened, "resolved": total - opened, "total": total}

    def counts_by_member(self, project: Project) -> dict[int, dict[str, int]]:
        """``{user_id: {"open_on_their_images", "total_on_their_images", "opened"}}``:
        issues on the images each member labelled (the image's annotator in the
        workflow) and issues each member opened, for members with any."""
        issues = self.of_project(project)
        counts: dict[int, dict[str, int]] = {}

        def row(user_id: int) -> dict[str, int]:
            return counts.setdefault(
                user_id, {"open_on_their_images": 0, "total_on_their_images": 0, "opened": 0}
            )

        on_images = (
            issues.exclude(image__work__annotator=None)
            .values("image__work__annotator")
            .annotate(open=Count("id", filter=Q(status=IssueStatus.OPEN)), total=Count("id"))
            .order_by()
        )
        for r in on_images:
            mine = row(r["image__work__annotator"])
            mine["open_on_their_images"] = r["open"]
            mine["total_on_their_images"] = r["total"]
        opened = issues.exclude(author=None).values("author").annotate(n=Count("id")).order_by()
        for r in opened:
            row(r["author"])["opened"] = r["n"]
        return counts


class Issue(models.Model):
    """A reviewer's remark on an image, with its thread; see the module's docstring."""

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="issues")
    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="issues")
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="issues"
    )
    # Where it is pinned, in original-image pixels (x right, y down); both or neither.
    x = models.FloatField(null=True, blank=True)
    y = models.FloatField(null=True, blank=True)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    status = models.CharField(max_length=10, choices=IssueStatus.choices, default=IssueStatus.OPEN)
    created_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL,
        related_name="+",
    )  # fmt: skip

    objects = IssueQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["project", "status"]),
            models.Index(fields=["image", "status"]),
            models.Index(fields=["project", "author"]),
        ]

    def __str__(self) -> str:
        return f"issue {self.pk} on {self.image} ({self.status})"

    # --- who may ---

    @staticmethod
    def may_open(role: str | None) -> bool:
        return role_allows(role, Action.REVIEW)

    def may_answer(self, user: Any, role: str | None) -> bool:
        """Reply and resolve: reviewers and up, and the image's own annotator."""
        if role_allows(role, Action.REVIEW):
            return True
        return role_allows(role, Action.ANNOTATE) and is_annotator_of(user, self.image)

    # --- actions ---

    @classmethod
    def open_on(
        cls,
        image: Image,
        *,
        author: Any,
        role: str | None,
        text: str,
        annotation: Annotation | None = None,
        x: float | None = None,
        y: float | None = None,
    ) -> Issue:
        """Open an issue on ``image`` with ``text`` as its first comment, pinned to the
        point (``x``, ``y``) in original-image pixels and/or to ``annotation`` (one of the
        image's). Raises :class:`IssueRefused`."""
        if not cls.may_open(role):
            raise IssueRefused("Only reviewers and managers open issues.")
        if (x is None) != (y is None):
            raise IssueRefused("Give both x and y, or neither.", 400)
        if (
            x is not None
            and y is not None
            and not (0 <= x <= image.width and 0 <= y <= image.height)
        ):
            raise IssueRefused(
                f"The point ({x}, {y}) is outside the image ({image.width}x{image.height} pixels).",
                400,
            )
        if annotation is not None and annotation.image_id != image.pk:
            raise IssueRefused(f"Annotation {annotation.pk} is not on this image.", 400)
        text = _checked_text(text)
        with transaction.atomic():
            issue = cls.objects.create(
                project_id=image.project_id,
                image=image,
                annotation=annotation,
                x=x,
                y=y,
                author=author,
            )
            Comment.objects.create(issue=issue, author=author, text=text)
            issue._record(EventKind.ISSUE_OPENED, author, text=text)
        return issue

    def reply(self, user: Any, role: str | None, text: str) -> Comment:
        if not self.may_answer(user, role):
            raise IssueRefused("Only the image's annotator, reviewers and managers reply.")
        text = _checked_text(text)
        with transaction.atomic():
            comment = Comment.objects.create(issue=self, author=user, text=text)
            self._record(EventKind.ISSUE_REPLIED, user, text=text)
        return comment

    def resolve(self, user: Any, role: str | None) -> None:
        """Mark it resolved (doing nothing if it already is)."""
        if not self.may_answer(user, role):
            raise IssueRefused("Only the image's annotator, reviewers and managers resolve.")
        now = timezone.now()
        with transaction.atomic():
            changed = Issue.objects.filter(pk=self.pk, status=IssueStatus.OPEN).update(
                status=IssueStatus.RESOLVED, resolved_at=now, resolved_by=user
            )
            if changed:
                self._record(EventKind.ISSUE_RESOLVED, user)
        self.refresh_from_db()

    def reopen(self, user: Any, role: str | None) -> None:
        """Open it again (doing nothing if it is open)."""
        if not self.may_open(role):
            raise IssueRefused("Only reviewers and managers reopen issues.")
        with transaction.atomic():
            changed = Issue.objects.filter(pk=self.pk, status=IssueStatus.RESOLVED).update(
                status=IssueStatus.OPEN, resolved_at=None, resolved_by=None
            )
            if changed:
                self._record(EventKind.ISSUE_REOPENED, user)
        self.refresh_from_db()

    def _record(self, kind: str, actor: Any, **detail: Any) -> None:
        detail = {"issue": self.pk, **detail}
        if "text" in detail:
            detail["text"] = detail["text"][:200]
        Event.record(kind, project=self.project_id, actor=actor, image=self.image, detail=detail)


class Comment(models.Model):
    """One message of an issue's thread, oldest first."""

    issue = models.ForeignKey(Issue, on_delete=models.CASCADE, related_name="comments")
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    text = models.TextField()
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"comment {self.pk} on issue {self.issue_id}"


def is_annotator_of(user: Any, image: Image) -> bool:
    """Whether ``user`` labels ``image``: holds it or labelled it last in the workflow, or
    created or last edited one of its annotations."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    work = getattr(image, "work", None)
    if work is not None and work.annotator_id == user.pk:
        return True
    return image.annotations.filter(Q(author=user) | Q(last_editor=user)).exists()


def _checked_text(text: str) -> str:
    text = (text or "").strip()
    if not text:
        raise IssueRefused("Write a comment: the text is empty.", 400)
    if len(text) > MAX_COMMENT_LENGTH:
        raise IssueRefused(f"A comment has at most {MAX_COMMENT_LENGTH} characters.", 400)
    return text


class AnnotationVersion(models.Model):
    """One saved state of an annotation: ``version`` as the annotation had it then, its
    mask (``rle``: compressed COCO RLE at the image's size; ``bbox`` [x, y, width,
    height] and ``area`` in pixels), label class and prompts (original-image pixels),
    who saved it (``editor``) and when (``saved_at``)."""

    annotation = models.ForeignKey(Annotation, on_delete=models.CASCADE, related_name="versions")
    version = models.PositiveIntegerField()
    label_class = models.ForeignKey(
        "projects.LabelClass", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    rle = models.JSONField()
    bbox = models.JSONField()
    area = models.PositiveIntegerField()
    prompts = models.JSONField(default=dict, blank=True)
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    saved_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-version"]
        constraints = [
            models.UniqueConstraint(fields=["annotation", "version"], name="one_row_per_version")
        ]

    def __str__(self) -> str:
        return f"annotation {self.annotation_id} v{self.version}"

    @classmethod
    def record(cls, annotation: Annotation, editor: Any) -> AnnotationVersion:
        """Keep ``annotation`` as it is now (call it right after a save)."""
        return cls.objects.create(
            annotation=annotation,
            version=annotation.version,
            label_class_id=annotation.label_class_id,
            rle=annotation.rle,
            bbox=annotation.bbox,
            area=annotation.area,
            prompts=annotation.prompts,
            editor=editor if getattr(editor, "is_authenticated", False) else None,
            saved_at=annotation.updated_at,
        )
