from __future__ import annotations

from django.apps import AppConfig


class ProposalsConfig(AppConfig):
    name = "webapp.proposals"
    label = "proposals"
