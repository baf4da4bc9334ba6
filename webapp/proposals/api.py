"""JSON API of mask proposals: thin views that authorise, validate, call one service
function and respond.

Who may do what, as for annotations: any member (viewer and up) lists an image's
proposals and reads their status; accepting one, or all above a confidence, makes
annotations and so takes the annotator role or higher, as creating an annotation does.
Asking for proposals costs a worker's time: annotators and reviewers ask for a few images
at once (at most :data:`FEW_IMAGES`, e.g. the one they are labelling and the next ones),
managers and owners for any number, or ``all`` the project's images. Outsiders get 404 for
everything, as for all project views; an image or proposal of another project is 404 too.
"""

from __future__ import annotations

import logging
from typing import Any

from django.shortcuts import get_object_or_404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.annotations.api import annotation_response, may_change, rejected
from webapp.annotations.serializers import AnnotationSerializer
from webapp.annotations.services import AnnotationRejected
from webapp.images.models import Image
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project
from webapp.proposals.models import Proposal, ProposalRun
from webapp.proposals.serializers import (
    AcceptAllSerializer,
    AcceptSerializer,
    GenerateSerializer,
    ProposalRunSerializer,
    ProposalSerializer,
)
from webapp.proposals.services import (
    AlreadyAccepted,
    accept_all,
    accept_proposal,
    open_proposals,
    suggestions_for,
)
from webapp.proposals.tasks import request_proposals

log = logging.getLogger(__name__)

# The most images an annotator or reviewer may ask proposals for in one request.
FEW_IMAGES = 20


class ProposalAccess(APIView):
    """Members read; annotators and up write (ProjectRole)."""

    permission_classes = [IsAuthenticated, ProjectRole]
    write_action = Action.ANNOTATE
    project: Project  # set by ProjectRole

    def image(self) -> Image:
        found: Image = get_object_or_404(
            Image.objects.select_related("project"),
            pk=self.kwargs["image_pk"],
            project=self.project,
        )
        return found


class ImageProposalList(ProposalAccess):
    """GET: the image's proposals nobody accepted yet, most confident first (any member),
    each with the suggested label class when class suggestions know one."""

    @extend_schema(responses={200: ProposalSerializer(many=True)})
    def get(self, request: Request, project_pk: int, image_pk: int) -> Response:
        proposals = list(open_proposals(self.image()))
        suggestions = _suggestions(self.project, proposals)
        body = ProposalSerializer(proposals, many=True, context={"suggestions": suggestions})
        return Response(body.data)


def _suggestions(project: Project, proposals: list[Proposal]) -> dict[int, Any]:
    """{proposal id: suggestion} for those that have one. A failing suggester leaves the
    suggestions out (logged) rather than the proposals."""
    try:
        return suggestions_for(project, proposals)
    except Exception:
        log.exception("class suggestions for the proposals of project %s failed", project.pk)
        return {}


class ImageProposalStatus(ProposalAccess):
    """GET: whether the image's proposals were asked for, are being made, are done (how
    many, in how long) or failed (why) (any member)."""

    @extend_schema(responses={200: ProposalRunSerializer})
    def get(self, request: Request, project_pk: int, image_pk: int) -> Response:
        image = self.image()
        run = ProposalRun.objects.filter(image=image, model=self.project.model).first()
        return Response(ProposalRunSerializer.of(run, self.project.model))


class ProposalAccept(ProposalAccess):
    """POST ``{"label_class": id}``: make an annotation of that class from the proposal
    (annotator and up): 201 with the annotation (``source`` "proposal", ``proposal_id``);
    409 with ``annotation`` when it was accepted before; 404 when it is no longer there
    (the image's proposals were made again)."""

    @extend_schema(request=AcceptSerializer, responses={201: AnnotationSerializer})
    def post(self, request: Request, project_pk: int, image_pk: int, pk: int) -> Response:
        image = self.image()
        proposal = get_object_or_404(Proposal, pk=pk, image=image, model=self.project.model)
        proposal.image = image
        incoming = AcceptSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        may_change(image, request, self.project)
        try:
            annotation = accept_proposal(
                proposal, label_class=incoming.validated_data["label_class"], user=request.user
            )
        except AnnotationRejected as exc:
            raise rejected(exc) from None
        except AlreadyAccepted as done:
            return Response(
                {
                    "detail": "This proposal was accepted already.",
                    "annotation": done.annotation.pk,
                },
                status=status.HTTP_409_CONFLICT,
            )
        return annotation_response(annotation, status.HTTP_201_CREATED)


