"""JSON API of crop embeddings: ask for the crop of a window of a large image, follow its
encoding, fetch its embedding. Anyone who may read the image may ask (the crop is a
finer view of what they can already read); outsiders get 404 everywhere.
"""

from __future__ import annotations

from typing import Any

from django.http import HttpResponseBase
from django.shortcuts import get_object_or_404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from inference.crops import CropRefused, crop_box_for
from webapp.crops.models import CropEmbedding, CropStatus
from webapp.crops.tasks import queue_crop
from webapp.images.api import embedding_response
from webapp.images.models import Image
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project


class CropWindowSerializer(serializers.Serializer[Any]):
    """The window on screen: [x0, y0, x1, y1] in the image's pixels."""

    box = serializers.ListField(child=serializers.FloatField(), min_length=4, max_length=4)


def crop_json(crop: CropEmbedding) -> dict[str, Any]:
    """A crop as the API shows it: ``box`` [x0, y0, x1, y1] in original pixels (the
    crop's frame starts at x0, y0), ``status`` (pending, running, done, failed),
    ``error``, and once done ``sha256`` and ``embedding_url``."""
    image = crop.image
    args = [image.project_id, image.pk, crop.pk]
    done = crop.status == CropStatus.DONE
    return {
        "id": crop.pk,
        "image": image.pk,
        "model": crop.model,
        "box": crop.box.as_list(),
        "width": crop.box.width,
        "height": crop.box.height,
        "status": crop.status,
        "error": crop.error,
        "url": reverse("crop-detail", args=args),
        "embedding_url": reverse("crop-embedding", args=args) if done else None,
        "sha256": crop.sha256 if done else None,
    }


class ImageCropsView(APIView):
    """Mixin: the project (set by ``ProjectRole``, reading for every method) and the image."""

    permission_classes = [IsAuthenticated, ProjectRole]
    read_action = Action.VIEW
    write_action = Action.VIEW
    project: Project

    def get_image(self) -> Image:
        return get_object_or_404(Image.objects.filter(project=self.project), pk=self.kwargs["pk"])

    def get_crop(self) -> CropEmbedding:
        crops = CropEmbedding.objects.filter(image=self.get_image()).select_related("image")
        return get_object_or_404(crops, pk=self.kwargs["crop_pk"])


class CropListView(ImageCropsView):
    """POST ``{"box": [x0, y0, x1, y1]}``, the window on screen in the image's pixels: the
    crop that holds it (snapped to a 256-pixel grid, at least 1024 pixels square, see
    ``inference/crops.py``), found or made, and queued for encoding ahead of the bulk
    encoding of uploads. 201 when this request queued it (new, or failed before), 200
    when it was there already (pending, running or done). 400 with the reason for a
    window that gets no crop (the image is not large, the window is too large or
    outside the image)."""

    @extend_schema(request=CropWindowSerializer, responses={200: OpenApiTypes.OBJECT})
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        image = self.get_image()
        window = CropWindowSerializer(data=request.data)
        window.is_valid(raise_exception=True)
        try:
            box = crop_box_for(window.validated_data["box"], image.width, image.height)
        except CropRefused as exc:
            raise ValidationError({"box": [str(exc)]}) from None
        # Each write of request() commits on its own (no request-wide transaction), so the
        # row is there for the worker when the message is sent.
        crop, queued = CropEmbedding.request(image, box)
        if queued:
            queue_crop(crop.pk)
        crop.image = image
        return Response(crop_json(crop), status=201 if queued else 200)


class CropDetailView(ImageCropsView):
    """GET: one crop of the image (its state, and where its embedding is once done)."""

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_pk: int, pk: int, crop_pk: int) -> Response:
        response = Response(crop_json(self.get_crop()))
        response["Cache-Control"] = "no-store"
        return response


class CropEmbeddingView(ImageCropsView):
    """GET: the crop's embedding, in the format of the image's (``.../embedding``): the
    raw little-endian float16 values of a (1, 256, 64, 64) array in C order, in the
    crop's own model frame. ``ETag`` is its sha256, cached as immutable; 409 with the
    crop's status until it is done. Each answer (a 304 too) counts as a use of the crop,
    which keeps it from expiring."""

    @extend_schema(responses={200: OpenApiTypes.BINARY, 304: None, 409: OpenApiTypes.OBJECT})
    def get(self, request: Request, project_pk: int, pk: int, crop_pk: int) -> HttpResponseBase:
        crop = self.get_crop()
        if crop.status != CropStatus.DONE or not crop.file:
            return Response(
                {
                    "detail": "The embedding of this crop is not ready.",
                    "status": crop.status,
                    "error": crop.error,
                },
                status=status.HTTP_409_CONFLICT,
            )
        crop.mark_used()
        return embedding_response(request, crop.sha256, crop.load)
