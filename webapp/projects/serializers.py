"""Shapes of the projects API: what clients send and receive, and the messages they see
when what they send is wrong."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import validate_email
from rest_framework import serializers

from webapp.images.availability import unusable_reason
from webapp.projects.members import people_known_to
from webapp.projects.models import (
    Invitation,
    LabelClass,
    Membership,
    Project,
    Role,
    label_name_problem,
    validate_model_name,
)

# The largest island size a project may set: a million pixels is already a large object.
MAX_ISLAND_PIXELS = 1_000_000


class ProjectSerializer(serializers.ModelSerializer[Project]):
    role = serializers.SerializerMethodField(help_text="Your role in this project.")
    created_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    model = serializers.CharField(
        required=False,
        validators=[validate_model_name],
        help_text=(
            "Segmentation model name (inference.registry); the server's default if left out. "
            "Only models whose weights are on this server are accepted."
        ),
    )

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "model",
            "role",
            "created_by",
            "created_at",
            "review_required",
            "assigned_only",
            "lease_minutes",
            "proposals_enabled",
            "min_island_pixels",
        ]
        read_only_fields = ["created_at"]
        extra_kwargs = {
            "review_required": {
                "help_text": "Submitted images wait for a reviewer; off: submitting accepts."
            },
            "assigned_only": {"help_text": "Annotators label only the images given to them."},
            "proposals_enabled": {
                "help_text": "The worker proposes masks for each image once it is encoded."
            },
            "min_island_pixels": {
                "min_value": 0,
                "max_value": MAX_ISLAND_PIXELS,
                "help_text": "Parts of a new mask smaller than this many pixels are removed "
                "when the annotator saves it (0: none).",
            },
            "lease_minutes": {
                "min_value": 1,
                "max_value": 24 * 60,
                "help_text": "Idle minutes after which an image held by someone goes back.",
            },
        }

    def get_role(self, project: Project) -> str | None:
        if hasattr(project, "user_role"):
            return project.user_role
        return project.role_of(self.context["request"].user)

    def validate_model(self, value: str) -> str:
        # Embeddings are made for one model, so switching would strand every image.
        if self.instance is not None and value != self.instance.model:
            raise serializers.ValidationError(
                "The model of a project cannot be changed after it is created."
            )
        return value

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # A new project must segment with a model whose weights are here, or its images
        # could never be encoded.
        if self.instance is None:
            model = attrs.get("model") or Project._meta.get_field("model").get_default()
            reason = unusable_reason(model)
            if reason is not None:
                raise serializers.ValidationError({"model": [reason]})
        return attrs


class MembershipSerializer(serializers.ModelSerializer[Membership]):
    """A member and their role. E-mail addresses are for those who manage members
    (managers and owners, context ``show_emails``) and for each member's own row;
    everyone else gets null."""

    user_id = serializers.IntegerField(read_only=True)
    username = serializers.CharField(source="user.username", read_only=True)
    email = serializers.CharField(
        source="user.email",
        read_only=True,
        allow_null=True,
        help_text="Shown to managers and owners, and on your own row; null otherwise.",
    )

    class Meta:
        model = Membership
        fields = ["id", "user_id", "username", "email", "role", "created_at"]
        read_only_fields = ["created_at"]
        extra_kwargs = {"role": {"required": True}}

    def to_representation(self, membership: Membership) -> dict[str, Any]:
        data: dict[str, Any] = super().to_representation(membership)
        request = self.context.get("request")
        own = request is not None and membership.user_id == request.user.pk
        if not (self.context.get("show_emails") or own):
            data["email"] = None
        return data


class NewMemberSerializer(serializers.Serializer[Any]):
    """Whom to add. The answer never tells whether an account exists that the requester
    could not already see: an e-mail address always gets an invitation, and a username
    is found only among people who share a project with the requester (or by staff)."""

    user = serializers.CharField(
        help_text=(
            "An e-mail address, which is sent an invitation link whether or not it has an "
            "account here; or the username of someone who already shares a project with you."
        )
    )
    role = serializers.ChoiceField(choices=Role.choices, default=Role.ANNOTATOR)

    def validate_user(self, value: str) -> AbstractBaseUser | str:
        """The account named ``value``, or ``value`` itself when it is an e-mail address
        to invite."""
        value = value.strip()
        if "@" in value:
            try:
                validate_email(value)
            except DjangoValidationError:
                pass  # usernames may hold an "@" too
            else:
                return value
        user = people_known_to(self.context["request"].user).filter(username=value).first()
        if user is None and "@" in value:
            raise serializers.ValidationError(f"{value!r} is not a valid e-mail address.")
        if user is None:
            raise serializers.ValidationError(
                f"No one named {value!r} shares a project with you. Invite them by e-mail instead."
            )
        return user


class InvitationSerializer(serializers.ModelSerializer[Invitation]):
    invited_by = serializers.SlugRelatedField(slug_field="username", read_only=True)

    class Meta:
        model = Invitation
        fields = ["id", "email", "role", "invited_by", "created_at", "expires_at"]
        read_only_fields = fields


class LabelClassSerializer(serializers.ModelSerializer[LabelClass]):
    annotation_count = serializers.SerializerMethodField()

    class Meta:
        model = LabelClass
        fields = ["id", "name", "color", "shortcut", "order", "annotation_count"]

    def get_annotation_count(self, label_class: LabelClass) -> int:
        return int(getattr(label_class, "annotation_count", 0))

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("Give the label class a name.")
        problem = label_name_problem(value)
        if problem is not None:
            raise serializers.ValidationError(problem[0].upper() + problem[1:] + ".")
        if self._siblings().filter(name__iexact=value).exists():
            raise serializers.ValidationError(
                f"A label class named {value!r} already exists in this project."
            )
        return value

    def validate_color(self, value: str) -> str:
        return value.lower()

    def validate_shortcut(self, value: str) -> str:
        if value and self._siblings().filter(shortcut=value).exists():
            taken_by = self._siblings().get(shortcut=value)
            raise serializers.ValidationError(
                f"The shortcut {value!r} is already used by {taken_by.name!r}."
            )
        return value

    def _siblings(self) -> Any:
        classes = LabelClass.objects.filter(project=self.context["project"])
        if self.instance is not None:
            classes = classes.exclude(pk=self.instance.pk)
        return classes


class LabelClassCountSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    color = serializers.CharField()
    count = serializers.IntegerField()


class AuthorCountSerializer(serializers.Serializer[Any]):
    user_id = serializers.IntegerField(allow_null=True)
    username = serializers.CharField(allow_null=True)
    count = serializers.IntegerField()


class AnnotationStatisticsSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    by_label_class = LabelClassCountSerializer(many=True)
    by_author = AuthorCountSerializer(many=True)


class ImageProgressSerializer(serializers.Serializer[Any]):
    total = serializers.IntegerField()
    pending = serializers.IntegerField()
    encoding = serializers.IntegerField()
    ready = serializers.IntegerField()
    failed = serializers.IntegerField()


class ProjectStatisticsSerializer(serializers.Serializer[Any]):
    """Documents the shape of ``services.project_statistics``."""

    images = ImageProgressSerializer()
    annotations = AnnotationStatisticsSerializer()
