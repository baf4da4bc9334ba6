"""Projects, who belongs to them in which role, and their label classes."""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class Role(models.TextChoices):
    """Roles, each allowed everything the roles before it are."""

    VIEWER = "viewer"
    ANNOTATOR = "annotator"
    REVIEWER = "reviewer"
    MANAGER = "manager"
    OWNER = "owner"


ROLE_RANK = {role: rank for rank, role in enumerate(Role)}


class Action(models.TextChoices):
    """What a member may do, and the least role that allows it."""

    VIEW = "view"  # read the project, its images, embeddings and annotations
    ANNOTATE = "annotate"  # create, edit and delete annotations
    REVIEW = "review"  # accept or reject others' annotations
    MANAGE = "manage"  # images, label classes and members
    DELETE_PROJECT = "delete_project"


LEAST_ROLE = {
    Action.VIEW: Role.VIEWER,
    Action.ANNOTATE: Role.ANNOTATOR,
    Action.REVIEW: Role.REVIEWER,
    Action.MANAGE: Role.MANAGER,
    Action.DELETE_PROJECT: Role.OWNER,
}


def role_allows(role: str | None, action: str) -> bool:
    if role is None:
        return False
    return ROLE_RANK[Role(role)] >= ROLE_RANK[LEAST_ROLE[Action(action)]]


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Projects ``user`` is a member of (none for anonymous users)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)


def default_model() -> str:
    return str(settings.SAMLABEL_MODEL)


class Project(models.Model):
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    model = models.CharField(max_length=100, default=default_model)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    def role_of(self, user: AbstractBaseUser | AnonymousUser) -> str | None:
        """The role of ``user`` in this project, or None for a non-member."""
        if not user.is_authenticated:
            return None
        membership = self.memberships.filter(user=user).only("role").first()
        return membership.role if membership else None

    def allows(self, user: AbstractBaseUser | AnonymousUser, action: str) -> bool:
        return role_allows(self.role_of(user), action)

    @classmethod
    def create_with_owner(cls, owner: AbstractBaseUser, **fields: object) -> Project:
        project = cls.objects.create(created_by=owner, **fields)
        Membership.objects.create(project=project, user=owner, role=Role.OWNER)
        return project


class Membership(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["project", "user"], name="one_membership_per_user")
        ]
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.user} in {self.project} as {self.role}"


color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give a colour as #rrggbb.")


class LabelClass(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="label_classes")
    name = models.CharField(max_length=100)
    color = models.CharField(max_length=7, default="#e6194b", validators=[color_validator])
    shortcut = models.CharField(max_length=1, blank=True, default="")
    order = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["order", "id"]
        constraints = [
            models.UniqueConstraint(fields=["project", "name"], name="label_name_unique"),
            models.UniqueConstraint(
                fields=["project", "shortcut"],
                condition=~models.Q(shortcut=""),
                name="label_shortcut_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.name
