"""The Quality rules page in a real browser: a manager turns on a built-in rule with the
form and the page then lists it (a reviewer reads it without a form); a custom rule added
with the form's button is refused with its line number."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import PASSWORD
from webapp.projects.models import LabelClass, Membership, Project
from webapp.qualityrules.models import RuleSetVersion

pytestmark = pytest.mark.django_db(transaction=True)

SCREENSHOT = "/tmp/rules-form.png"


def test_a_manager_turns_on_minimum_area_for_a_class_with_the_form(
    live_server: Any, e2e_settings: Any, django_user_model: Any, signed_in: Any
) -> None:
    owner = django_user_model.objects.create_user("owner", password=PASSWORD)
    project = Project.create_with_owner(owner, name="Street")
    car = LabelClass.objects.create(project=project, name="car", color="#00a0ff")
    LabelClass.objects.create(project=project, name="bus", color="#ff8000")
    reviewer = django_user_model.objects.create_user("rita", password=PASSWORD)
    Membership.objects.create(project=project, user=reviewer, role="reviewer")
    url = f"{live_server.url}/projects/{project.pk}/quality-rules/"
    page = signed_in(live_server.url, "owner")
    page.goto(url)
    rule = page.locator('fieldset[data-builtin="min_area"]')

    rule.get_by_label("Minimum area per class").check()
    rule.get_by_label("Name").fill("small cars")
    rule.get_by_label("car").fill("150")
    page.click("#save-rules")
    page.wait_for_selector("text=Version 1, saved")

    saved = RuleSetVersion.current(project)
    assert saved is not None and saved.rules == [
        {
            "name": "small cars",
            "builtin": "min_area",
            "params": {"areas": {"car": 150}, "severity": "error"},
        }
    ]
    rule = page.locator('fieldset[data-builtin="min_area"]')
    assert rule.get_by_label("Minimum area per class").is_checked()
    assert rule.get_by_label("Name").input_value() == "small cars"
    assert rule.locator(f'input[name$="-areas-{car.pk}"]').input_value() == "150"
    assert page.locator("#project-check button").is_enabled()
    page.screenshot(path=SCREENSHOT, full_page=True)
    assert not [line for line in page.console_lines if line.startswith(("error", "pageerror"))]

    # A custom rule added with the form's button, refused with its line; nothing stored.
    page.click("#add-rule")
    custom = page.locator("fieldset#c-0")
    custom.get_by_label("Name").fill("paths")
    custom.locator("textarea").fill("def check(image):\n    import os\n    return []\n")
    page.click("#save-rules")
    page.wait_for_selector("#form-errors")
    assert custom.locator(".rule-errors").inner_text().startswith("line 2: rule code may not")
    assert custom.get_by_label("Name").input_value() == "paths"
    assert RuleSetVersion.objects.filter(project=project).count() == 1
    page.screenshot(path=SCREENSHOT.replace(".png", "-error.png"), full_page=True)

    other = signed_in(live_server.url, "rita")
    other.goto(url)
    listed = other.locator('#rules-list [data-builtin="min_area"]')
    assert "small cars" in listed.inner_text() and "car: 150" in listed.inner_text()
    assert other.locator("#rules input, #rules textarea, #rules select").count() == 0
