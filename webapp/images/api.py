"""JSON API of images: upload, list, detail, delete, files, embeddings, progress, and
the browser's decoder. Views authorise (through ``ProjectRole``), call one model or
service function, and respond; outsiders get 404 everywhere.

Binary answers (original, thumbnail, embedding, decoder files) are streamed through
Django after the permission check, so MEDIA_ROOT is never served publicly.
"""

from __future__ import annotations

import hashlib
import mimetypes
from typing import Any

from django.db.models import QuerySet
from django.http import FileResponse, HttpResponse, HttpResponseBase
from django.shortcuts import get_object_or_404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import generics, serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.fields import row_id_field
from webapp.images.decoder import (
    BrowserDecoder,
    DecoderMissing,
    browser_decoder,
    missing_decoder_detail,
)
from webapp.images.models import EMBEDDING_DTYPE, EMBEDDING_SHAPE, EncodingStatus, Image
from webapp.images.serializers import ImageSerializer, upload_result_json
from webapp.images.uploads import ingest_upload
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project

IMMUTABLE = "private, max-age=31536000, immutable"


def _etag_matches(request: Request, etag: str) -> bool:
    candidates = request.headers.get("If-None-Match", "")
    return any(c.strip().removeprefix("W/") in (etag, "*") for c in candidates.split(","))


def _not_modified(etag: str, cache_control: str) -> HttpResponse:
    response = HttpResponse(status=status.HTTP_304_NOT_MODIFIED)
    response["ETag"] = etag
    response["Cache-Control"] = cache_control
    return response


class ProjectImagesView:
    """Mixin: the project (set by ``ProjectRole``) and its images."""

    permission_classes = [IsAuthenticated, ProjectRole]
    write_action = Action.MANAGE
    project: Project
    kwargs: dict[str, Any]

    def project_images(self) -> QuerySet[Image]:
        return Image.objects.filter(project=self.project).order_by("id")

    def get_image(self) -> Image:
        return get_object_or_404(self.project_images(), pk=self.kwargs["pk"])


class ImageListView(ProjectImagesView, generics.ListAPIView):
    """GET: the project's images by id, paginated; ``?status=ready``, ``?name=part``,
    ``?annotated=true`` (or ``false``: images with no annotation).

    POST (manager or owner): multipart, one or more ``files``. Each file gets its own
    result: ``created`` (with ``id`` and ``image``), ``duplicate`` (``id`` of the image
    with the same content) or ``rejected`` (``reason``); good files are stored even when
    others are rejected. Status: 201 when at least one file was created; 200 when all
    were duplicates; otherwise 413 when every rejected file was too large, else 400.
    """

    serializer_class = ImageSerializer
    parser_classes = [MultiPartParser, FormParser]

    def get_queryset(self) -> QuerySet[Image]:
        images = self.project_images()
        wanted_status = self.request.query_params.get("status")
        if wanted_status:
            if wanted_status not in EncodingStatus.values:
                raise ValidationError(
                    {"status": f"Use one of: {', '.join(EncodingStatus.values)}."}
                )
            images = images.filter(status=wanted_status)
        name = self.request.query_params.get("name")
        if name:
            # No stored name holds a NUL, and PostgreSQL refuses one in a query (a 500).
            if "\x00" in name:
                raise ValidationError({"name": "A file name cannot contain a NUL character."})
            images = images.filter(original_name__icontains=name)
        annotated = self.request.query_params.get("annotated")
        if annotated:
            if annotated not in ("true", "false"):
                raise ValidationError({"annotated": "Use true or false."})
            images = images.annotated(annotated == "true")
        return images

    def post(self, request: Request, project_pk: int) -> Response:
        uploads = request.FILES.getlist("files")
        if not uploads:
            raise ValidationError({"files": "Choose one or more files to upload."})
        results = [ingest_upload(self.project, upload, request.user) for upload in uploads]
        counts = {
            outcome: sum(r.outcome == outcome for r in results)
            for outcome in ("created", "duplicate", "rejected")
        }
        if counts["created"]:
            code = status.HTTP_201_CREATED
        elif not counts["rejected"]:
            code = status.HTTP_200_OK
        elif all(r.too_large for r in results if r.outcome == "rejected"):
            code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
        else:
            code = status.HTTP_400_BAD_REQUEST
        body = {"results": [upload_result_json(r) for r in results], **counts}
        return Response(body, status=code)


