"""The project page's gallery filters, read from the query string.

They use the names and values of the images API's filters (``name``, ``status``,
``annotated``), so that the page asks the API for the same images while it polls.
"""

from __future__ import annotations

from urllib.parse import urlencode

from django import forms

from webapp.images.models import EncodingStatus, ImageQuerySet

ANNOTATED_CHOICES = [
    ("", "With or without annotations"),
    ("true", "With annotations"),
    ("false", "Without annotations"),
]


class GalleryFilter(forms.Form):
    name = forms.CharField(
        required=False,
        max_length=255,
        widget=forms.TextInput(
            attrs={
                "type": "search",
                "placeholder": "File name contains",
                "aria-label": "File name contains",
            }
        ),
    )
    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), *EncodingStatus.choices],
        widget=forms.Select(attrs={"aria-label": "Status"}),
    )
    annotated = forms.ChoiceField(
        required=False,
        choices=ANNOTATED_CHOICES,
        widget=forms.Select(attrs={"aria-label": "Annotations"}),
    )

    def values(self) -> dict[str, str]:
        """The filters that hold a valid, non-empty value; invalid ones are left out
        (and reported in the form's errors)."""
        self.is_valid()
        return {key: value for key, value in getattr(self, "cleaned_data", {}).items() if value}

    def apply(self, images: ImageQuerySet) -> ImageQuerySet:
        values = self.values()
        if "name" in values:
            images = images.filter(original_name__icontains=values["name"])
        if "status" in values:
            images = images.filter(status=values["status"])
        if "annotated" in values:
            images = images.annotated(values["annotated"] == "true")
        return images

    def query(self) -> str:
        """The active filters as a query string (``name=cat&status=ready``), or ""."""
        return urlencode(self.values())
