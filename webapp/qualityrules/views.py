"""The project's "Quality rules" page: the rules in force (managers edit them: built-ins
with their parameters and custom Python, as one JSON list; errors shown with rule and line
numbers, nothing stored), whole-project checks, and the last check's report."""

from __future__ import annotations

import json

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from qualityrules.builtin import BUILTINS
from webapp.projects.access import project_for
from webapp.projects.models import Action, role_allows
from webapp.qualityrules.jobs import start_project_check
from webapp.qualityrules.models import ProjectCheck, RuleCheck, RuleSetVersion
from webapp.qualityrules.validation import clean_rules


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def quality_rules_page(request: HttpRequest, pk: int) -> HttpResponse:
    action = Action.MANAGE if request.method == "POST" else Action.VIEW
    project = project_for(request.user, pk, action)
    current = RuleSetVersion.current(project)
    text = json.dumps(current.rules if current else [], indent=2)
    errors: list[dict[str, object]] = []
    if request.method == "POST" and request.POST.get("do") == "check":
        if start_project_check(project, request.user) is None:
            errors = [{"rule": None, "name": "", "line": None, "message": "No rules to check."}]
        else:
            return redirect("qualityrules:page", pk=project.pk)
    elif request.method == "POST":
        text = request.POST.get("rules", "")
        try:
            raw = json.loads(text)
        except json.JSONDecodeError as exc:
            errors = [{"rule": None, "name": "", "line": exc.lineno, "message": exc.msg}]
        else:
            rules, errors = clean_rules(raw)
            if not errors:
                RuleSetVersion.save_new(project, rules, request.user)
                return redirect("qualityrules:page", pk=project.pk)
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
    return render(
        request,
        "qualityrules/page.html",
        {
            "project": project,
            "current": current,
            "text": text,
            "errors": errors,
            "builtins": BUILTINS,
            "can_manage": role_allows(project.role_of(request.user), Action.MANAGE),
            "latest": latest,
            "report": report,
            "per_rule": sorted(per_rule.items()),
        },
        status=400 if errors else 200,
    )
