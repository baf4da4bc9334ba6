"""JSON API of dataset imports: a manager sends a dataset file; all of it is stored, or
nothing. Small files are imported during the request; larger ones by a worker, whose
progress the import's status row shows.

Who may do what: managers and owners start imports, and cancel, retry and delete them;
any member may list them and read one's status (they hold counts and problems, nothing a
viewer cannot already read). Outsiders get 404 for everything, and an import id of
another project is 404 too.

Deleting an import removes its record and its stored upload, never the images and
annotations it brought in. One still pending or running is cancelled by the delete: its
worker stops at its next progress write and stores nothing (one already recording its
success finishes, and only its record goes).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.imports.formats import FORMATS
from webapp.imports.models import DatasetImport, ImportStatus
from webapp.imports.problems import Problem
from webapp.imports.serializers import DatasetImportSerializer
from webapp.imports.services import retry_import, start_import
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project


class ImportAccess:
    """Reading needs membership (view); starting an import needs manage."""

    permission_classes = [IsAuthenticated, ProjectRole]
    write_action = Action.MANAGE
    serializer_class = DatasetImportSerializer
    project: Project  # set by ProjectRole

    def get_queryset(self) -> QuerySet[DatasetImport]:
        return DatasetImport.objects.filter(project=self.project)


class ProjectImportView(ImportAccess, generics.ListAPIView[DatasetImport]):
    """GET: the project's imports, newest first (any member).

    POST (manager or owner), multipart: ``file`` (a COCO ``.json``, or a ``.zip`` of a
    COCO or YOLO dataset with its images), ``format`` (``coco`` or ``yolo``, default
    coco), ``create_missing_classes`` (default true). A small file is imported at once:
    201 with status ``done`` and the counts in ``result``, or 400 with status ``failed``
    and ``problems`` ``[{"record", "field", "problem"}, ...]`` (nothing stored). A larger
    one is queued: 202 with status ``pending``; poll the import's ``url``.
    """

    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        responses={
            201: DatasetImportSerializer,
            202: DatasetImportSerializer,
            400: OpenApiResponse(description="the problems; nothing stored"),
        }
    )
    def post(self, request: Request, **kwargs: Any) -> Response:
        upload = request.FILES.get("file")
        dataset_format = str(request.data.get("format") or "coco").lower()
        create = str(request.data.get("create_missing_classes", "true")).lower()
        problems: list[Problem] = []
        if upload is None:
            problems.append(Problem("request", "file", "send the dataset as the file field"))
        elif not (upload.name or "").lower().endswith((".json", ".zip")):
            problems.append(Problem(upload.name or "file", "file", "send a .json or a .zip file"))
        if dataset_format not in FORMATS:
            problems.append(Problem("request", "format", f"format must be {' or '.join(FORMATS)}"))
        if create not in ("true", "false", "1", "0"):
            problems.append(Problem("request", "create_missing_classes", "must be true or false"))
        if problems or upload is None:
            return Response(
                {"problems": [p.as_json() for p in problems]}, status=status.HTTP_400_BAD_REQUEST
            )
        dataset_import = start_import(
            self.project,
            request.user,
            upload,
            dataset_format,
            create_missing_classes=create in ("true", "1"),
        )
        body = DatasetImportSerializer(dataset_import).data
        if dataset_import.status == ImportStatus.DONE:
            return Response(body, status=status.HTTP_201_CREATED)
        if dataset_import.status == ImportStatus.PENDING:
            return Response(body, status=status.HTTP_202_ACCEPTED)
        if dataset_import.failed_on_our_side:
            return Response(body, status=status.HTTP_500_INTERNAL_SERVER_ERROR)
        return Response(body, status=status.HTTP_400_BAD_REQUEST)


class ImportDetail(ImportAccess, generics.RetrieveDestroyAPIView[DatasetImport]):
    """GET: one import's status, progress, result or problems (any member).
    DELETE: delete its record and stored upload (manager or owner), cancelling it first
    when it is still pending or running (204); the images it brought in stay."""

    lookup_url_kwarg = "import_pk"

    def perform_destroy(self, instance: DatasetImport) -> None:
        instance.delete_with_upload()


class ImportCancel(ImportAccess, generics.GenericAPIView[DatasetImport]):
    """POST: cancel a pending or running import (manager or owner): 200 with status
    ``cancelled``, nothing of the dataset stored; 409 when it is over."""

    lookup_url_kwarg = "import_pk"

    @extend_schema(request=None, responses={200: DatasetImportSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        dataset_import = self.get_object()
        if not DatasetImport.objects.cancel(dataset_import.pk):
            return _conflict(dataset_import, "only a pending or running import can be cancelled")
        dataset_import.refresh_from_db()
        return Response(DatasetImportSerializer(dataset_import).data)


class ImportRetry(ImportAccess, generics.GenericAPIView[DatasetImport]):
    """POST: start a cancelled import, or one that failed on our side, again from its
    kept upload (manager or owner): 202 with status ``pending``. 409 when it is not
    cancelled or failed on our side, or its upload is no longer kept (send the file
    again); 503 when the job queue cannot be reached (the import stays as it was)."""

    lookup_url_kwarg = "import_pk"

    @extend_schema(request=None, responses={202: DatasetImportSerializer})
    def post(self, request: Request, **kwargs: Any) -> Response:
        dataset_import = self.get_object()
        if not retry_import(dataset_import):
            return _conflict(
                dataset_import,
                "only a cancelled import, or one that failed on the server's side, whose "
                "upload is still kept can be started again; otherwise send the file again",
            )
        return Response(
            DatasetImportSerializer(dataset_import).data, status=status.HTTP_202_ACCEPTED
        )


def _conflict(dataset_import: DatasetImport, rule: str) -> Response:
    dataset_import.refresh_from_db(fields=["status"])
    return Response(
        {"detail": f"This import is {dataset_import.status}: {rule}."},
        status=status.HTTP_409_CONFLICT,
    )
