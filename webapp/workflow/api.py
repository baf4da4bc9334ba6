"""JSON API of the team workflow.

Who may do what: any member reads the workflow state of the project's images, the queue
counts and the activity feed; the moves follow :mod:`webapp.workflow.rules` (annotators
label and submit their own images, reviewers review others', managers do everything);
giving out images takes a manager. Outsiders get 404 for everything, as for every view
inside a project.
"""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from django.shortcuts import get_object_or_404
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    inline_serializer,
)
from rest_framework import exceptions, generics, serializers, status
from rest_framework.permissions import IsAuthenticated
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from webapp.core.api_errors import RuleRefused
from webapp.core.fields import MAX_ROW_ID, row_id_parameter
from webapp.images.models import EncodingStatus
from webapp.projects.access import ProjectRole
from webapp.projects.models import Action, Project
from webapp.qualityrules.gate import RulesRefused
from webapp.workflow import assignment, queue
from webapp.workflow.models import ActiveTime, Event, WorkItem, WorkState
from webapp.workflow.rules import MOVES, MoveRefused, perform
from webapp.workflow.serializers import (
    ActiveTimeSerializer,
    AssignSerializer,
    EventSerializer,
    MoveSerializer,
    NextRequestSerializer,
    NextSerializer,
    WorkItemSerializer,
    work_item_body,
)

RELATED = ("image", "project", "annotator", "reviewer", "assignee", "review_assignee")


class WorkflowAccess:
    permission_classes = [IsAuthenticated, ProjectRole]
    project: Project  # set by ProjectRole
    # Moves are checked by the rules, per action; any member may ask.
    write_action = Action.VIEW

    def role(self, request: Request) -> str | None:
        return self.project.role_of(request.user)


