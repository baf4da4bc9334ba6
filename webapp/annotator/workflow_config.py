"""What the annotator page needs to work as a queue (``?queue=annotate`` or
``?queue=review``): the workflow's URLs and the user's part. The same for every image of
the page's project, so it is part of the page's configuration, not of ``image_config``."""

from __future__ import annotations

from typing import Any

from django.apps import apps
from django.urls import NoReverseMatch, reverse

from webapp.projects.models import Action, Project

STAGES = ("annotate", "review")


def queue_stage(value: str | None) -> str | None:
    """The queue a ``?queue=`` value names, or None (the page shows images one by one)."""
    return value if value in STAGES else None


def issues_url(project: Project) -> str | None:
    """The review issues' list of ``project`` when the reviews app is installed, else None
    (the page then sends a rejected annotation's comment as the rejection's reason)."""
    if not apps.is_installed("webapp.reviews"):
        return None
    try:
        return reverse("issue-list", args=[project.pk])
    except NoReverseMatch:
        return None


def history_url_template(project: Project) -> str | None:
    """An annotation's history (``…/annotations/0/history/``, 0 for its id), or None
    without the reviews app."""
    if issues_url(project) is None:
        return None
    return reverse("annotation-history", args=[project.pk, 0])


def workflow_config(project: Project, user: Any, stage: str | None) -> dict[str, Any]:
    """JSON-ready. URL templates hold ``0`` for the image id (``…/images/0/…``)."""
    can_review = project.allows(user, Action.REVIEW)
    if stage == "review" and not can_review:
        stage = None
    return {
        "stage": stage,
        "userName": user.get_username(),
        "canAnnotate": project.allows(user, Action.ANNOTATE),
        "canReview": can_review,
        "projectUrl": reverse("projects:detail", args=[project.pk]),
        "workNextUrl": reverse("work-next", args=[project.pk]),
        "workUrlTemplate": reverse("work-detail", args=[project.pk, 0]),
        "activeTimeUrl": reverse("work-active-time", args=[project.pk]),
        "upcomingUrl": reverse("annotator:upcoming", args=[project.pk]),
        "pageUrlTemplate": reverse("annotator:annotate", args=[project.pk, 0]),
        "configUrlTemplate": reverse("annotator:annotate-config", args=[project.pk, 0]),
        "issuesUrl": issues_url(project),
        "historyUrlTemplate": history_url_template(project),
    }
