"""JSON API of imports: a manager sends a dataset file; all of it is stored, or nothing."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.imports.datasets import FORMATS, import_dataset
from webapp.imports.problems import ImportRejected, Problem
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project


class ProjectImportView(APIView):
    """POST (manager or owner), multipart: ``file`` (a COCO ``.json``, or a ``.zip`` of a
    COCO or YOLO dataset with its images), ``format`` (``coco`` or ``yolo``, default
    coco), ``create_missing_classes`` (default true).

    201 ``{"images_created", "images_matched", "label_classes_created",
    "annotations_created"}``; 400 ``{"problems": [{"record", "field", "problem"}, ...]}``
    and nothing stored.
    """

    permission_classes = [IsAuthenticated, ProjectRole]
    write_action = Action.MANAGE
    parser_classes = [MultiPartParser, FormParser]
    project: Project

    def post(self, request: Request, **kwargs: Any) -> Response:
        upload = request.FILES.get("file")
        dataset_format = str(request.data.get("format") or "coco").lower()
        create = str(request.data.get("create_missing_classes", "true")).lower()
        problems: list[Problem] = []
        if upload is None:
            problems.append(Problem("request", "file", "send the dataset as the file field"))
        elif not upload.name.lower().endswith((".json", ".zip")):
            problems.append(Problem(upload.name, "file", "send a .json or a .zip file"))
        if dataset_format not in FORMATS:
            problems.append(Problem("request", "format", "format must be coco or yolo"))
        if create not in ("true", "false", "1", "0"):
            problems.append(Problem("request", "create_missing_classes", "must be true or false"))
        if problems:
            return _rejected(problems)
        try:
            counts = import_dataset(
                self.project,
                upload,
                upload.name,
                dataset_format,
                user=request.user,
                create_missing_classes=create in ("true", "1"),
            )
        except ImportRejected as exc:
            return _rejected(exc.problems)
        return Response(counts.as_json(), status=status.HTTP_201_CREATED)


def _rejected(problems: list[Problem]) -> Response:
    return Response(
        {"problems": [p.as_json() for p in problems]}, status=status.HTTP_400_BAD_REQUEST
    )
