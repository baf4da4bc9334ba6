from __future__ import annotations

from django.apps import AppConfig


class WorkflowConfig(AppConfig):
    name = "webapp.workflow"
    label = "workflow"

    def ready(self) -> None:
        from webapp.workflow import signals  # noqa: F401  (connects the receivers)
