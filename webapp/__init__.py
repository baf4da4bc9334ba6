"""The samlabel Django project: settings, URLs and one app per domain noun."""

from webapp.celery import app as celery_app

__all__ = ["celery_app"]
