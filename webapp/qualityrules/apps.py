from __future__ import annotations

from typing import Any

from django.apps import AppConfig


class QualityRulesConfig(AppConfig):
    name = "webapp.qualityrules"
    label = "qualityrules"
    verbose_name = "Quality rules"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        # A worker process starts the sandbox's spare runner as it starts (in the
        # background, only when some project has custom rules), so that its first
        # custom-rule check does not wait for Pyodide. Web processes do it when they first
        # serve such a project's rules (webapp.qualityrules.checking.warm_for).
        from celery.signals import worker_process_init

        worker_process_init.connect(_warm_worker_process, weak=False)


def _warm_worker_process(**kwargs: Any) -> None:
    from webapp.qualityrules.checking import warm_if_any_custom

    warm_if_any_custom()
