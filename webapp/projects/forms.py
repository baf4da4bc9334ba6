from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings

from inference.registry import all_models
from webapp.projects.models import Project, validate_model_name


class ProjectForm(forms.ModelForm):
    """The new-project form of the projects page."""

    model = forms.ChoiceField(validators=[validate_model_name])

    class Meta:
        model = Project
        fields = ["name", "description", "model"]
        widgets = {"description": forms.Textarea(attrs={"rows": 2})}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [(name, name) for name in sorted(all_models())]
        self.fields["model"].initial = settings.SAMLABEL_MODEL
