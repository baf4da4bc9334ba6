from __future__ import annotations

from django.apps import AppConfig


class SuggestionsConfig(AppConfig):
    name = "webapp.suggestions"
    label = "suggestions"

    def ready(self) -> None:
        from webapp.suggestions import signals  # noqa: F401  (connects the receivers)
