"""Projects, who belongs to them in which role, and their label classes."""

from __future__ import annotations

import hashlib
import secrets
import unicodedata
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import IntegrityError, models, transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from inference.registry import all_models

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


def validate_model_name(name: str) -> None:
    """A project's model must be one that ``inference`` knows (built-in or registered)."""
    known = all_models()
    if name not in known:
        raise ValidationError(f"Unknown model {name!r}; choose one of: {', '.join(sorted(known))}.")


class MembershipError(Exception):
    """A change to a project's members that the rules forbid; the message says why."""


class LastOwner(MembershipError):
    pass


class OwnerRoleReserved(MembershipError):
    pass


class AlreadyMember(MembershipError):
    pass


class ProjectQuerySet(models.QuerySet["Project"]):
    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Projects ``user`` is a member of (none for anonymous users)."""
        if not user.is_authenticated:
            return self.none()
        return self.filter(memberships__user=user)

    def with_role_of(self, user: AbstractBaseUser | AnonymousUser) -> ProjectQuerySet:
        """Annotate each project with ``user_role``: the role of ``user`` in it, or None."""
        role = Membership.objects.filter(project=OuterRef("pk"), user_id=user.pk).values("role")
        return self.annotate(user_role=Subquery(role[:1]))


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
    # The team workflow (webapp/workflow): whether submitted images wait for a reviewer
    # (off: submitting accepts), whether annotators label only the images given to them,
    # and after how many idle minutes a held image goes back to the pool.
    review_required = models.BooleanField(default=True)
    assigned_only = models.BooleanField(default=False)
    lease_minutes = models.PositiveIntegerField(default=30)
    # The worker proposes masks for every image once it is encoded (webapp.proposals).
    proposals_enabled = models.BooleanField(default=False)
    # Mask editing: parts of a new mask smaller than this many pixels are removed when it
    # is saved in the annotator (0: none), reported there and undoable.
    min_island_pixels = models.PositiveIntegerField(default=0)
    # Quality rules (issue 17): the version of the rules in force, 0 when the project has
    # none; kept by webapp.qualityrules, so that submit and accept of a project without
    # rules cost no query for them.
    quality_rules_version = models.PositiveIntegerField(default=0)

    objects = ProjectQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name

    # (user id, role) when the role was read with the project, as project_for does: the
    # view's later questions about that user's role then cost no query.
    known_role: tuple[object, str | None] | None = None

    def role_of(self, user: AbstractBaseUser | AnonymousUser) -> str | None:
        """The role of ``user`` in this project, or None for a non-member."""
        if not user.is_authenticated:
            return None
        if self.known_role is not None and self.known_role[0] == user.pk:
            return self.known_role[1]
        roles = Membership.objects.filter(project_id=self.pk, user_id=user.pk)
        return roles.values_list("role", flat=True).first()

    def allows(self, user: AbstractBaseUser | AnonymousUser, action: str) -> bool:
        return role_allows(self.role_of(user), action)

    @classmethod
    @transaction.atomic
    def create_with_owner(cls, owner: AbstractBaseUser, **fields: object) -> Project:
        project = cls.objects.create(created_by=owner, **fields)
        Membership.objects.create(project=project, user=owner, role=Role.OWNER)
        return project

    def add_member(self, user: AbstractBaseUser, role: str, *, by_role: str | None) -> Membership:
        """Make ``user`` a member in ``role``; ``by_role`` is the role of whoever asks.

        Raises OwnerRoleReserved when a non-owner grants the owner role and AlreadyMember
        when ``user`` belongs to the project already.
        """
        if role == Role.OWNER and by_role != Role.OWNER:
            raise OwnerRoleReserved("Only an owner can grant the owner role.")
        try:
            with transaction.atomic():
                return Membership.objects.create(project=self, user=user, role=role)
        except IntegrityError:
            raise AlreadyMember(f"{user} is already a member of this project.") from None


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

    def change_role(self, role: str, *, by_role: str | None) -> None:
        """Give this member ``role``; ``by_role`` is the role of whoever asks.

        Only owners grant or revoke the owner role, and the last owner stays an owner
        (LastOwner), so that every project keeps someone who can manage and delete it.
        """
        if role == self.role:
            return
        if Role.OWNER in (role, self.role) and by_role != Role.OWNER:
            raise OwnerRoleReserved("Only an owner can grant or revoke the owner role.")
        with transaction.atomic():
            if self.role == Role.OWNER:
                self._ensure_another_owner("demote")
            self.role = role
            self.save(update_fields=["role"])

    def remove(self, *, by_role: str | None) -> None:
        """Take this member out of the project (also how a member leaves)."""
        if self.role == Role.OWNER and by_role != Role.OWNER:
            raise OwnerRoleReserved("Only an owner can remove an owner.")
        with transaction.atomic():
            if self.role == Role.OWNER:
                self._ensure_another_owner("remove")
            self.delete()

    def _ensure_another_owner(self, verb: str) -> None:
        # Lock the owners' rows so that two owners demoting each other at the same time
        # cannot leave the project with none (PostgreSQL; SQLite serialises writes anyway).
        owners = Membership.objects.select_for_update().filter(
            project_id=self.project_id, role=Role.OWNER
        )
        if not any(pk != self.pk for pk in owners.values_list("pk", flat=True)):
            raise LastOwner(
                f"Cannot {verb} {self.user}: they are the last owner of this project. "
                "Make someone else an owner first."
            )


color_validator = RegexValidator(r"^#[0-9a-fA-F]{6}$", "Give a colour as #rrggbb.")

LABEL_NAME_MAX_LENGTH = 100


def label_name_problem(name: str) -> str | None:
    """Why ``name`` (already stripped) cannot name a label class, or None. Control
    characters and line breaks are refused: exports write the names one per line (VOC's
    ``class_names.txt``) and into YAML, where a newline would shift every class after it."""
    if not name:
        return "a label class needs a name"
    if len(name) > LABEL_NAME_MAX_LENGTH:
        return f"a label class name has at most {LABEL_NAME_MAX_LENGTH} characters"
    if any(unicodedata.category(c) in ("Cc", "Zl", "Zp") for c in name):
        return "a label class name cannot hold control characters or line breaks"
    return None


# Colours that stay apart on photos and from each other, in the order new label classes
# get them: each new class takes the first one its project does not use yet.
LABEL_PALETTE = (
    "#e6194b", "#3cb44b", "#4363d8", "#ffe119", "#f58231", "#911eb4", "#46f0f0",
    "#f032e6", "#bcf60c", "#008080", "#9a6324", "#800000", "#aaffc3", "#808000",
    "#000075", "#fabebe", "#e6beff", "#ffd8b1", "#fffac8", "#808080",
)  # fmt: skip


def next_label_color(used: set[str]) -> str:
    """The first palette colour (#rrggbb, lower case) not in ``used``; when all are
    taken, they come round again in order."""
    free = [color for color in LABEL_PALETTE if color not in {c.lower() for c in used}]
    return free[0] if free else LABEL_PALETTE[len(used) % len(LABEL_PALETTE)]


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

    @classmethod
    def color_for_new(cls, project: Project) -> str:
        """The colour a new class of ``project`` gets unless one is chosen."""
        used = set(cls.objects.filter(project=project).values_list("color", flat=True))
        return next_label_color(used)


# How long an invitation link stays usable.
INVITATION_LIFETIME = timedelta(days=7)


def hash_token(token: str) -> str:
    """The sha256 of an invitation token, hex: only this is stored, so a copy of the
    database opens no project."""
    return hashlib.sha256(token.encode()).hexdigest()


class InvitationUnusable(Exception):
    """The invitation was used already, has expired or was withdrawn; the message says which."""


class InvitationQuerySet(models.QuerySet["Invitation"]):
    def open(self) -> InvitationQuerySet:
        """Invitations that can still be accepted: not accepted and not expired."""
        return self.filter(accepted_at__isnull=True, expires_at__gt=timezone.now())

    def with_token(self, token: str) -> Invitation | None:
        """The invitation whose link carries ``token`` (in any state), or None."""
        return (
            self.select_related("project", "invited_by")
            .filter(token_hash=hash_token(token))
            .first()
        )


class Invitation(models.Model):
    """An invitation to join ``project`` in ``role``, sent to someone with no account.

    The link holds a random token; the row keeps only its sha256. An invitation is used
    at most once (``accepted_at``) and not after ``expires_at``.
    """

    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=20, choices=Role.choices, default=Role.ANNOTATOR)
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    objects = InvitationQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.email} to {self.project} as {self.role}"

    @classmethod
    def issue(
        cls,
        project: Project,
        email: str,
        role: str,
        *,
        invited_by: AbstractBaseUser,
        by_role: str | None,
    ) -> tuple[Invitation, str]:
        """A new invitation and the token for its link (the token is not stored).

        Open invitations of the same address to the same project are withdrawn, so only
        the newest link works. Raises OwnerRoleReserved when a non-owner invites an owner.
        """
        if role == Role.OWNER and by_role != Role.OWNER:
            raise OwnerRoleReserved("Only an owner can grant the owner role.")
        token = secrets.token_urlsafe(32)
        with transaction.atomic():
            cls.objects.open().filter(project=project, email__iexact=email).delete()
            invitation = cls.objects.create(
                project=project,
                email=email,
                role=role,
                token_hash=hash_token(token),
                invited_by=invited_by,
                expires_at=timezone.now() + INVITATION_LIFETIME,
            )
        return invitation, token

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.expires_at > timezone.now()

    def refusal(self) -> str:
        """Why this invitation cannot be accepted, for a person ("" when it can)."""
        if self.accepted_at is not None:
            return "This invitation has already been used."
        if self.expires_at <= timezone.now():
            return "This invitation has expired. Ask for a new one."
        return ""

    def accept(self, user: AbstractBaseUser) -> Membership:
        """Make ``user`` a member in the invited role; the invitation is then used up.

        Claimed with one conditional update, so a link clicked twice at once makes one
        membership. A user who is a member already keeps their role. Raises
        InvitationUnusable when the invitation was used, has expired or is gone.
        """
        now = timezone.now()
        with transaction.atomic():
            claimed = Invitation.objects.filter(
                pk=self.pk, accepted_at__isnull=True, expires_at__gt=now
            ).update(accepted_at=now, accepted_by=user)
            if not claimed:
                current = Invitation.objects.filter(pk=self.pk).first()
                reason = current.refusal() if current else ""
                raise InvitationUnusable(reason or "This invitation was withdrawn.")
            membership, _ = Membership.objects.get_or_create(
                project_id=self.project_id, user=user, defaults={"role": self.role}
            )
        self.accepted_at, self.accepted_by = now, user
        return membership
