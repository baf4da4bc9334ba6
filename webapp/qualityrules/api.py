"""JSON API of quality rules. Any member reads the project's rules (the annotator runs
them in the browser) and an image's check results; managers save rules and start a
whole-project check. Outsiders get 404 (``ProjectRole``)."""

from __future__ import annotations

from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from qualityrules.builtin import BUILTINS
from webapp.core.fields import MAX_ROW_ID
from webapp.images.models import Image
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project
from webapp.qualityrules.checking import warm_for
from webapp.qualityrules.jobs import start_project_check
from webapp.qualityrules.models import ProjectCheck, RuleCheck, RuleSetVersion
from webapp.qualityrules.serializers import (
    ProjectCheckSerializer,
    RuleCheckSerializer,
    RuleErrorsSerializer,
    RuleSetAnswerSerializer,
    RuleSetSerializer,
    RuleSetWriteSerializer,
)
from webapp.qualityrules.validation import clean_rules


class RulesAccess:
    permission_classes = [IsAuthenticated, ProjectRole]
    project: Project
    read_action = Action.VIEW
    write_action = Action.MANAGE


class RuleSetDetail(RulesAccess, APIView):
    """GET: the rules in force (``version`` 0 and no rules when none were saved), with the
    built-ins' names. PUT ``{"rules": [...]}``: validate and store as the next version;
    400 with ``{"errors": [{"rule", "name", "line", "message"}]}`` stores nothing."""

    @extend_schema(responses=RuleSetAnswerSerializer)
    def get(self, request: Request, project_pk: int) -> Response:
        current = RuleSetVersion.current(self.project)
        # The annotator reads the rules as it opens: a submit's check will follow, so the
        # sandbox's spare starts now, in the background (custom rules only).
        warm_for(current)
        body: dict[str, Any] = (
            RuleSetSerializer(current).data
            if current
            else {"version": 0, "rules": [], "created_by": None, "created_at": None}
        )
        body["builtins"] = {name: b.title for name, b in BUILTINS.items()}
        return Response(body)

    @extend_schema(
        request=RuleSetWriteSerializer,
        responses={200: RuleSetSerializer, 400: RuleErrorsSerializer},
    )
    def put(self, request: Request, project_pk: int) -> Response:
        body = RuleSetWriteSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        rules, errors = clean_rules(body.validated_data["rules"])
        if errors:
            return Response({"errors": errors}, status=status.HTTP_400_BAD_REQUEST)
        saved = RuleSetVersion.save_new(self.project, rules, request.user)
        return Response(RuleSetSerializer(saved).data)


class ImageRuleChecks(RulesAccess, APIView):
    """GET: an image's check results, newest first (the reviewer reads the reason an
    annotator gave for submitting despite errors)."""

    @extend_schema(responses=RuleCheckSerializer(many=True))
    def get(self, request: Request, project_pk: int, image_pk: int) -> Response:
        if not 1 <= int(image_pk) <= MAX_ROW_ID:
            raise exceptions.NotFound("No such image.")
        image = get_object_or_404(Image, pk=image_pk, project=self.project)
        checks = RuleCheck.objects.filter(image=image).select_related("checked_by")[:20]
        return Response(RuleCheckSerializer(checks, many=True).data)


class ProjectChecks(RulesAccess, APIView):
    """GET: the project's whole-project checks, newest first. POST: start one with the
    rules in force (managers); 409 when the project has no rules."""

    @extend_schema(responses=ProjectCheckSerializer(many=True))
    def get(self, request: Request, project_pk: int) -> Response:
        checks = ProjectCheck.objects.filter(project=self.project)[:20]
        return Response(ProjectCheckSerializer(checks, many=True).data)

    @extend_schema(request=None, responses={201: ProjectCheckSerializer, 409: OpenApiTypes.OBJECT})
    def post(self, request: Request, project_pk: int) -> Response:
        job = start_project_check(self.project, request.user)
        if job is None:
            return Response(
                {"detail": "The project has no quality rules to check."},
                status=status.HTTP_409_CONFLICT,
            )
        return Response(ProjectCheckSerializer(job).data, status=status.HTTP_201_CREATED)