class ProposalAcceptAll(ProposalAccess):
    """POST ``{"label_class": id, "min_iou": 0.9}``: make annotations of that class from
    every open proposal of the image whose predicted IoU is at least ``min_iou``
    (annotator and up), leaving out those mostly covered by its annotations: 201 with
    ``{"created": n, "skipped_covered": m, "skipped_unsure": 0, "skipped_whole_image": w,
    "annotations": [...]}``, the annotations it made (as the annotations API gives
    them), so that a client can list them and undo the accept-all by deleting exactly
    those; a proposal covering nearly the whole image is left out too (``w``). With
    ``{"suggested": true}`` instead of a class, each proposal gets its suggested class
    where the annotator would pre-select it; ``skipped_unsure`` counts those left open
    without."""

    @extend_schema(
        request=AcceptAllSerializer,
        responses={
            201: inline_serializer(
                "ProposalsAccepted",
                {
                    "created": serializers.IntegerField(),
                    "skipped_covered": serializers.IntegerField(),
                    "skipped_unsure": serializers.IntegerField(),
                    "skipped_whole_image": serializers.IntegerField(),
                    "annotations": AnnotationSerializer(many=True),
                },
            )
        },
    )
    def post(self, request: Request, project_pk: int, image_pk: int) -> Response:
        image = self.image()
        incoming = AcceptAllSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        may_change(image, request, self.project)
        try:
            accepted = accept_all(image, user=request.user, **incoming.validated_data)
        except AnnotationRejected as exc:
            raise rejected(exc) from None
        body = {
            "created": len(accepted.annotations),
            "skipped_covered": accepted.skipped_covered,
            "skipped_unsure": accepted.skipped_unsure,
            "skipped_whole_image": accepted.skipped_whole_image,
            "annotations": AnnotationSerializer(accepted.annotations, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)


class ProposalGenerate(ProposalAccess):
    """POST ``{"images": [id, ...]}`` or ``{"all": true}``: ask the worker for proposals of
    those images, made once each is encoded (annotators and reviewers: at most FEW_IMAGES
    images; managers and owners: any, or all). 202 with ``queued`` (ids) and
    ``unchanged`` (ids whose proposals are done with this server's parameters, or under
    way). A broker that is down is logged: the runs stay pending and the sweep queues them
    within SAMLABEL_STUCK_AFTER_SECONDS."""

    @extend_schema(
        request=GenerateSerializer,
        responses={
            202: inline_serializer(
                "ProposalsQueued",
                {
                    "queued": serializers.ListField(child=serializers.IntegerField()),
                    "unchanged": serializers.ListField(child=serializers.IntegerField()),
                },
            )
        },
    )
    def post(self, request: Request, project_pk: int) -> Response:
        incoming = GenerateSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        wanted: list[int] | None = incoming.validated_data.get("images")
        many = wanted is None or len(set(wanted)) > FEW_IMAGES
        if many and not self.project.allows(request.user, Action.MANAGE):
            raise PermissionDenied(
                f"Annotators and reviewers ask for proposals of at most {FEW_IMAGES} images "
                "at once; managers and owners for more."
            )
        images = Image.objects.filter(project=self.project).select_related("project")
        if wanted is not None:
            images = images.filter(pk__in=wanted)
            unknown = sorted(set(wanted) - set(images.values_list("pk", flat=True)))
            if unknown:
                raise ValidationError({"images": [f"this project has no images {unknown}"]})
        queued, unchanged = request_proposals(images.iterator())
        return Response({"queued": queued, "unchanged": unchanged}, status=status.HTTP_202_ACCEPTED)
