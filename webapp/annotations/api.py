"""JSON API of annotations: thin views that authorise, check preconditions, call one
service function and respond.

Edits are optimistic: every annotation has a ``version``, sent as ``ETag: "<version>"``.
A PATCH must name the version it edits (``If-Match: "<version>"`` or a ``version`` field):
without one the answer is 428, and if someone else saved first it is 409 with their
annotation in the body, so nobody's work is silently overwritten.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import ValidationError
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response

from webapp.annotations.models import Annotation, VersionConflict
from webapp.annotations.serializers import (
    MAX_VERSION,
    AnnotationMergeSerializer,
    AnnotationSerializer,
    AnnotationUnmergeResultSerializer,
    AnnotationUnmergeSerializer,
    AnnotationWriteSerializer,
    annotation_body,
)
from webapp.annotations.services import (
    AlreadyRestored,
    AnnotationRejected,
    MergeConflict,
    create_annotation,
    delete_annotation,
    edit_annotation,
    merge_annotations,
    unmerge_annotations,
)
from webapp.core.api_errors import RuleRefused
from webapp.core.fields import row_id_parameter
from webapp.images.models import Image
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action
from webapp.workflow.guard import EditRefused, claim_for_edit

# ASCII digits only (\d would take any script's), and no more than a version can have.
_ENTITY_TAG = re.compile(r'^\s*"([0-9]{1,10})"\s*$')


def etag(annotation: Annotation) -> str:
    return f'"{annotation.version}"'


def annotation_response(annotation: Annotation, status_code: int = status.HTTP_200_OK) -> Response:
    body = annotation_body(annotation)
    return Response(body, status=status_code, headers={"ETag": etag(annotation)})


def conflict_response(current: Annotation) -> Response:
    """409 with the annotation as it is now, so the client can merge and retry."""
    body = annotation_body(current)
    body["detail"] = (
        f"This annotation was changed by someone else; it is now at version {current.version}. "
        "Nothing was saved: apply your change to this version and send it again."
    )
    return Response(body, status=status.HTTP_409_CONFLICT, headers={"ETag": etag(current)})


def changed_response(changed: Sequence[Annotation], outcome: str) -> Response:
    """409 of a step on several annotations (merge, unmerge) that some changed meanwhile:
    the body and ETag of the first as a 409 of an edit, ``changed`` the ids of all, and a
    detail naming each, then ``outcome`` ("Nothing was merged.")."""
    response = conflict_response(changed[0])
    response.data["changed"] = [a.pk for a in changed]
    response.data["detail"] = " ".join(
        [
            *(
                f"Annotation {a.pk} was changed by someone else; it is now at version {a.version}."
                for a in changed
            ),
            outcome,
        ]
    )
    return response


def gone_response(detail: str) -> Response:
    """409 when an annotation a step needs was deleted meanwhile."""
    return Response({"detail": detail}, status=status.HTTP_409_CONFLICT)


def rejected(exc: AnnotationRejected) -> ValidationError:
    return ValidationError({exc.field: [exc.message]})


def expected_version(request: Request) -> int | None:
    """The version the client says it edits: ``If-Match: "<version>"`` or a ``version``
    field in the body (they must agree when both are given); None when neither is."""
    from_header: int | None = None
    header = request.headers.get("If-Match")
    if header is not None:
        match = _ENTITY_TAG.match(header)
        if not match:
            raise ValidationError(
                {"If-Match": [f'If-Match must be one version in quotes, as "3", not {header!r}']}
            )
        from_header = int(match.group(1))
        if from_header > MAX_VERSION:
            raise ValidationError({"If-Match": [f"no annotation reaches version {header}"]})
    from_body: int | None = None
    if isinstance(request.data, dict) and request.data.get("version") is not None:
        field = AnnotationWriteSerializer().fields["version"]
        try:
            from_body = field.run_validation(request.data["version"])
        except ValidationError as exc:
            raise ValidationError({"version": exc.detail}) from None
    if from_header is not None and from_body is not None and from_header != from_body:
        raise ValidationError({"version": ["the version field and If-Match disagree"]})
    return from_header if from_header is not None else from_body


class AnnotationAccess:
    """Members read; annotators, reviewers, managers and owners write (ProjectRole), on
    the images the workflow lets them change now (webapp/workflow/guard.py)."""

    permission_classes = [IsAuthenticated, ProjectRole]
    write_action = Action.ANNOTATE
    serializer_class = AnnotationSerializer
    kwargs: dict[str, Any]
    project: Any  # set by ProjectRole
    request: Request

    def may_change(self, image: Image) -> None:
        may_change(image, self.request, self.project)

    def annotation_in_project(self, pk: int) -> Annotation:
        """Annotation ``pk`` of this project with its image and people, or 404."""
        return get_object_or_404(
            Annotation.objects.select_related("image", "author", "last_editor"),
            pk=pk,
            image__project=self.project,
        )


def may_change(image: Image, request: Request, project: Any) -> None:
    """Raise 409 (or 403) unless the workflow lets the requester change ``image``'s
    annotations now (webapp/workflow/guard.py); saving may start the image for them.
    Every path that changes annotations (saves, edits, deletes, accepted proposals)
    asks this."""
    try:
        claim_for_edit(image, request.user, project.role_of(request.user), project)
    except EditRefused as refused:
        raise RuleRefused(refused) from None


class ImageAnnotationList(AnnotationAccess, generics.GenericAPIView[Annotation]):
    """All annotations of one image (not paginated: the annotator draws them all), and
    creating one."""

    # For the browsable API's forms and the schema; requests read the image's own.
    queryset = Annotation.objects.none()

    def image(self) -> Image:
        return get_object_or_404(Image, pk=self.kwargs["image_pk"], project=self.project)

    def get(self, request: Request, project_pk: int, image_pk: int) -> Response:
        annotations = self.image().annotations.select_related("author", "last_editor")
        return Response([annotation_body(annotation) for annotation in annotations])

    @extend_schema(request=AnnotationWriteSerializer, responses={201: AnnotationSerializer})
    def post(self, request: Request, project_pk: int, image_pk: int) -> Response:
        image = self.image()
        incoming = AnnotationWriteSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = dict(incoming.validated_data)
        data.pop("version", None)
        self.may_change(image)
        try:
            annotation = create_annotation(image, author=request.user, **data)
        except AnnotationRejected as exc:
            raise rejected(exc) from None
        return annotation_response(annotation, status.HTTP_201_CREATED)


class ProjectAnnotationList(AnnotationAccess, generics.ListAPIView[Annotation]):
    """A project's annotations, paginated, optionally only of ``?image=<id>`` and
    ``?label_class=<id>``."""

    http_method_names = ["get", "head", "options"]

    def get_queryset(self) -> QuerySet[Annotation]:
        annotations = Annotation.objects.filter(image__project=self.project).select_related(
            "author", "last_editor"
        )
        for parameter in ("image", "label_class"):
            row_id = row_id_parameter(self.request.query_params, parameter)
            if row_id is not None:
                annotations = annotations.filter(**{f"{parameter}_id": row_id})
        return annotations


class AnnotationDetail(AnnotationAccess, generics.GenericAPIView[Annotation]):
    """Read, edit (with a version precondition) and delete one annotation."""

    def annotation(self) -> Annotation:
        return get_object_or_404(
            Annotation.objects.select_related("image", "author", "last_editor"),
            pk=self.kwargs["pk"],
            image__project=self.project,
        )

    def get(self, request: Request, project_pk: int, pk: int) -> Response:
        return annotation_response(self.annotation())

    @extend_schema(request=AnnotationWriteSerializer, responses={200: AnnotationSerializer})
    def patch(self, request: Request, project_pk: int, pk: int) -> Response:
        annotation = self.annotation()
        version = expected_version(request)
        if version is None:
            return Response(
                {
                    "detail": 'Say which version you edit: send If-Match: "<version>" '
                    "(the ETag you read) or a version field."
                },
                status=status.HTTP_428_PRECONDITION_REQUIRED,
            )
        incoming = AnnotationWriteSerializer(data=request.data, partial=True)
        incoming.is_valid(raise_exception=True)
        changes = dict(incoming.validated_data)
        changes.pop("version", None)
        if "proposal_id" in changes:
            raise ValidationError(
                {"proposal_id": ["Where a mask came from is set when it is created."]}
            )
        self.may_change(annotation.image)
        try:
            edit_annotation(annotation, version, changes, editor=request.user)
        except AnnotationRejected as exc:
            raise rejected(exc) from None
        except VersionConflict as conflict:
            return conflict_response(conflict.current)
        except Annotation.DoesNotExist:
            return Response({"detail": "This annotation was deleted."}, status=404)
        return annotation_response(annotation)

    def delete(self, request: Request, project_pk: int, pk: int) -> Response:
        annotation = self.annotation()
        version = expected_version(request)
        self.may_change(annotation.image)
        try:
            delete_annotation(annotation, version, request.user)
        except VersionConflict as conflict:
            return conflict_response(conflict.current)
        except Annotation.DoesNotExist:
            return Response({"detail": "This annotation was deleted."}, status=404)
        return Response(status=status.HTTP_204_NO_CONTENT)


class AnnotationMerge(AnnotationAccess, generics.GenericAPIView[Annotation]):
    """Merge another annotation of the same image and label class into this one, in one
    transaction: this one gets the union of both stored masks as a new version, the
    other is deleted. Both must still be at the versions sent, else 409 and nothing
    changes."""

    queryset = Annotation.objects.none()
    serializer_class = AnnotationMergeSerializer

    @extend_schema(
        request=AnnotationMergeSerializer,
        responses={
            200: AnnotationSerializer,
            400: OpenApiResponse(description="not two annotations of one image and class"),
            409: OpenApiResponse(
                description="one or both changed meanwhile (``changed``: their ids; the "
                "first as it is now, as a 409 of an edit); nothing stored"
            ),
        },
    )
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        kept = self.annotation_in_project(pk)
        incoming = AnnotationMergeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        other = (
            Annotation.objects.filter(pk=data["other"], image__project=self.project)
            .select_related("image")
            .first()
        )
        if other is None:
            raise ValidationError({"other": [f"this project has no annotation {data['other']}"]})
        try:
            with transaction.atomic():
                self.may_change(kept.image)
                merge_annotations(kept, data["version"], other, data["other_version"], request.user)
        except AnnotationRejected as exc:
            raise rejected(exc) from None
        except MergeConflict as conflict:
            return changed_response(conflict.changed, "Nothing was merged.")
        except Annotation.DoesNotExist:
            return gone_response(
                "One of the two annotations was deleted meanwhile; nothing merged."
            )
        kept.refresh_from_db()
        return annotation_response(kept)


class AnnotationUnmerge(AnnotationAccess, generics.GenericAPIView[Annotation]):
    """Undo a merge into this annotation in one transaction: this one gets back its mask
    from before the merge (from its history) as a new version, and the annotation the
    merge deleted is made again under a new id. This one must still be at the version
    sent, else 409 and nothing changes."""

    queryset = Annotation.objects.none()
    serializer_class = AnnotationUnmergeSerializer

    @extend_schema(
        request=AnnotationUnmergeSerializer,
        responses={
            200: AnnotationUnmergeResultSerializer,
            400: OpenApiResponse(
                description="not the undo of a merge into this annotation (a mask none of "
                "its versions had, an annotation not deleted from its image or of another "
                "class, a mask outside its own); nothing stored"
            ),
            409: OpenApiResponse(
                description="it changed meanwhile (as a 409 of an edit, ``changed``: its "
                "id), or the other was re-created already; nothing stored"
            ),
        },
    )
    def post(self, request: Request, project_pk: int, pk: int) -> Response:
        kept = self.annotation_in_project(pk)
        incoming = AnnotationUnmergeSerializer(data=request.data)
        incoming.is_valid(raise_exception=True)
        data = incoming.validated_data
        try:
            with transaction.atomic():
                self.may_change(kept.image)
                other = unmerge_annotations(
                    kept,
                    data["version"],
                    rle=data["rle"],
                    other_id=data["other"],
                    other_rle=data["other_rle"],
                    other_prompts=data.get("other_prompts"),
                    other_source=data.get("other_source"),
                    other_proposal_id=data.get("other_proposal_id"),
                    editor=request.user,
                )
        except AnnotationRejected as exc:
            raise rejected(exc) from None
        except VersionConflict as conflict:
            return changed_response([conflict.current], "Nothing was unmerged.")
        except AlreadyRestored as exc:
            return Response(
                {
                    "detail": f"Annotation {exc.other_id} was made again already, as "
                    f"{exc.restored_as}; nothing was unmerged."
                },
                status=status.HTTP_409_CONFLICT,
            )
        except Annotation.DoesNotExist:
            return gone_response("This annotation was deleted meanwhile; nothing unmerged.")
        kept.refresh_from_db()
        body = {"kept": annotation_body(kept), "other": annotation_body(other)}
        return Response(body, headers={"ETag": etag(kept)})