class WorkItemList(WorkflowAccess, generics.ListAPIView[WorkItem]):
    """The workflow state of the project's images, in image order; filter with
    ``?state=``, ``?assignee=<username>``, ``?annotator=<username>``, ``?mine=1`` (the
    images in your queue)."""

    serializer_class = WorkItemSerializer

    @extend_schema(
        parameters=[
            OpenApiParameter("state", str, enum=list(WorkState.values)),
            OpenApiParameter("assignee", str),
            OpenApiParameter("annotator", str),
            OpenApiParameter("mine", bool),
        ]
    )
    def get(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return super().get(request, *args, **kwargs)

    def get_queryset(self) -> QuerySet[WorkItem]:
        items = WorkItem.objects.filter(project=self.project).select_related(*RELATED)
        params = self.request.query_params
        state = params.get("state")
        if state:
            if state not in WorkState.values:
                raise exceptions.ValidationError(
                    {"state": [f"Use one of: {', '.join(WorkState.values)}."]}
                )
            items = items.filter(state=state)
        if params.get("assignee"):
            items = items.filter(assignee__username=params["assignee"])
        if params.get("annotator"):
            items = items.filter(annotator__username=params["annotator"])
        if params.get("mine") in {"1", "true"}:
            items = items.queue_of(self.request.user)
        return items.order_by("image_id")


class WorkItemDetail(WorkflowAccess, APIView):
    """GET: where one image is in the workflow."""

    @extend_schema(responses=WorkItemSerializer)
    def get(self, request: Request, project_pk: int, image_pk: int) -> Response:
        return Response(work_item_body(self.item(image_pk)))

    def item(self, image_pk: int) -> WorkItem:
        if not 1 <= int(image_pk) <= MAX_ROW_ID:
            raise exceptions.NotFound("No such image.")
        return get_object_or_404(
            WorkItem.objects.select_related(*RELATED), project=self.project, pk=image_pk
        )


MOVE_REFUSAL = inline_serializer(
    "MoveRefusal",
    fields={
        "detail": serializers.CharField(),
        "problems": serializers.ListField(
            child=serializers.DictField(),
            required=False,
            help_text='Quality rules only: [{"rule", "severity", "message", "annotation_ids"}]',
        ),
        "rules_version": serializers.IntegerField(required=False),
    },
)


class WorkItemMove(WorkItemDetail):
    """POST: make a move on one image (``start``, ``submit``, ``release``,
    ``start_review``, ``accept``, ``reject``, ``release_review``, ``skip``, ``reopen``).
    Answers the image's new state; 409 with a sentence naming its state and holder when
    the image is not where the move starts, 403 when your role or part does not allow it.
    A submit or accept that the project's quality rules refuse (errors and no ``reason``)
    is a 409 that also carries the image's ``problems`` and the ``rules_version``: send
    the move again with a reason to make it anyway."""

    http_method_names = ["post", "options"]

    @extend_schema(
        request=MoveSerializer,
        responses={
            200: WorkItemSerializer,
            409: OpenApiResponse(
                MOVE_REFUSAL,
                description="not the image's state for this move, or the quality rules' "
                "errors without a reason (then with problems and rules_version)",
            ),
        },
    )
    def post(self, request: Request, project_pk: int, image_pk: int, action: str) -> Response:
        if action not in MOVES:
            raise exceptions.NotFound(f"No such move: {action}. Moves: {', '.join(MOVES)}.")
        body = MoveSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        item = self.item(image_pk)
        try:
            moved = perform(
                item, action, request.user, self.role(request), body.validated_data["reason"]
            )
        except RulesRefused as error:
            return Response(error.body(), status=error.status)
        except MoveRefused as error:
            raise RuleRefused(error) from None
        return Response(work_item_body(moved))


class WorkItemHeartbeat(WorkItemDetail):
    """POST: the holder is still working on this image; their lease is renewed."""

    http_method_names = ["post", "options"]

    @extend_schema(request=None, responses=WorkItemSerializer)
    def post(self, request: Request, project_pk: int, image_pk: int) -> Response:
        item = self.item(image_pk)
        holder = item.reviewer_id if item.state == WorkState.IN_REVIEW else item.annotator_id
        if item.state not in {WorkState.ANNOTATING, WorkState.IN_REVIEW} or holder != (
            request.user.pk
        ):
            raise RuleRefused(MoveRefused(f"You do not hold this image: {item.describe()}.", 409))
        queue.renew_lease(item)
        item.refresh_from_db()
        return Response(work_item_body(item))


class NextImage(WorkflowAccess, APIView):
    """POST: the next image for you, now held by you: ``stage`` ``annotate`` (the one you
    hold, one sent back to you, one given to you, then the first new one) or ``review``
    (a submitted image someone else labelled). ``item`` is null, with ``detail`` saying
    why, when there is nothing for you."""

    @extend_schema(request=NextRequestSerializer, responses=NextSerializer)
    def post(self, request: Request, project_pk: int) -> Response:
        body = NextRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        stage = body.validated_data["stage"]
        role = self.role(request)
        needed = Action.ANNOTATE if stage == "annotate" else Action.REVIEW
        if not self.project.allows(request.user, needed):
            raise exceptions.PermissionDenied(
                f"Your role in this project does not allow you to {stage} images."
            )
        if stage == "annotate":
            item = queue.next_to_annotate(self.project, request.user, role)
        else:
            item = queue.next_to_review(self.project, request.user, role)
        return Response(self.answer(item, stage, request.user))

    def answer(self, item: WorkItem | None, stage: str, user: Any) -> dict[str, Any]:
        """The body of the answer, as NextSerializer describes it (built directly: see
        :func:`work_item_body`)."""
        # The queue goes on with the images nobody was given that "next" would hand out
        # to this member after these (those still being prepared included): "image 12 of
        # 40" counts what is left for them too.
        role = self.role(self.request)
        figures = queue.queue_figures(self.project, user, role, stage, item.pk if item else 0)
        size = figures.size
        if item is None:
            return {
                "item": None,
                "detail": nothing_left(self.project, stage),
                "position": None,
                "queue_size": size,
            }
        verb = "Label" if stage == "annotate" else "Review"
        return {
            "item": work_item_body(item),
            "detail": f"{verb} {item.image.original_name!r}.",
            "position": figures.position or None,
            "queue_size": size,
        }


def nothing_left(project: Project, stage: str) -> str:
    """Why there is no next image, for a person."""
    items = WorkItem.objects.filter(project=project)
    encoding = items.exclude(image__status=EncodingStatus.READY).count()
    waiting = f" {encoding} more are still being prepared." if encoding else ""
    if stage == "annotate":
        in_review = items.filter(state__in=[WorkState.SUBMITTED, WorkState.IN_REVIEW]).count()
        held = items.filter(state=WorkState.ANNOTATING).count()
        return (
            f"Nothing left to label for you: {held} image(s) are being labelled by others "
            f"and {in_review} are submitted or in review.{waiting}"
        )
    submitted = items.filter(state=WorkState.SUBMITTED).count()
    return (
        f"Nothing left to review for you ({submitted} submitted image(s) are yours or "
        f"given to another reviewer).{waiting}"
    )


class Assign(WorkflowAccess, APIView):
    """POST (manager): give images to a member for a stage (``to``), split them evenly
    among members (``split_among``), or take them back (neither). Pick the images by
    ``images`` (ids) or by ``state``. Accepted and skipped images are left alone."""

    write_action = Action.MANAGE

    @extend_schema(request=AssignSerializer, responses={200: dict})
    def post(self, request: Request, project_pk: int) -> Response:
        body = AssignSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        stage = data["stage"]
        names = data.get("split_among") or ([data["to"]] if data.get("to") else [])
        try:
            people = assignment.members_for(self.project, names, stage) if names else None
        except assignment.AssignmentRefused as error:
            raise exceptions.ValidationError({"to": [str(error)]}) from None
        items = WorkItem.objects.filter(project=self.project)
        if "images" in data:
            wanted = set(data["images"])
            items = items.filter(pk__in=wanted)
            found = set(items.values_list("pk", flat=True))
            if found != wanted:
                missing = sorted(wanted - found)[:10]
                raise exceptions.ValidationError(
                    {"images": [f"Not images of this project: {missing}."]}
                )
        else:
            items = items.filter(state=data["state"])
        counts = assignment.assign(items, stage, people, request.user)
        return Response({"stage": stage, "counts": counts}, status=status.HTTP_200_OK)


class EventList(WorkflowAccess, generics.ListAPIView[Event]):
    """The project's activity, newest first: ``?actor=<username>``, ``?kind=``,
    ``?image=<id>``."""

    serializer_class = EventSerializer

    def get_queryset(self) -> QuerySet[Event]:
        events = Event.objects.filter(project=self.project).select_related("actor")
        params = self.request.query_params
        if params.get("actor"):
            events = events.filter(actor__username=params["actor"])
        if params.get("kind"):
            events = events.filter(kind=params["kind"])
        image = row_id_parameter(params, "image")
        if image is not None:
            events = events.filter(image_id=image)
        return events


class ActiveTimeReport(WorkflowAccess, APIView):
    """POST: the annotator page reports ``seconds`` of real interaction (at most 300 per
    report; idle stretches are not counted by the page) for today's labelling time."""

    write_action = Action.ANNOTATE

    @extend_schema(request=ActiveTimeSerializer, responses={204: None})
    def post(self, request: Request, project_pk: int) -> Response:
        body = ActiveTimeSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        ActiveTime.add(self.project, request.user, body.validated_data["seconds"])
        return Response(status=status.HTTP_204_NO_CONTENT)
