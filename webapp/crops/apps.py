from __future__ import annotations

from django.apps import AppConfig


class CropsConfig(AppConfig):
    name = "webapp.crops"
    label = "crops"

    def ready(self) -> None:
        from webapp.crops import signals  # noqa: F401 - connects the receivers
