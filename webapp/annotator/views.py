"""The annotator page. The page itself is static; everything it needs (image, embedding,
decoder, annotations) it fetches from the API with the signed-in user's session."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.templatetags.static import static
from django.urls import reverse

from webapp.images.models import Image
from webapp.projects.access import project_for
from webapp.projects.models import Action

PREFETCH = 2  # how many next images' embeddings the page downloads ahead


@login_required
def annotate(request: HttpRequest, project_pk: int, image_pk: int) -> HttpResponse:
    project = project_for(request.user, project_pk, Action.VIEW)
    image = get_object_or_404(Image, pk=image_pk, project=project)
    images = Image.objects.filter(project=project)
    previous = images.filter(pk__lt=image.pk).order_by("-pk").first()
    following = list(images.filter(pk__gt=image.pk).order_by("pk")[: PREFETCH + 1])

    def page(other: Image | None) -> str | None:
        return reverse("annotator:annotate", args=[project.pk, other.pk]) if other else None

    config = {
        "imageUrl": reverse("image-file", args=[project.pk, image.pk]),
        "imageStatusUrl": reverse("image-detail", args=[project.pk, image.pk]),
        "embeddingUrl": reverse("image-embedding", args=[project.pk, image.pk]),
        "manifestUrl": reverse("decoder-manifest", args=[project.pk]),
        "decoderBaseUrl": reverse("decoder-file", args=[project.pk, "f"])[:-1],
        "annotationsUrl": reverse("annotation-list", args=[project.pk, image.pk]),
        "annotationUrlTemplate": reverse("annotation-detail", args=[project.pk, 0]),
        "labelClassesUrl": reverse("labelclass-list", args=[project.pk]),
        "previousUrl": page(previous),
        "nextUrl": page(following[0] if following else None),
        "prefetchEmbeddingUrls": [
            reverse("image-embedding", args=[project.pk, other.pk]) for other in following
        ],
        "workerUrl": static("annotator/decoder.worker.js"),
        "wasmPaths": static("annotator/ort/"),
        "width": image.width,
        "height": image.height,
    }
    response = render(
        request,
        "annotator/annotate.html",
        {
            "project": project,
            "image": image,
            "config": config,
            "can_annotate": project.allows(request.user, Action.ANNOTATE),
        },
    )
    # Cross-origin isolation lets onnxruntime-web use several threads.
    response["Cross-Origin-Opener-Policy"] = "same-origin"
    response["Cross-Origin-Embedder-Policy"] = "require-corp"
    return response
