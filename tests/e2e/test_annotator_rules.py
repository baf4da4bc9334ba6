"""Quality rules in the annotator, in a real browser: Pyodide starts from the server's
own files in a worker once the page is idle, the project's rules (a built-in and a
manager's Python) run on each save, a problem's click selects its annotation, an error
holds Ctrl+Enter until a reason is given, and the reason reaches the server with the
submit. When the browser's rules are not ready yet (Pyodide still loading), the server's
refusal brings its problems to the panel and the same question. No request leaves the
machine."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlparse

import pytest

from tests.e2e.conftest import PASSWORD
from tests.e2e.test_annotator import click, save
from tests.e2e.test_annotator_queue import member, submitted_with_an_annotation, wait_for_text
from webapp.qualityrules.models import RuleCheck, RuleSetVersion
from webapp.workflow.models import WorkItem, WorkState

pytestmark = pytest.mark.django_db(transaction=True)

RULES = [
    # Every mask of the class is smaller than this: an error.
    {"name": "big things", "builtin": "min_area", "params": {"areas": {"thing": 10**7}}},
    {
        "name": "counted",
        "source": "def check(image):\n"
        "    return [warning(f'{len(image.annotations)} on {image.name}')]\n",
    },
]


def annotator_page(scene: Any, signed_in: Any, django_user_model: Any) -> Any:
    from webapp.projects.models import Membership

    user = django_user_model.objects.create_user("ann", password=PASSWORD)
    Membership.objects.create(project=scene.project, user=user, role="annotator")
    page = signed_in(scene.url, "ann")
    page.requested = []
    page.on("request", lambda request: page.requested.append(request.url))
    return page


def stage(page: Any, name: str) -> str:
    return page.evaluate(
        f"() => document.getElementById('annotator-stage').dataset[{name!r}] ?? ''"
    )


def wait_for_stage(page: Any, name: str, value: str, timeout: float = 30_000) -> None:
    page.wait_for_function(
        f"() => document.getElementById('annotator-stage').dataset[{name!r}] === {value!r}",
        timeout=timeout,
    )


def assert_only_local_requests(page: Any) -> None:
    hosts = {urlparse(url).hostname for url in page.requested if not url.startswith("data:")}
    assert hosts <= {"localhost", "127.0.0.1"}, hosts


def test_rules_run_in_the_browser_and_errors_need_a_reason_to_submit(
    scene, signed_in, django_user_model
):
    s = scene("coffee", "chelsea")
    RuleSetVersion.save_new(s.project, RULES, s.owner)
    coffee = s.images["coffee"]
    page = annotator_page(s, signed_in, django_user_model)

    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-labelling")
    page.wait_for_function(
        "() => document.getElementById('annotator-image-name')?.textContent === 'coffee.png'"
    )
    wait_for_stage(page, "rules", "ready", timeout=180_000)
    # The image without annotations: only the custom rule's warning.
    wait_for_stage(page, "rulesWarnings", "1")
    assert "0 on coffee.png" in page.locator("#annotator-rules").text_content()

    click(page, coffee, 290, 150)
    save(page)
    wait_for_stage(page, "rulesErrors", "1")
    problems = page.locator("#annotator-rules li")
    assert "1 on coffee.png" in page.locator("#annotator-rules").text_content()
    error = page.locator("#annotator-rules li[data-severity=error]")
    assert "big things" in error.text_content()

    # A problem's click selects the annotation it concerns.
    annotation_id = error.get_attribute("data-annotations")
    error.click()
    page.wait_for_selector(
        f"#annotator-annotations li.selected[data-annotation-id='{annotation_id}']"
    )
    assert problems.count() == 2

    # Ctrl+Enter asks why; cancelling keeps the image, a reason submits it.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#annotator-reason[open]")
    assert "quality rules found 1 error" in page.locator("#annotator-reason").text_content()
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.includes('Not submitted')"
    )
    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.ANNOTATING

    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#annotator-reason[open]")
    page.fill("#annotator-reason input", "the cup is small in this photo")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('annotator-image-name')?.textContent === 'chelsea.png'",
        timeout=60_000,
    )

    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.SUBMITTED
    check = RuleCheck.objects.get(image=coffee, kind="submit")
    assert (check.errors, check.reason) == (1, "the cup is small in this photo")
    assert check.problems[0]["annotation_ids"] == [int(annotation_id)]
    # The next image is checked by the same worker: no second start.
    wait_for_stage(page, "rulesChecked", f"{s.images['chelsea'].pk}:")
    assert sum("pyodide.asm.wasm" in url for url in page.requested) == 1
    assert_only_local_requests(page)


def test_a_project_without_rules_loads_no_pyodide(scene, signed_in, django_user_model):
    s = scene("coffee")
    page = annotator_page(s, signed_in, django_user_model)

    page.goto(f"{s.url}/projects/{s.project.pk}/images/{s.images['coffee'].pk}/annotate/")
    wait_for_stage(page, "rules", "none")

    assert not any("pyodide" in url or "rules.worker" in url for url in page.requested)
    assert page.locator("#annotator-rules-section").is_hidden()
    assert stage(page, "rulesErrors") == ""
    assert_only_local_requests(page)


def hold_pyodide(page: Any) -> list[Any]:
    """Pyodide's files are never answered (as on a slow first load): the browser's rules
    stay loading. Returns the held requests' routes."""
    held: list[Any] = []

    def hold(route: Any) -> None:
        held.append(route)

    page.context.route("**/pyodide-*/**", hold)
    return held


