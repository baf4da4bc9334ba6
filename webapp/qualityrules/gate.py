"""The rules at submit and accept: called by :func:`webapp.workflow.rules.perform` before
those moves. The image is checked with the project's current rules and the result is
stored; errors refuse the move unless the person gives a reason, which is kept with the
result (the reviewer reads it).

A refusal for errors is a :class:`RulesRefused`: besides its sentence it carries the
problems and the rules' version, so that the workflow API answers them in its 409 body
(``problems``, ``rules_version``) and a page that could not check the image itself (its
rules' worker not ready yet) can list them and ask for the reason."""

from __future__ import annotations

from typing import Any

from webapp.qualityrules.checking import check, count, image_data, images_with_annotations
from webapp.qualityrules.models import CheckKind, RuleCheck, RuleSetVersion
from webapp.qualityrules.sandbox import SandboxUnavailable
from webapp.workflow.models import WorkItem
from webapp.workflow.rules import MoveRefused


class RulesRefused(MoveRefused):
    """A move refused for the rules' errors (409): ``problems`` are the image's problem
    dicts in rule order (``{"rule", "severity", "message", "annotation_ids"}``, warnings
    included), ``rules_version`` the version of the rules that found them."""

    def __init__(
        self, message: str, item: WorkItem, problems: list[dict[str, Any]], rules_version: int
    ) -> None:
        super().__init__(message, 409, item)
        self.problems = problems
        self.rules_version = rules_version

    def body(self) -> dict[str, Any]:
        """The API's answer: ``detail`` (the sentence), ``problems``, ``rules_version``."""
        return {
            "detail": str(self),
            "problems": self.problems,
            "rules_version": self.rules_version,
        }


def check_before_move(item: WorkItem, action: str, user: Any, reason: str) -> RuleCheck | None:
    """Check ``item``'s image for ``action`` ("submit" or "accept"); raise
    :class:`RulesRefused` (409) when it has errors and ``reason`` is blank. None when the
    project has no rules (read from the project's row, which the move has already: no
    query)."""
    version = item.project.quality_rules_version
    if not version:
        return None
    ruleset = RuleSetVersion.objects.filter(project_id=item.project_id, version=version).first()
    if ruleset is None or not ruleset.rules:
        return None
    (image,) = images_with_annotations([item.image_id])
    try:
        run = check(ruleset, [image_data(image)])
    except SandboxUnavailable as exc:
        raise MoveRefused(f"The quality rules could not run: {exc}", 503, item) from exc
    problems = run.problems[0]
    errors, warnings = count(problems)
    reason = reason.strip()
    if errors and not reason:
        listed = "; ".join(p["message"] for p in problems if p["severity"] == "error")
        raise RulesRefused(
            f"The quality rules (version {ruleset.version}) found "
            f"{errors} error{'s' if errors != 1 else ''}: {listed[:1500]}. "
            f"Fix them, or give a reason to {action} anyway.",
            item,
            problems,
            ruleset.version,
        )
    return RuleCheck.objects.create(
        project_id=item.project_id,
        image=image,
        kind=CheckKind.SUBMIT if action == "submit" else CheckKind.ACCEPT,
        ruleset_version=ruleset.version,
        problems=problems,
        errors=errors,
        warnings=warnings,
        reason=reason if errors else "",
        checked_by=user if getattr(user, "is_authenticated", False) else None,
    )
