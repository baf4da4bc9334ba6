from __future__ import annotations

from django.apps import AppConfig


class AnnotatorConfig(AppConfig):
    name = "webapp.annotator"
    label = "annotator"
