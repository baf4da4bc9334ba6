"""JSON API of dataset exports.

Who may do what: any member (viewer and up) may list exports, read one and download its
zip, since an export holds nothing a viewer cannot already read through the API; creating
one takes reviewer or higher, because it costs a worker's time and publishes the
project's data in one file; so do cancelling, retrying and deleting one (anyone's: the
exports are the project's, not their author's). Outsiders get 404 for everything, as for
all project views, and an export id of another project is 404 too.

Deleting an export that is still pending or running cancels it: the row and any file go
at once, and its worker stops at its next progress write without storing anything.
Finished exports are deleted by themselves SAMLABEL_EXPORT_TTL_DAYS after they finish
(``expires_at``).
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema
from rest_framework import generics, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.exports.models import Export, ExportStatus
from webapp.exports.serializers import ExportRequestSerializer, ExportSerializer
from webapp.exports.services import delete_export, retry_export, start_export
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project


class ExportAccess:
    """Reading needs membership (view); creating needs review."""

    permission_classes = [IsAuthenticated, ProjectRole]
    project: Project  # set by ProjectRole
    write_action = Action.REVIEW
    serializer_class = ExportSerializer

    def get_queryset(self) -> QuerySet[Export]:
        return Export.objects.filter(project=self.project)


class ExportList(ExportAccess, generics.ListAPIView[Export]):
    """GET: the project's exports, newest first (any member).
    POST: start an export (reviewer, manager or owner); small ones are written at once
    (201, status ``done``, or ``failed`` with the reason in ``error``), larger ones are
    queued (202, status ``pending``): poll the detail for status and progress."""

    @extend_schema(request=ExportRequestSerializer, responses={201: ExportSerializer})
    def post(self, request: Request, project_pk: int) -> Response:
        serializer = ExportRequestSerializer(
            data=request.data,
            context={"project": self.project},
        )
        serializer.is_valid(raise_exception=True)
        export = start_export(self.project, request.user, serializer.to_options())
        code = status.HTTP_202_ACCEPTED if export.status == ExportStatus.PENDING else 201
        return Response(ExportSerializer(export).data, status=code)


class ExportDetail(ExportAccess, generics.RetrieveDestroyAPIView[Export]):
    """GET: one export's status and progress (any member).
    DELETE: delete it and its zip (reviewer, manager or owner), cancelling it first when
    it is still pending or running (204)."""

    def perform_destroy(self, instance: Export) -> None:
        delete_export(instance)


class ExportCancel(ExportAccess, generics.GenericAPIView[Export]):
    """POST: cancel a pending or running export (reviewer, manager or owner): 200 with
    status ``cancelled``; its worker stops and stores no file. 409 when it is over."""

    @extend_schema(request=None, responses={200: ExportSerializer})
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        export = self.get_object()
        if not Export.objects.cancel(export.pk):
            return _conflict(export, "only a pending or running export can be cancelled")
        export.refresh_from_db()
        return Response(ExportSerializer(export).data)


class ExportRetry(ExportAccess, generics.GenericAPIView[Export]):
    """POST: queue a failed or cancelled export again (reviewer, manager or owner): 202
    with status ``pending``; 409 when it is not failed or cancelled; 503 when the job
    queue cannot be reached (the export stays as it was)."""

    @extend_schema(request=None, responses={202: ExportSerializer})
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        export = self.get_object()
        if not retry_export(export):
            return _conflict(export, "only a failed or cancelled export can be started again")
        return Response(ExportSerializer(export).data, status=status.HTTP_202_ACCEPTED)


def _conflict(export: Export, rule: str) -> Response:
    export.refresh_from_db(fields=["status"])
    return Response(
        {"detail": f"This export is {export.status}: {rule}."}, status=status.HTTP_409_CONFLICT
    )


class ExportDownload(ExportAccess, generics.GenericAPIView[Export]):
    """GET: the export's zip, streamed (any member); 409 while it is not done."""

    def get(self, request: Request, project_pk: int, pk: int) -> Any:
        export = get_object_or_404(self.get_queryset(), pk=pk)
        if export.status != ExportStatus.DONE or not export.file:
            return Response(
                {"detail": f"This export is {export.status}; download it once it is done."},
                status=status.HTTP_409_CONFLICT,
            )
        return FileResponse(
            export.file.open("rb"),
            as_attachment=True,
            filename=export.download_name,
            content_type="application/zip",
        )
