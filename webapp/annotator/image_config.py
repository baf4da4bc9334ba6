"""What the annotator needs to show one image of a project: the URLs of its file, status,
embedding and annotations, its size, and its neighbours (previous and next pages, the
next images' embeddings to prefetch). The page embeds it for its first image and fetches
it as JSON for each image it switches to without a reload."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from webapp.images.models import Image
from webapp.projects.models import Project

# How many next images' embeddings the page downloads ahead (at least 1: the first of
# them is also the next page). With the current image and the previous one, the decoder
# worker holds them all (KEPT_EMBEDDINGS = 4 in frontend/src/annotator/protocol.ts).
PREFETCH = 2


def image_config(project: Project, image: Image) -> dict[str, Any]:
    """The annotator's configuration for ``image`` of ``project`` (JSON-ready).

    URLs are site-relative; ``width`` and ``height`` are in pixels after EXIF orientation;
    ``embeddingSha256s`` maps embedding URLs to content hashes, for this image and the
    prefetched ones that are already encoded. ``previousUrl``/``nextUrl`` are pages and
    ``previousConfigUrl``/``nextConfigUrl`` this configuration for those images (None at
    either end of the project).
    """
    images = Image.objects.filter(project=project)
    previous = images.filter(pk__lt=image.pk).order_by("-pk").first()
    following = list(images.filter(pk__gt=image.pk).order_by("pk")[:PREFETCH])
    next_image = following[0] if following else None

    def url_of(name: str, other: Image | None) -> str | None:
        return reverse(f"annotator:{name}", args=[project.pk, other.pk]) if other else None

    def embedding_url(other: Image) -> str:
        return reverse("image-embedding", args=[project.pk, other.pk])

    return {
        "imageId": image.pk,
        "imageName": image.original_name,
        "projectName": project.name,
        "pageUrl": url_of("annotate", image),
        "configUrl": url_of("annotate-config", image),
        # The picture as SAM encodes it: a PNG drawn upright for the originals browsers
        # cannot decode or would not turn as Pillow does (webapp.images.uploads).
        "imageUrl": reverse("image-display", args=[project.pk, image.pk]),
        "imageStatusUrl": reverse("image-detail", args=[project.pk, image.pk]),
        "embeddingUrl": embedding_url(image),
        "manifestUrl": reverse("decoder-manifest", args=[project.pk]),
        "decoderBaseUrl": reverse("decoder-file", args=[project.pk, "f"])[:-1],
        "annotationsUrl": reverse("annotation-list", args=[project.pk, image.pk]),
        "annotationUrlTemplate": reverse("annotation-detail", args=[project.pk, 0]),
        "labelClassesUrl": reverse("labelclass-list", args=[project.pk]),
        "previousUrl": url_of("annotate", previous),
        "nextUrl": url_of("annotate", next_image),
        "previousConfigUrl": url_of("annotate-config", previous),
        "nextConfigUrl": url_of("annotate-config", next_image),
        "prefetchEmbeddingUrls": [embedding_url(other) for other in following],
        # Content hashes key the browser's cache of embeddings: reopening an image, or
        # opening one that was prefetched, downloads nothing.
        "embeddingSha256s": {
            embedding_url(other): embedding.sha256
            for other in [image, *following]
            if (embedding := other.embedding_for(project.model)) is not None
        },
        **data_engine_urls(project, image),
        # Mask editing: new masks lose their parts smaller than this (0: none).
        "minIslandPixels": project.min_island_pixels,
        "width": image.width,
        "height": image.height,
    }


def _url_or_none(app: str, name: str, *args: int) -> str | None:
    """``name``'s URL when ``app`` is installed and routes it, else None (the page then
    goes without that part)."""
    if not apps.is_installed(app):
        return None
    try:
        return reverse(name, args=args)
    except NoReverseMatch:
        return None


def data_engine_urls(project: Project, image: Image) -> dict[str, str | bool | None]:
    """The image's mask proposals (listing, the state of their run, accepting one:
    ``…/proposals/0/accept/`` with 0 for its id, accepting all above a predicted IoU) and
    class suggestions for a mask; None for whatever the server does not offer.
    ``proposalsExpected``: the project has proposals on, so the worker makes them once
    the image is encoded (the page waits for them)."""
    proposals = "webapp.proposals"
    return {
        "proposalsUrl": _url_or_none(proposals, "proposal-list", project.pk, image.pk),
        "proposalsStatusUrl": _url_or_none(proposals, "proposal-status", project.pk, image.pk),
        "proposalsExpected": project.proposals_enabled,
        "proposalAcceptUrlTemplate": _url_or_none(
            proposals, "proposal-accept", project.pk, image.pk, 0
        ),
        "proposalsAcceptAllUrl": _url_or_none(
            proposals, "proposal-accept-all", project.pk, image.pk
        ),
        "suggestClassUrl": _url_or_none(
            "webapp.suggestions", "suggest-class", project.pk, image.pk
        ),
    }
