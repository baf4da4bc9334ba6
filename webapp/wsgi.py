"""WSGI entry point, for servers such as gunicorn: ``gunicorn webapp.wsgi``."""

from __future__ import annotations

import os

from django.core.wsgi import get_wsgi_application

from webapp.core.wsgi_guard import refuse_undecodable_charsets

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "webapp.settings")

# Requests whose charset would crash Django before any middleware runs get a 400 here.
application = refuse_undecodable_charsets(get_wsgi_application())
