from __future__ import annotations

from pathlib import Path

from django.apps import AppConfig
from django.conf import settings


class ImagesConfig(AppConfig):
    name = "webapp.images"
    label = "images"

    def ready(self) -> None:
        # kombu's file-system broker needs its folders to exist before anyone sends a
        # message, in the web process as much as in the worker.
        if settings.CELERY_BROKER_URL.startswith("filesystem://"):
            options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
            for key in ("data_folder_in", "data_folder_out", "processed_folder"):
                if options.get(key):
                    Path(str(options[key])).mkdir(parents=True, exist_ok=True)
