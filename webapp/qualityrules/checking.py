"""Checking images with a project's rules on the server.

Built-in rules run natively in this process (they are the repository's code); when the
rule set has custom rules, the whole set runs in the sandbox instead
(:mod:`webapp.qualityrules.sandbox`), so that one process gives every problem in rule
order. The two give the same problems for built-ins (tests/webapp/test_qualityrules_runner.py).

Starting the sandbox's Pyodide takes seconds, so a process starts a spare runner ahead of
its first custom-rule check: a worker process when it starts, if any project has custom
rules (:func:`warm_if_any_custom`), and a web process when it first serves a project's
custom rules (:func:`warm_for`: the annotator reads them as it opens). Both return at once.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db import connection
from django.db.models import F, Prefetch

from qualityrules.engine import run_rules
from qualityrules.model import ImageData
from qualityrules.ruleset import has_custom, rules_from_spec
from webapp.annotations.models import Annotation
from webapp.images.models import Image
from webapp.qualityrules.models import RuleSetVersion
from webapp.qualityrules.sandbox import Limits, SandboxRun, run_sandboxed, warm_spare

log = logging.getLogger(__name__)


def image_data(image: Image) -> dict[str, Any]:
    """``ImageData.to_dict()`` of ``image``: size, name, annotations with class names, in
    id order (uses prefetched ``annotations`` when there)."""
    return {
        "width": image.width,
        "height": image.height,
        "name": image.original_name,
        "annotations": [
            {
                "id": a.pk,
                "label": a.label_class.name,
                "box": list(a.bbox),
                "area": a.area,
                "rle": a.rle,
            }
            for a in image.annotations.all()
        ],
    }


def images_with_annotations(ids: Iterable[int]) -> list[Image]:
    annotations = Annotation.objects.select_related("label_class").order_by("id")
    return list(
        Image.objects.filter(pk__in=list(ids))
        .order_by("id")
        .prefetch_related(Prefetch("annotations", queryset=annotations))
    )


def limits() -> Limits:
    return Limits(
        rule_seconds=settings.SAMLABEL_RULES_SECONDS,
        python_mb=settings.SAMLABEL_RULES_PYTHON_MB,
        process_mb=settings.SAMLABEL_RULES_PROCESS_MB,
        warm_rule_sets=settings.SAMLABEL_RULES_WARM_SETS,
        reuse_checks=settings.SAMLABEL_RULES_REUSE,
    )


def check(ruleset: RuleSetVersion, images: list[dict[str, Any]]) -> SandboxRun:
    """The problems of each image (``image_data`` dicts) under ``ruleset``."""
    spec = ruleset.spec()
    if has_custom(spec):
        # The project and version name the rule set: a warm process serves only its checks.
        key = ("project", ruleset.project_id, ruleset.version)
        return run_sandboxed(spec, images, limits(), key=key)
    rules = rules_from_spec(spec, custom_rules=False)
    return SandboxRun(problems=[run_rules(ImageData.from_dict(d), rules) for d in images])


def count(problems: list[dict[str, Any]]) -> tuple[int, int]:
    """(errors, warnings)."""
    errors = sum(1 for p in problems if p["severity"] == "error")
    return errors, len(problems) - errors


def warm_for(ruleset: RuleSetVersion | None) -> threading.Thread | None:
    """Start this process's spare sandbox runner in the background when ``ruleset`` has
    custom rules (nothing for built-ins only, which never need it); see
    :func:`webapp.qualityrules.sandbox.warm_spare`."""
    if ruleset is None or not has_custom(ruleset.spec()):
        return None
    return warm_spare(limits())


def any_custom_rules() -> bool:
    """Whether some project's rules in force have a custom rule (one query)."""
    in_force = RuleSetVersion.objects.filter(
        project__quality_rules_version=F("version"), version__gt=0
    ).only("version", "rules")
    return any(has_custom(ruleset.spec()) for ruleset in in_force.iterator())


def warm_if_any_custom() -> threading.Thread:
    """In a background thread: start the spare runner when any project has custom rules
    (a worker process's start: its first project check or submit then finds Pyodide
    started). The thread's database connection is closed when it ends."""

    def look() -> None:
        try:
            starting = warm_spare(limits()) if any_custom_rules() else None
            if starting is not None:
                starting.join()  # only the process's start: Pyodide comes up on its own
        except Exception:  # a start-up nicety: the first check starts its own runner
            log.warning("could not start a spare rules runner", exc_info=True)
        finally:
            connection.close()

    thread = threading.Thread(target=look, name="rules-warm-up", daemon=True)
    thread.start()
    return thread