class ImageDetailView(ProjectImagesView, generics.RetrieveDestroyAPIView):
    """GET: one image. DELETE (manager or owner): the image, its embeddings and files."""

    serializer_class = ImageSerializer

    def get_object(self) -> Image:
        return self.get_image()

    def perform_destroy(self, instance: Image) -> None:
        instance.delete_with_files()


class ImageIdsSerializer(serializers.Serializer[Any]):
    ids = serializers.ListField(child=row_id_field(), min_length=1, max_length=1000)


class ImageBulkDeleteView(ProjectImagesView, APIView):
    """POST (manager or owner): ``{"ids": [id, ...]}`` (at most 1000): delete these
    images with their annotations, embeddings and files; answers ``{"deleted": [id, ...]}``.
    400 naming the ids that are not images of this project, and then nothing is deleted.
    """

    @extend_schema(request=ImageIdsSerializer, responses={200: ImageIdsSerializer})
    def post(self, request: Request, project_pk: int) -> Response:
        wanted = ImageIdsSerializer(data=request.data)
        wanted.is_valid(raise_exception=True)
        ids = set(wanted.validated_data["ids"])
        images = self.project_images().filter(pk__in=ids)
        missing = sorted(ids - set(images.values_list("pk", flat=True)))
        if missing:
            listed = ", ".join(str(pk) for pk in missing)
            raise ValidationError({"ids": [f"No image with the id {listed} in this project."]})
        return Response({"deleted": sorted(images.delete_with_files())})


def _stream(field_file: Any, filename: str | None = None) -> FileResponse:
    content_type = mimetypes.guess_type(field_file.name)[0] or "application/octet-stream"
    response = FileResponse(
        field_file.storage.open(field_file.name, "rb"), content_type=content_type
    )
    if filename:
        response["Content-Disposition"] = f'inline; filename="{filename}"'
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


class ImageFileView(ProjectImagesView, APIView):
    """GET: the original file as uploaded (any member)."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request: Request, project_pk: int, pk: int) -> HttpResponseBase:
        image = self.get_image()
        safe_name = image.original_name.replace('"', "")
        return _stream(image.file, safe_name.encode("ascii", "replace").decode())


class ImageDisplayView(ProjectImagesView, APIView):
    """GET: the picture as the annotator shows it and SAM encodes it (any member): a PNG
    drawn upright when the original is in a format browsers do not decode or carries an
    EXIF orientation they may ignore, else the original file."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request: Request, project_pk: int, pk: int) -> HttpResponseBase:
        return _stream(self.get_image().shown_file)


class ImageThumbnailView(ProjectImagesView, APIView):
    """GET: a JPEG whose longest side is 256 pixels (any member)."""

    @extend_schema(responses={200: OpenApiTypes.BINARY})
    def get(self, request: Request, project_pk: int, pk: int) -> HttpResponseBase:
        image = self.get_image()
        if not image.thumbnail:
            return Response({"detail": "This image has no thumbnail."}, status=404)
        return _stream(image.thumbnail)


