"""JSON API of the project gallery: one page of images with their workflow state,
assignee and annotation count, filtered and sorted as the project page's gallery is
(:mod:`webapp.workflow.gallery`). Any member reads it; outsiders get 404."""

from __future__ import annotations

from typing import Any

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import exceptions, serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.projects.access import ProjectRole
from webapp.projects.models import Project
from webapp.workflow.gallery import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    SORTS,
    GalleryQuery,
    gallery_page,
    page_number,
)
from webapp.workflow.models import WorkState


class GalleryImageSerializer(serializers.Serializer[Any]):
    """Documents one image of a gallery page."""

    id = serializers.IntegerField()
    original_name = serializers.CharField()
    status = serializers.CharField()
    failure_reason = serializers.CharField()
    thumbnail_url = serializers.CharField(allow_null=True)
    annotate_url = serializers.CharField()
    width = serializers.IntegerField()
    height = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    state = serializers.ChoiceField(choices=WorkState.choices)
    assignee = serializers.CharField(allow_null=True)
    annotator = serializers.CharField(allow_null=True)
    reviewer = serializers.CharField(allow_null=True)
    annotation_count = serializers.IntegerField()
    open_issues = serializers.IntegerField(
        required=False, help_text="Only when review issues exist on this server."
    )


def url_maker(name: str, project: Project) -> Any:
    """A function ``id -> URL`` of the route ``name`` for this project's images, reversed
    once rather than once per row."""
    template = reverse(name, kwargs={"project_pk": project.pk, "pk": 999999999})
    head, tail = template.split("999999999")
    return lambda pk: f"{head}{pk}{tail}"


def image_json(rows: list[dict[str, Any]], project: Project) -> list[dict[str, Any]]:
    thumbnail = url_maker("image-thumbnail", project)
    annotate_template = reverse("annotator:annotate", args=[project.pk, 999999999])
    head, tail = annotate_template.split("999999999")
    out = []
    for row in rows:
        item = dict(row)
        item["thumbnail_url"] = thumbnail(row["id"]) if item.pop("thumbnail") else None
        item["annotate_url"] = f"{head}{row['id']}{tail}"
        out.append(item)
    return out


class GalleryView(APIView):
    """GET: one page of the project's images for the gallery, with their workflow state,
    assignee, annotator and annotation count. Filters: ``name``, ``status``,
    ``annotated``, ``state``, ``assignee`` (username, or ``:none``), ``label`` (label
    class id), ``issues=open``; ``sort``; ``page`` (1-based) and ``page_size`` (at most
    200). Answers ``{"count", "page", "pages", "page_size", "results"}``; a page past the
    last answers the last."""

    permission_classes = [IsAuthenticated, ProjectRole]
    project: Project  # set by ProjectRole

    @extend_schema(
        parameters=[
            OpenApiParameter("name", str),
            OpenApiParameter("status", str),
            OpenApiParameter("annotated", bool),
            OpenApiParameter("state", str, enum=list(WorkState.values)),
            OpenApiParameter("assignee", str),
            OpenApiParameter("label", int),
            OpenApiParameter("issues", str, enum=["open"]),
            OpenApiParameter("sort", str, enum=list(SORTS)),
            OpenApiParameter("page", int),
            OpenApiParameter("page_size", int),
        ],
        responses=inline_serializer(
            "GalleryPage",
            {
                "count": serializers.IntegerField(),
                "page": serializers.IntegerField(),
                "pages": serializers.IntegerField(),
                "page_size": serializers.IntegerField(),
                "results": GalleryImageSerializer(many=True),
            },
        ),
    )
    def get(self, request: Request, project_pk: int) -> Response:
        query = GalleryQuery(request.query_params, self.project)
        if not query.is_valid():
            raise exceptions.ValidationError(query.errors)
        size = min(
            page_number(request.query_params.get("page_size"), DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE
        )
        page = gallery_page(
            self.project, query, page_number(request.query_params.get("page")), size
        )
        return Response(
            {
                "count": page.count,
                "page": page.number,
                "pages": page.num_pages,
                "page_size": page.size,
                "results": image_json(page.rows, self.project),
            }
        )
