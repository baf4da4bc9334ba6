"""The Celery application of samlabel, configured from Django's settings (CELERY_*).

Start a worker with ``celery -A webapp worker -Q crops,encode,proposals,celery`` (add ``-B`` for the
scheduler that re-queues stuck images). Tasks live in each app's ``tasks.py``.
"""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

app = Celery("webapp")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