def test_a_submit_before_the_browser_rules_are_ready_asks_why_from_the_server_answer(
    scene, signed_in, django_user_model
):
    s = scene("coffee", "chelsea")
    RuleSetVersion.save_new(s.project, RULES[:1], s.owner)  # the built-in: an error
    coffee = s.images["coffee"]
    page = annotator_page(s, signed_in, django_user_model)
    held = hold_pyodide(page)

    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-labelling")
    page.wait_for_function(
        "() => document.getElementById('annotator-image-name')?.textContent === 'coffee.png'"
    )
    click(page, coffee, 290, 150)
    save(page)
    wait_for_stage(page, "rules", "loading")
    page.wait_for_function("() => document.querySelector('#annotator-rules li') === null")

    # The server refuses; its problems are listed and the same question is asked.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#annotator-reason[open]")
    assert "quality rules found 1 error" in page.locator("#annotator-reason").text_content()
    error = page.locator("#annotator-rules li[data-severity=error]")
    assert "big things" in error.text_content()
    annotation_id = error.get_attribute("data-annotations")
    assert "rules version 1" in page.locator("#annotator-rules-summary").text_content()
    assert stage(page, "rules") == "loading"  # the browser's own check never ran

    # Cancelling moves nothing.
    page.keyboard.press("Escape")
    page.wait_for_function(
        "() => document.getElementById('annotator-status').textContent.includes('Not submitted')"
    )
    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.ANNOTATING
    assert not RuleCheck.objects.filter(image=coffee).exists()

    # A reason submits it, and the next image comes.
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#annotator-reason[open]")
    page.fill("#annotator-reason input", "the cup is far from the camera")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('annotator-image-name')?.textContent === 'chelsea.png'",
        timeout=60_000,
    )

    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.SUBMITTED
    check = RuleCheck.objects.get(image=coffee, kind="submit")
    assert (check.errors, check.reason) == (1, "the cup is far from the camera")
    assert check.problems[0]["annotation_ids"] == [int(annotation_id)]
    assert held  # Pyodide was asked for, and never came
    assert_only_local_requests(page)
    for route in held:
        route.abort()


def test_an_accept_refused_by_the_server_rules_asks_the_reviewer_why(
    scene, signed_in, django_user_model
):
    s = scene("coffee")
    RuleSetVersion.save_new(s.project, RULES[:1], s.owner)
    coffee = s.images["coffee"]
    ann = member(s, "ann", "annotator", django_user_model)
    member(s, "rita", "reviewer", django_user_model)
    submitted_with_an_annotation(s, coffee, ann)
    page = signed_in(s.url, "rita")
    held = hold_pyodide(page)

    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-reviewing")
    wait_for_text(page, "#annotator-annotations", "by ann")
    page.keyboard.press("a")  # the only annotation accepted: the image is accepted next

    page.wait_for_selector("#annotator-reason[open]")
    assert "Accept anyway?" in page.locator("#annotator-reason").text_content()
    assert "big things" in page.locator("#annotator-rules li[data-severity=error]").text_content()
    page.fill("#annotator-reason input", "the cup is far away")
    page.keyboard.press("Enter")
    page.locator("#annotator-end").wait_for(state="visible")

    assert WorkItem.objects.get(pk=coffee.pk).state == WorkState.ACCEPTED
    check = RuleCheck.objects.get(image=coffee, kind="accept")
    assert (check.errors, check.reason) == (1, "the cup is far away")
    assert stage(page, "rules") in {"waiting", "loading"}  # never checked in the browser
    assert stage(page, "rulesChecked") == ""
    for route in held:
        route.abort()


def test_the_reviewer_reads_why_the_annotator_submitted_despite_errors(
    scene, signed_in, django_user_model
):
    s = scene("coffee", "chelsea")
    RuleSetVersion.save_new(s.project, RULES[:1], s.owner)
    coffee, chelsea = s.images["coffee"], s.images["chelsea"]
    ann = member(s, "ann", "annotator", django_user_model)
    member(s, "rita", "reviewer", django_user_model)
    for image, reason, errors in ((coffee, "the cup is far away", 1), (chelsea, "", 0)):
        submitted_with_an_annotation(s, image, ann)
        RuleCheck.objects.create(
            project=s.project, image=image, kind="submit", ruleset_version=1,
            errors=errors, reason=reason, checked_by=ann,
        )  # fmt: skip
    page = signed_in(s.url, "rita")
    held = hold_pyodide(page)  # the note comes from the server, not the browser's rules

    page.goto(f"{s.url}/projects/{s.project.pk}/")
    page.click("#start-reviewing")
    wait_for_text(page, "#annotator-annotations", "by ann")
    wait_for_stage(page, "rulesReason", "shown")
    note = page.locator("#annotator-rules-reason")
    assert note.is_visible()
    assert note.text_content() == (
        "Submitted by ann despite 1 error (rules version 1): “the cup is far away”"
    )
    name = page.locator("#annotator-image-name").text_content()
    assert name == "coffee.png"

    # The next image went through without errors: no note. (Accepting this one asks the
    # reviewer why too: the server finds the same error.)
    page.keyboard.press("Shift+A")
    page.wait_for_selector("#annotator-reason[open]")
    page.fill("#annotator-reason input", "agreed, it is far away")
    page.keyboard.press("Enter")
    page.wait_for_function(
        "() => document.getElementById('annotator-image-name')?.textContent === 'chelsea.png'",
        timeout=60_000,
    )
    wait_for_stage(page, "rulesReason", "none")
    assert note.is_hidden()
    for route in held:
        route.abort()