class ImageEmbeddingView(ProjectImagesView, APIView):
    """GET: SAM's embedding of the image for the project's model (any member).

    Body: the raw little-endian float16 values of a (1, 256, 64, 64) array in C order,
    2,097,152 bytes, ready for ``new Float16Array(buffer)`` or for widening to float32.
    ``ETag`` is the sha256 of the stored embedding; the content never changes for that
    tag, so it is cached as immutable. 409 with the image's status until it is ready.
    """

    @extend_schema(responses={200: OpenApiTypes.BINARY, 304: None, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_pk: int, pk: int) -> HttpResponseBase:
        image = self.get_image()
        embedding = image.embedding_for(self.project.model)
        if image.status != EncodingStatus.READY or embedding is None:
            return Response(
                {
                    "detail": "The embedding of this image is not ready.",
                    "status": image.status,
                    "failure_reason": image.failure_reason,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return embedding_response(request, embedding.sha256, embedding.load)


def embedding_response(request: Request, sha256: str, load: Any) -> HttpResponseBase:
    """A stored (1, 256, 64, 64) embedding as the annotator reads it: little-endian
    float16 bytes, ``ETag`` its sha256, cached as immutable (304 when the client has it).
    ``load()`` gives the array, called only when the bytes are sent."""
    etag = f'"{sha256}"'
    if _etag_matches(request, etag):
        return _not_modified(etag, IMMUTABLE)
    values = load().astype("<f2", copy=False)
    response = HttpResponse(values.tobytes(order="C"), content_type="application/octet-stream")
    response["ETag"] = etag
    response["Cache-Control"] = IMMUTABLE
    response["X-Embedding-Dtype"] = EMBEDDING_DTYPE
    response["X-Embedding-Shape"] = ",".join(str(n) for n in EMBEDDING_SHAPE)
    return response


class ImageProgressView(ProjectImagesView, APIView):
    """GET: ``{"total", "pending", "encoding", "ready", "failed"}`` of the project."""

    @extend_schema(responses={200: {"type": "object", "additionalProperties": {"type": "integer"}}})
    def get(self, request: Request, project_pk: int) -> Response:
        return Response(self.project_images().progress())


class DecoderView(ProjectImagesView, APIView):
    """Mixin: the project's model's browser decoder, or a 503 that says what is missing."""

    def decoder(self) -> BrowserDecoder | Response:
        try:
            return browser_decoder(self.project.model)
        except DecoderMissing as missing:
            return self.unavailable(missing)

    def unavailable(self, missing: DecoderMissing) -> Response:
        model = self.project.model
        response = Response(
            {"detail": missing_decoder_detail(model, missing), "model": model},
            status=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
        response["Retry-After"] = "30"
        response["Cache-Control"] = "no-store"
        return response


class DecoderManifestView(DecoderView):
    """GET: the manifest of the project's model's browser decoder (any member).

    Fetch a file as ``decoder/<file>?sha256=<sha256>`` so that a new build gets a new
    URL: the files themselves are cached as immutable. 503 with a ``detail`` that says
    what is missing and what to run while the files are not built (a build is then
    queued on the worker when the model's weights are here).
    """

    @extend_schema(responses={200: OpenApiTypes.OBJECT, 304: None, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_pk: int) -> HttpResponseBase:
        decoder = self.decoder()
        if isinstance(decoder, Response):
            return decoder
        etag = f'"{hashlib.sha256(decoder.content).hexdigest()}"'
        if _etag_matches(request, etag):
            return _not_modified(etag, "private, no-cache")
        response = HttpResponse(decoder.content, content_type="application/json")
        response["ETag"] = etag
        response["Cache-Control"] = "private, no-cache"
        return response


class DecoderFileView(DecoderView):
    """GET: one ONNX file listed in the manifest's ``decoders`` (any member); 503 as for
    the manifest while the files are not built."""

    @extend_schema(responses={200: OpenApiTypes.BINARY, 304: None, 503: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_pk: int, filename: str) -> HttpResponseBase:
        decoder = self.decoder()
        if isinstance(decoder, Response):
            return decoder
        sha256 = decoder.files.get(filename)
        if sha256 is None:
            return Response({"detail": "No such decoder file."}, status=404)
        etag = f'"{sha256}"'
        if _etag_matches(request, etag):
            return _not_modified(etag, IMMUTABLE)
        try:
            stream = open(decoder.folder / filename, "rb")  # noqa: SIM115 - FileResponse closes it
        except OSError:  # deleted since the manifest was read
            return self.unavailable(
                DecoderMissing(f"the decoder file {filename} of {decoder.model} is missing")
            )
        response = FileResponse(stream, content_type="application/octet-stream")
        response["ETag"] = etag
        response["Cache-Control"] = IMMUTABLE
        return response
