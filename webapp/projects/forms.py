from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django import forms
from django.conf import settings
from django.db.models import QuerySet

from webapp.images.availability import model_choices, unusable_reason
from webapp.projects.models import Project, validate_model_name


class ModelSelect(forms.Select):
    """A select whose options listed in ``disabled`` cannot be picked (greyed out)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.disabled: set[str] = set()

    def create_option(self, *args: Any, **kwargs: Any) -> dict[str, Any]:
        option: dict[str, Any] = super().create_option(*args, **kwargs)
        if str(option["value"]) in self.disabled:
            option["attrs"]["disabled"] = True
        return option


class ProjectForm(forms.ModelForm):
    """The new-project form of the projects page. Models whose weights are not on this
    server are listed, greyed out, with the command that fetches them."""

    model = forms.ChoiceField(validators=[validate_model_name], widget=ModelSelect)

    class Meta:
        model = Project
        fields = ["name", "description", "model"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        choices = model_choices()
        field = self.fields["model"]
        field.choices = [
            (c.name, c.name if c.ready else f"{c.name} (no weights here: {c.command})")
            for c in choices
        ]
        field.widget.disabled = {c.name for c in choices if not c.ready}
        ready = [c.name for c in choices if c.ready]
        default = settings.SAMLABEL_MODEL
        field.initial = default if default in ready or not ready else ready[0]
        if not ready:
            field.help_text = (
                "No model's weights are on this server yet: an administrator fetches them "
                "with the command shown next to each."
            )
        elif len(ready) < len(choices):
            field.help_text = (
                "Greyed-out models have no weights on this server yet: an administrator "
                "fetches them with the command shown."
            )

    def clean_model(self) -> str:
        model: str = self.cleaned_data["model"]
        reason = unusable_reason(model)
        if reason is not None:
            raise forms.ValidationError(reason)
        return model


class ActivityFilter(forms.Form):
    """The dashboard's activity feed filters, from the query string: ``actor`` (a
    member's username) and ``kind`` (an event kind, see ``EventKind``)."""

    actor = forms.ChoiceField(required=False, widget=forms.Select(attrs={"aria-label": "Who"}))
    kind = forms.ChoiceField(required=False, widget=forms.Select(attrs={"aria-label": "What"}))

    def __init__(self, data: Any, project: Project, **kwargs: Any) -> None:
        from webapp.workflow.models import EventKind

        super().__init__(data, **kwargs)
        names = project.memberships.order_by("user__username").values_list(
            "user__username", flat=True
        )
        self.fields["actor"].choices = [("", "Anyone"), *((name, name) for name in names)]
        self.fields["kind"].choices = [("", "Anything"), *EventKind.choices]

    def values(self) -> dict[str, str]:
        self.is_valid()
        return {k: v for k, v in getattr(self, "cleaned_data", {}).items() if v}

    def apply(self, events: QuerySet[Any]) -> QuerySet[Any]:
        values = self.values()
        if "actor" in values:
            events = events.filter(actor__username=values["actor"])
        if "kind" in values:
            events = events.filter(kind=values["kind"])
        return events

    def query(self) -> str:
        return urlencode(self.values())
