"""JSON API of review issues and annotation history.

Any member reads issues, their threads, their counts and an annotation's history; the
actions follow the rules on :class:`webapp.reviews.models.Issue` (reviewers and managers
open and reopen; the image's annotator, reviewers and managers reply and resolve; others
get 403). Outsiders get 404 for everything, as for every view inside a project.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db.models import Prefetch, QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.annotations.models import Annotation
from webapp.core.api_errors import RuleRefused
from webapp.core.fields import row_id_parameter
from webapp.images.models import Image
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project
from webapp.reviews.models import AnnotationVersion, Comment, Issue, IssueRefused, IssueStatus
from webapp.reviews.serializers import (
    AnnotationHistorySerializer,
    AnnotationVersionSerializer,
    CommentSerializer,
    CommentWriteSerializer,
    IssueCountsSerializer,
    IssueDetailSerializer,
    IssueOpenSerializer,
    IssueSerializer,
)
from webapp.workflow.models import Event, EventKind


class ReviewAccess:
    permission_classes = [IsAuthenticated, ProjectRole]
    project: Project  # set by ProjectRole
    # Actions are checked by the rules on Issue; any member may ask.
    write_action = Action.VIEW

    def role(self, request: Request) -> str | None:
        return self.project.role_of(request.user)

    def issues(self) -> QuerySet[Issue]:
        return (
            Issue.objects.filter(project=self.project)
            .select_related("author", "resolved_by", "image__work")
            .prefetch_related(
                Prefetch("comments", queryset=Comment.objects.select_related("author"))
            )
        )

    def issue(self, pk: int) -> Issue:
        return get_object_or_404(self.issues(), pk=pk)


class IssueList(ReviewAccess, generics.ListAPIView[Issue]):
    """GET: the project's issues, newest first; filter with ``?image=<id>``,
    ``?status=open|resolved``, ``?annotation=<id>``, ``?author=<username>`` (the annotator
    page asks ``?image=<id>&status=open`` for the pins of an image sent back to them).
    POST: open an issue (reviewers and managers)."""

    serializer_class = IssueSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("image", int),
            OpenApiParameter("status", str, enum=list(IssueStatus.values)),
            OpenApiParameter("annotation", int),
            OpenApiParameter("author", str),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[Issue]:
        issues = self.issues()
        params = self.request.query_params
        for name in ("image", "annotation"):
            row_id = row_id_parameter(params, name)
            if row_id is not None:
                issues = issues.filter(**{f"{name}_id": row_id})
        wanted = params.get("status")
        if wanted:
            if wanted not in IssueStatus.values:
                raise exceptions.ValidationError(
                    {"status": [f"Use one of: {', '.join(IssueStatus.values)}."]}
                )
            issues = issues.filter(status=wanted)
        if params.get("author"):
            issues = issues.filter(author__username=params["author"])
        return issues

    @extend_schema(request=IssueOpenSerializer, responses={201: IssueDetailSerializer})
    def post(self, request: Request, project_pk: int) -> Response:
        body = IssueOpenSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        image = Image.objects.filter(pk=data["image"], project=self.project).first()
        if image is None:
            raise exceptions.ValidationError({"image": ["No such image in this project."]})
        annotation = None
        if data.get("annotation") is not None:
            annotation = Annotation.objects.filter(pk=data["annotation"], image=image).first()
            if annotation is None:
                raise exceptions.ValidationError(
                    {"annotation": ["No such annotation on this image."]}
                )
        try:
            issue = Issue.open_on(
                image,
                author=request.user,
                role=self.role(request),
                text=data["text"],
                annotation=annotation,
                x=data.get("x"),
                y=data.get("y"),
            )
        except IssueRefused as error:
            raise RuleRefused(error) from None
        return Response(
            IssueDetailSerializer(self.issue(issue.pk)).data, status=status.HTTP_201_CREATED
        )


class IssueDetail(ReviewAccess, APIView):
    """GET: one issue with its whole thread."""

    @extend_schema(responses=IssueDetailSerializer)
    def get(self, request: Request, project_pk: int, pk: int) -> Response:
        return Response(IssueDetailSerializer(self.issue(pk)).data)


class IssueComments(ReviewAccess, APIView):
    """POST: reply to an issue (the image's annotator, reviewers and managers)."""

    @extend_schema(request=CommentWriteSerializer, responses={201: CommentSerializer})
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        issue = self.issue(pk)
        body = CommentWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        try:
            comment = issue.reply(request.user, self.role(request), body.validated_data["text"])
        except IssueRefused as error:
            raise RuleRefused(error) from None
        return Response(CommentSerializer(comment).data, status=status.HTTP_201_CREATED)


class IssueResolve(ReviewAccess, APIView):
    """POST: mark an issue resolved (the image's annotator, reviewers and managers);
    resolving a resolved issue changes nothing."""

    @extend_schema(request=None, responses=IssueDetailSerializer)
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        issue = self.issue(pk)
        try:
            issue.resolve(request.user, self.role(request))
        except IssueRefused as error:
            raise RuleRefused(error) from None
        return Response(IssueDetailSerializer(self.issue(pk)).data)


class IssueReopen(ReviewAccess, APIView):
    """POST: open a resolved issue again (reviewers and managers)."""

    @extend_schema(request=None, responses=IssueDetailSerializer)
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        issue = self.issue(pk)
        try:
            issue.reopen(request.user, self.role(request))
        except IssueRefused as error:
            raise RuleRefused(error) from None
        return Response(IssueDetailSerializer(self.issue(pk)).data)


class IssueCounts(ReviewAccess, APIView):
    """GET: issue counts of the project: ``project`` {open, resolved, total}; ``images``
    [{image, open, total}] for the images with issues (only ``?image=<id>`` when given);
    ``members`` [{username, open_on_their_images, total_on_their_images, opened}]."""

    @extend_schema(parameters=[OpenApiParameter("image", int)], responses=IssueCountsSerializer)
    def get(self, request: Request, project_pk: int) -> Response:
        issues = Issue.objects.all()
        image = row_id_parameter(request.query_params, "image")
        if image is not None:
            issues = issues.filter(image_id=image)
        by_member = Issue.objects.counts_by_member(self.project)
        names = dict(
            get_user_model().objects.filter(pk__in=by_member).values_list("pk", "username")
        )
        members = sorted(
            ({"username": names[pk], **counts} for pk, counts in by_member.items() if pk in names),
            key=lambda row: str(row["username"]),
        )
        return Response(
            {
                "project": Issue.objects.counts_for_project(self.project),
                "images": issues.counts_by_image(self.project),
                "members": members,
            }
        )


class AnnotationHistory(ReviewAccess, APIView):
    """GET: an annotation's versions, newest first, each with who saved it and when;
    ``last_review``: the image's last accept or reject ({action, by, at}, or null), and
    each version says whether it was saved after it (``changed_since_review``)."""

    @extend_schema(responses=AnnotationHistorySerializer)
    def get(self, request: Request, project_pk: int, pk: int) -> Response:
        annotation = get_object_or_404(
            Annotation.objects.select_related("image", "author", "last_editor"),
            pk=pk,
            image__project=self.project,
        )
        versions = list(annotation.versions.select_related("editor"))
        if not versions or versions[0].version != annotation.version:
            # Saved without a history (imported, or before history was kept): its
            # current state still shows, as its last editor left it.
            versions.insert(0, current_version(annotation))
        review = (
            Event.objects.filter(
                project=self.project,
                image=annotation.image,
                kind=EventKind.TRANSITION,
                action__in=["accept", "reject"],
            )
            .select_related("actor")
            .first()
        )
        last_review = (
            {"action": review.action, "by": _username(review.actor), "at": review.at}
            if review is not None
            else None
        )
        context = {"reviewed_at": review.at if review is not None else None}
        return Response(
            {
                "annotation": annotation.pk,
                "image": annotation.image_id,
                "version": annotation.version,
                "author": _username(annotation.author),
                "last_editor": _username(annotation.last_editor),
                "last_review": last_review,
                "versions": AnnotationVersionSerializer(versions, many=True, context=context).data,
            }
        )


def current_version(annotation: Annotation) -> AnnotationVersion:
    """An unsaved version row showing the annotation as it is now."""
    return AnnotationVersion(
        annotation=annotation,
        version=annotation.version,
        label_class_id=annotation.label_class_id,
        rle=annotation.rle,
        bbox=annotation.bbox,
        area=annotation.area,
        prompts=annotation.prompts,
        editor=annotation.last_editor,
        saved_at=annotation.updated_at,
    )


def _username(user: Any) -> str | None:
    return user.get_username() if user is not None else None
