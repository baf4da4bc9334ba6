from __future__ import annotations

from django.apps import AppConfig


class QualityRulesConfig(AppConfig):
    name = "webapp.qualityrules"
    label = "qualityrules"
    verbose_name = "Quality rules"
    default_auto_field = "django.db.models.BigAutoField"
