"""The projects JSON API: projects, their members and invitations, label classes and
statistics.

Views authorise through :mod:`webapp.projects.access`, validate with the serializers and
call one model method; every lookup is filtered by the project in the URL, so ids from
another project are 404 like anything else the user cannot see.
"""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Count, ProtectedError, QuerySet
from django.urls import reverse
from drf_spectacular.utils import extend_schema
from rest_framework import exceptions, permissions, status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.serializers import BaseSerializer
from rest_framework.views import APIView

from webapp.core.fields import MAX_ROW_ID
from webapp.projects import services
from webapp.projects.access import ProjectRole, project_for
from webapp.projects.models import (
    Action,
    Invitation,
    LabelClass,
    LastOwner,
    Membership,
    MembershipError,
    OwnerRoleReserved,
    Project,
)
from webapp.projects.serializers import (
    InvitationSerializer,
    LabelClassSerializer,
    MembershipSerializer,
    NewMemberSerializer,
    ProjectSerializer,
    ProjectStatisticsSerializer,
)


class RuleBroken(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "rule_broken"


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class MailUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_code = "mail_unavailable"


def membership_error_response(error: MembershipError) -> exceptions.APIException:
    if isinstance(error, OwnerRoleReserved):
        return exceptions.PermissionDenied(str(error))
    return RuleBroken(str(error))


class ProjectViewSet(viewsets.ModelViewSet):
    """Projects you are a member of. Anyone signed in may create one and becomes its
    owner; managers edit it; only owners delete it, with its images, annotations,
    exports and stored files."""

    serializer_class = ProjectSerializer
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Project]:
        user = self.request.user
        return Project.objects.visible_to(user).with_role_of(user).select_related("created_by")

    def get_object(self) -> Project:
        action = Action.VIEW
        if self.request.method == "DELETE":
            action = Action.DELETE_PROJECT
        elif self.request.method not in permissions.SAFE_METHODS:
            action = Action.MANAGE
        project_for(self.request.user, self.kwargs["pk"], action)
        return self.get_queryset().get(pk=self.kwargs["pk"])

    def perform_create(self, serializer: BaseSerializer[Project]) -> None:
        serializer.instance = Project.create_with_owner(
            self.request.user, **serializer.validated_data
        )

    def perform_destroy(self, instance: Project) -> None:
        services.delete_project(instance)


class ProjectScopedViewSet(viewsets.ModelViewSet):
    """Base for things inside one project (``project_pk`` in the URL)."""

    permission_classes = [permissions.IsAuthenticated, ProjectRole]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]
    project: Project

    def requester_role(self) -> str | None:
        return self.project.role_of(self.request.user)

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "project"):
            context["project"] = self.project
        return context


