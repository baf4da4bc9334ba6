"""The project's "Quality rules" page: the rules in force (managers edit them with a form,
one fieldset per built-in rule and a source box per custom rule, or as one JSON list;
errors shown beside the rule they concern, with line numbers for code, nothing stored),
whole-project checks, and the last check's report."""

from __future__ import annotations

import json
from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from qualityrules.builtin import BUILTINS
from webapp.projects.access import project_for
from webapp.projects.models import Action, LabelClass, Project, role_allows
from webapp.qualityrules.form import RulesForm, class_options
from webapp.qualityrules.jobs import start_project_check
from webapp.qualityrules.models import ProjectCheck, RuleCheck, RuleSetVersion
from webapp.qualityrules.validation import clean_rules

# The form's buttons (``do``); a POST with none of them is the JSON editor's.
FORM_ACTIONS = ("save", "add")


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def quality_rules_page(request: HttpRequest, pk: int) -> HttpResponse:
    action = Action.MANAGE if request.method == "POST" else Action.VIEW
    project = project_for(request.user, pk, action)
    current = RuleSetVersion.current(project)
    stored = current.rules if current else []
    classes = LabelClass.objects.filter(project=project).values_list("pk", "name")
    options = class_options(classes, stored)
    form = RulesForm.from_rules(stored, options)
    text = json.dumps(stored, indent=2)
    errors: list[dict[str, object]] = []
    json_failed = False
    status = 200
    do = request.POST.get("do", "") if request.method == "POST" else ""
    if do == "check":
        if start_project_check(project, request.user) is None:
            errors = [{"rule": None, "name": "", "line": None, "message": "No rules to check."}]
        else:
            return redirect("qualityrules:page", pk=project.pk)
    elif do in FORM_ACTIONS or do.startswith("remove-"):
        form = RulesForm.from_post(request.POST, options)
        if do == "add":
            form.add_custom()
        elif do.startswith("remove-") and do[7:].isdigit():
            form.remove_custom(int(do[7:]))
        elif _saved_since(request, current):
            form.errors.append(_conflict(current))
            status = 409
        else:
            rules = form.clean()
            if rules is not None:
                RuleSetVersion.save_new(project, rules, request.user)
                return redirect("qualityrules:page", pk=project.pk)
    elif request.method == "POST":
        text = request.POST.get("rules", "")
        json_failed = True
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            errors = [{"rule": None, "name": "", "line": exc.lineno, "message": exc.msg}]
        else:
            if _saved_since(request, current):
                errors = [{"rule": None, "name": "", "line": None, "message": _conflict(current)}]
                status = 409
            else:
                rules, errors = clean_rules(raw)
                if not errors:
                    RuleSetVersion.save_new(project, rules, request.user)
                    return redirect("qualityrules:page", pk=project.pk)
    if status == 200 and (errors or form.has_errors):
        status = 400
    return render(
        request,
        "qualityrules/page.html",
        {
            "project": project,
            "current": current,
            "form": form,
            "text": text,
            "errors": errors,
            "json_failed": json_failed,
            "builtins": BUILTINS,
            "can_manage": role_allows(project.role_of(request.user), Action.MANAGE),
            **_report(project),
        },
        status=status,
    )


def _saved_since(request: HttpRequest, current: RuleSetVersion | None) -> bool:
    """Whether someone saved another version after this form was shown (``base``: the
    version it showed, 0 for none; a POST without it is not checked)."""
    base = request.POST.get("base")
    return base is not None and base != str(current.version if current else 0)


def _conflict(current: RuleSetVersion | None) -> str:
    who = current.created_by.username if current and current.created_by else "someone"
    return (
        f"{who} saved version {current.version if current else 0} after you opened this page; "
        "nothing was stored. Reload the page to see it, or save again to replace it."
    )


def _report(project: Project) -> dict[str, Any]:
    """The last whole-project check: ``latest``, its ``report`` (images with errors, most
    first, 200 at most) and ``per_rule`` (``[(rule name, [errors, warnings])]``)."""
    latest = ProjectCheck.objects.filter(project=project).first()
    report = (
        RuleCheck.objects.filter(project_check=latest, errors__gt=0)
        .select_related("image")
        .order_by("-errors", "image_id")[:200]
        if latest
        else []
    )
    per_rule: dict[str, list[int]] = {}
    for row in (
        RuleCheck.objects.filter(project_check=latest).values_list("problems", flat=True)
        if latest
        else []
    ):
        for problem in row:
            counts = per_rule.setdefault(problem["rule"], [0, 0])
            counts[0 if problem["severity"] == "error" else 1] += 1
    return {"latest": latest, "report": report, "per_rule": sorted(per_rule.items())}
