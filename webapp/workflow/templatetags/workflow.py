"""Template tags of the workflow: ``{% my_work_card project user role %}``."""

from __future__ import annotations

from typing import Any

from django import template

from webapp.projects.models import Project
from webapp.workflow.my_work import my_work

register = template.Library()


@register.inclusion_tag("workflow/_my_work.html")
def my_work_card(project: Project, user: Any, role: str | None) -> dict[str, Any]:
    return {"project": project, "work": my_work(project, user, role), "user": user}