class MemberViewSet(ProjectScopedViewSet):
    """Members of a project and their roles. Reading needs any role; adding, changing
    and removing members needs manager; only owners grant or revoke the owner role; a
    member may remove themself (leave). The last owner can be neither demoted nor removed.

    Adding takes an e-mail address or a username. An address always gets an invitation
    link by e-mail (202, with the invitation), whether or not an account uses it: its
    recipient joins with their account, or chooses a username and password. A username
    adds someone who already shares a project with you (201); any other username is
    refused with the same answer as one that does not exist, so adding members tells no
    one which accounts or addresses exist. E-mail addresses of members are shown to
    managers and owners only (and to each member, their own).
    """

    queryset = Membership.objects.none()  # for the schema; requests use get_queryset
    serializer_class = MembershipSerializer

    @property
    def write_action(self) -> str:
        # Leaving a project is every member's right, whatever their role.
        if self.request.method == "DELETE" and self._targets_own_membership():
            return Action.VIEW
        return Action.MANAGE

    def _targets_own_membership(self) -> bool:
        try:
            ids = int(self.kwargs["pk"]), int(self.kwargs["project_pk"])
        except (KeyError, TypeError, ValueError):
            return False
        # An id no row can have would overflow the database driver; project_for then
        # answers for it like for any other unknown project.
        if not all(1 <= n <= MAX_ROW_ID for n in ids):
            return False
        return Membership.objects.filter(
            pk=ids[0], project_id=ids[1], user_id=self.request.user.pk
        ).exists()

    def get_queryset(self) -> QuerySet[Membership]:
        if getattr(self, "swagger_fake_view", False):
            return Membership.objects.none()
        return self.project.memberships.select_related("user")

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if hasattr(self, "project"):
            context["show_emails"] = self.project.allows(self.request.user, Action.MANAGE)
        return context

    @extend_schema(
        request=NewMemberSerializer,
        responses={201: MembershipSerializer, 202: InvitationSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        new = NewMemberSerializer(data=request.data, context=self.get_serializer_context())
        new.is_valid(raise_exception=True)
        person, role = new.validated_data["user"], new.validated_data["role"]
        try:
            if isinstance(person, str):
                invitation = services.invite(
                    self.project,
                    person,
                    role,
                    invited_by=request.user,
                    by_role=self.requester_role(),
                    link_for=lambda token: request.build_absolute_uri(
                        reverse("accounts:invitation", args=[token])
                    ),
                )
                body = InvitationSerializer(invitation).data
                return Response(body, status=status.HTTP_202_ACCEPTED)
            membership = self.project.add_member(person, role, by_role=self.requester_role())
        except MembershipError as error:
            raise membership_error_response(error) from None
        except services.InvitationNotSent as error:
            raise MailUnavailable(str(error)) from None
        body = MembershipSerializer(membership, context=self.get_serializer_context()).data
        return Response(body, status=status.HTTP_201_CREATED)

    def perform_update(self, serializer: BaseSerializer[Membership]) -> None:
        membership = serializer.instance
        assert membership is not None
        if "role" not in serializer.validated_data:
            raise exceptions.ValidationError({"role": ["Give the member's new role."]})
        try:
            membership.change_role(serializer.validated_data["role"], by_role=self.requester_role())
        except MembershipError as error:
            raise membership_error_response(error) from None

    def perform_destroy(self, instance: Membership) -> None:
        try:
            instance.remove(by_role=self.requester_role())
        except LastOwner as error:
            raise RuleBroken(str(error)) from None
        except MembershipError as error:
            raise membership_error_response(error) from None


class InvitationViewSet(ProjectScopedViewSet):
    """Open invitations of a project (neither accepted nor expired); managers list and
    withdraw them. Invite through the members endpoint with an e-mail address."""

    queryset = Invitation.objects.none()  # for the schema; requests use get_queryset
    serializer_class = InvitationSerializer
    read_action = Action.MANAGE
    http_method_names = ["get", "delete", "head", "options"]

    def get_queryset(self) -> QuerySet[Invitation]:
        if getattr(self, "swagger_fake_view", False):
            return Invitation.objects.none()
        return self.project.invitations.open().select_related("invited_by")


class LabelClassViewSet(ProjectScopedViewSet):
    """The classes annotations are labelled with. Reading needs any role; changes need
    manager. A class that annotations use cannot be deleted (409)."""

    queryset = LabelClass.objects.none()  # for the schema; requests use get_queryset
    serializer_class = LabelClassSerializer

    def get_queryset(self) -> QuerySet[LabelClass]:
        if getattr(self, "swagger_fake_view", False):
            return LabelClass.objects.none()
        classes = self.project.label_classes.annotate(annotation_count=Count("annotations"))
        return classes.order_by("order", "id")

    def perform_create(self, serializer: BaseSerializer[LabelClass]) -> None:
        fields: dict[str, Any] = {"project": self.project}
        if "color" not in serializer.validated_data:
            fields["color"] = LabelClass.color_for_new(self.project)
        self._save(serializer, **fields)

    def perform_update(self, serializer: BaseSerializer[LabelClass]) -> None:
        self._save(serializer)

    def _save(self, serializer: BaseSerializer[LabelClass], **fields: Any) -> None:
        # The serializer checks names and shortcuts; a request racing this one can still
        # take them first, and the database's unique constraints then have the last word.
        try:
            with transaction.atomic():
                serializer.save(**fields)
        except IntegrityError:
            raise RuleBroken(
                "Another label class of this project already has this name or shortcut."
            ) from None

    def perform_destroy(self, instance: LabelClass) -> None:
        try:
            instance.delete()
        except ProtectedError as error:
            used = len(error.protected_objects)
            raise Conflict(
                f"The label class {instance.name!r} is used by {used} annotation"
                f"{'' if used == 1 else 's'}; delete or relabel them first."
            ) from None


class ProjectStatisticsView(APIView):
    """Images by encoding status; annotations in all, per label class and per author."""

    permission_classes = [permissions.IsAuthenticated, ProjectRole]
    project: Project

    @extend_schema(responses=ProjectStatisticsSerializer)
    def get(self, request: Request, project_pk: int) -> Response:
        return Response(services.project_statistics(self.project))
