"""Mask proposals and class suggestions in the annotator, in a real browser on a real
MobileSAM embedding: proposals are outlined, one is hovered, selected and accepted with a
class's key, all above a predicted IoU are accepted with one class (and one undo deletes
them all), P hides them (a click is a SAM point again), and a new mask gets the class its
labelled neighbours suggest, never over a class the user chose (one not confident enough
is only a hint, taken with its key)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from tests.e2e.test_annotator import click, decodes, open_annotator, reference_mask, save
from tests.e2e.test_annotator import screen_point as image_to_screen
from webapp.annotations import rle
from webapp.annotations.models import Annotation
from webapp.annotations.services import create_annotation
from webapp.projects.models import LabelClass
from webapp.proposals.models import Proposal, ProposalRun

pytestmark = pytest.mark.django_db(transaction=True)


def stage(page: Any, name: str) -> str:
    return page.locator("#annotator-stage").get_attribute(f"data-{name}") or ""


def wait_for_stage(page: Any, name: str, value: str) -> None:
    """Until the stage's ``data-<name>`` attribute is ``value``."""
    attribute = "".join(part.capitalize() if i else part for i, part in enumerate(name.split("-")))
    page.wait_for_function(
        f"() => document.getElementById('annotator-stage').dataset.{attribute} === {value!r}"
    )


def wait_for_rows(page: Any, count: int) -> None:
    """Until the side panel lists ``count`` annotations."""
    page.wait_for_function(
        f"() => document.querySelectorAll('#annotator-annotations li').length === {count}"
    )


def rectangle(image: Any, x0: int, y0: int, x1: int, y1: int) -> np.ndarray:
    mask = np.zeros((image.height, image.width), dtype=bool)
    mask[y0:y1, x0:x1] = True
    return mask


def label_cups_and_background(s: Any, image: Any) -> LabelClass:
    """Three labelled cups (class "cup", made here) and three labelled background patches
    (the scene's class), pooled on saving: enough for class suggestions. The cup class."""
    cup = LabelClass.objects.create(project=s.project, name="cup", color="#ff8800", shortcut="c")
    for x, y in [(290, 150), (300, 160), (280, 140)]:
        mask = reference_mask(image, [[x, y]], [1])
        create_annotation(image, author=s.owner, label_class=cup.pk, rle=rle.encode(mask))
    for x0 in (0, 120, 480):
        mask = rectangle(image, x0, 330, x0 + 100, 400)
        create_annotation(image, author=s.owner, label_class=s.label.pk, rle=rle.encode(mask))
    return cup


def store_proposals(image: Any, masks: list[tuple[np.ndarray, float]]) -> list[Proposal]:
    """Proposals of ``image`` as a finished run of the worker stores them."""

    class Mask:
        def __init__(self, mask: np.ndarray, predicted_iou: float) -> None:
            ys, xs = np.nonzero(mask)
            self.rle = rle.encode(mask)
            self.area = int(mask.sum())
            self.bbox = rle.bbox(self.rle)
            self.predicted_iou = predicted_iou
            self.stability = 0.97
            self.point = (float(xs.mean()), float(ys.mean()))

    run, _ = ProposalRun.objects.get_or_create(image=image, model=image.project.model)
    assert run.claim()
    assert run.store([Mask(mask, iou) for mask, iou in masks], {"points_per_side": 32}, 0.1)
    return list(Proposal.objects.filter(image=image).order_by("-predicted_iou"))


def test_proposals_are_outlined_hovered_and_accepted_with_a_class_key(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    first, second, third = store_proposals(
        image,
        [
            (rectangle(image, 40, 40, 140, 140), 0.97),
            (rectangle(image, 420, 250, 520, 330), 0.93),
            (rectangle(image, 450, 40, 560, 110), 0.85),
        ],
    )
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    wait_for_stage(page, "proposals-shown", "3")
    assert "3 of 3 not yet labelled" in page.locator("#annotator-proposals-count").text_content()

    # The cursor rests on the first: it is highlighted; a click selects it (no SAM point).
    before = decodes(page)
    page.mouse.move(*image_to_screen(page, image, 90, 90))
    wait_for_stage(page, "proposal-hovered", str(first.pk))
    page.mouse.click(*image_to_screen(page, image, 90, 90))
    wait_for_stage(page, "proposal-selected", str(first.pk))
    assert decodes(page) == before

    # The class's key accepts it at once, as an annotation of that class.
    page.keyboard.press("t")
    wait_for_rows(page, 1)
    accepted = Annotation.objects.get(image=image)
    assert (accepted.source, accepted.proposal_id) == ("proposal", first.pk)
    assert accepted.label_class == s.label
    assert np.array_equal(rle.decode(accepted.rle), rectangle(image, 40, 40, 140, 140))
    # Now covered by a saved annotation, it fades and can no longer be picked.
    wait_for_stage(page, "proposals-shown", "2")

    # All above 0.9 with one class: only the second (the first is taken, the third 0.85).
    page.fill("#annotator-accept-min-iou", "0.9")
    page.click("#annotator-accept-all")
    wait_for_rows(page, 2)
    made = Annotation.objects.filter(image=image, proposal_id=second.pk)
    assert made.count() == 1 and made.get().source == "proposal"
    assert not Annotation.objects.filter(proposal_id=third.pk).exists()
    assert "1 proposal accepted as thing" in page.locator("#annotator-status").text_content()

    # P hides them: a click on the third is a SAM point again, saved as ever.
    page.keyboard.press("p")
    wait_for_stage(page, "proposals-shown", "")
    click(page, image, 500, 75)
    assert stage(page, "proposal-selected") == ""
    save(page)
    assert Annotation.objects.filter(image=image, source="manual").count() == 1


def status_is(page: Any, text: str) -> None:
    """Until the status line says ``text``."""
    page.wait_for_function(
        f"() => document.getElementById('annotator-status').textContent === {text!r}"
    )


def test_one_undo_deletes_every_annotation_an_accept_all_made(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    first, second, third = store_proposals(
        image,
        [
            (rectangle(image, 40, 40, 140, 140), 0.97),
            (rectangle(image, 420, 250, 520, 330), 0.93),
            (rectangle(image, 450, 40, 560, 110), 0.85),
        ],
    )
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    wait_for_stage(page, "proposals-shown", "3")
    # One accepted by hand first: a step of its own, which the undo must leave alone.
    page.mouse.move(*image_to_screen(page, image, 90, 90))
    wait_for_stage(page, "proposal-hovered", str(first.pk))
    page.mouse.click(*image_to_screen(page, image, 90, 90))
    wait_for_stage(page, "proposal-selected", str(first.pk))
    page.keyboard.press("t")
    wait_for_rows(page, 1)
    by_hand = Annotation.objects.get(image=image)

    page.fill("#annotator-accept-min-iou", "0.8")
    page.click("#annotator-accept-all")
    wait_for_rows(page, 3)
    status_is(page, "2 proposals accepted as thing; Ctrl+Z deletes them.")
    made = Annotation.objects.filter(image=image).exclude(pk=by_hand.pk)
    assert sorted(made.values_list("proposal_id", flat=True)) == sorted([second.pk, third.pk])
    wait_for_stage(page, "proposals-shown", "0")

    # One Ctrl+Z deletes both, through the API; the proposals are open again.
    page.keyboard.press("Control+z")
    wait_for_rows(page, 1)
    status_is(page, "Undone: accept-all of 2 proposals.")
    assert list(Annotation.objects.filter(image=image)) == [by_hand]
    wait_for_stage(page, "proposals-shown", "2")
    assert "2 of 3 not yet labelled" in page.locator("#annotator-proposals-count").text_content()

    # Redo saves both again, still as made from their proposals, in one step too.
    page.keyboard.press("Control+Shift+z")
    wait_for_rows(page, 3)
    status_is(page, "Redone: accept-all of 2 proposals.")
    again = Annotation.objects.filter(image=image).exclude(pk=by_hand.pk)
    assert sorted(again.values_list("proposal_id", flat=True)) == sorted([second.pk, third.pk])
    assert {a.label_class_id for a in again} == {s.label.pk}
    # The next undo takes back that redo, and the one after it the hand-accepted proposal.
    page.keyboard.press("Control+z")
    wait_for_rows(page, 1)
    page.keyboard.press("Control+z")
    wait_for_rows(page, 0)
    assert not Annotation.objects.filter(image=image).exists()


def test_accept_all_with_suggested_classes_labels_only_the_confident_proposals(
    scene, signed_in, django_user_model
):
    from tests.e2e.conftest import PASSWORD
    from webapp.projects.models import Membership
    from webapp.suggestions import feature_for_mask
    from webapp.suggestions.models import feature_bytes

    s = scene("coffee")
    image = s.images["coffee"]
    label_cups_and_background(s, image)
    # Two new proposals of background; the second without a pooled feature, so with no
    # suggestion at all.
    patch, bare = store_proposals(
        image,
        [(rectangle(image, 300, 330, 400, 400), 0.95), (rectangle(image, 40, 40, 140, 100), 0.93)],
    )
    feature = feature_for_mask(image, patch.rle)
    assert feature is not None
    Proposal.objects.filter(pk=patch.pk).update(feature=feature_bytes(feature))

    annotator = django_user_model.objects.create_user("ann", password=PASSWORD)
    Membership.objects.create(project=s.project, user=annotator, role="annotator")
    page = signed_in(s.url, "ann")
    open_annotator(page, s.url, s.project, image)
    wait_for_stage(page, "proposals-shown", "2")
    page.fill("#annotator-accept-min-iou", "0.9")
    page.click("#annotator-accept-suggested")
    wait_for_rows(page, 7)
    status_is(
        page,
        "1 proposal accepted with its suggested class, 1 left open (no confident suggestion);"
        " Ctrl+Z deletes it.",
    )
    made = Annotation.objects.get(image=image, proposal_id=patch.pk)
    assert (made.label_class, made.source, made.class_suggested) == (s.label, "proposal", True)
    assert not Annotation.objects.filter(proposal_id=bare.pk).exists()
    wait_for_stage(page, "proposals-shown", "1")
    # Its row tells a reviewer that no person chose its class.
    row = page.locator(f'#annotator-annotations li[data-annotation-id="{made.pk}"]')
    assert row.get_attribute("data-class-suggested") == "1"
    assert "· proposal, class suggested ·" in row.text_content()

    page.keyboard.press("Control+z")
    wait_for_rows(page, 6)
    assert not Annotation.objects.filter(proposal_id=patch.pk).exists()


def test_a_selected_proposal_is_refined_by_further_clicks(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    # A rough proposal of the cup, made from a point on it.
    cup = reference_mask(image, [[290, 150]], [1])
    (proposal,) = store_proposals(image, [(cup, 0.9)])
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    wait_for_stage(page, "proposals-shown", "1")
    ys, xs = np.nonzero(cup)
    inside = (int(xs[len(xs) // 2]), int(ys[len(ys) // 2]))
    page.mouse.move(*image_to_screen(page, image, *inside))
    wait_for_stage(page, "proposal-hovered", str(proposal.pk))
    page.mouse.click(*image_to_screen(page, image, *inside))
    wait_for_stage(page, "proposal-selected", str(proposal.pk))

    # A click refines it: SAM decodes the proposal's point and this click together.
    click(page, image, 100, 100, button="right")
    assert stage(page, "proposal-selected") == ""
    save(page)
    saved = Annotation.objects.get(image=image)
    assert saved.prompts["labels"] == [1, 0]
    assert saved.prompts["points"][0] == [
        pytest.approx(proposal.point[0], abs=1),
        pytest.approx(proposal.point[1], abs=1),
    ]


def test_a_new_mask_gets_the_class_its_labelled_neighbours_suggest(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    cup = label_cups_and_background(s, image)

    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    # The suggestion's answer is held back until the user has chosen a class for the object.
    held: list[Any] = []
    page.route("**/suggest-class/", lambda route: held.append(route))
    with page.expect_request("**/suggest-class/"):
        click(page, image, 295, 155)
    page.keyboard.press("t")  # the user's own class, chosen while the question is out...
    with page.expect_response("**/suggest-class/") as answer:
        held.pop().continue_()
    assert answer.value.ok and answer.value.json()["suggestions"][0]["label_class"] == cup.pk
    # Six labelled annotations are too few to measure the project's bar: half the votes.
    assert answer.value.json()["preselect_at"] == 0.5
    assert answer.value.json()["suggestions"][0]["preselect"] is True
    # ...is theirs for this object: the answer, a cup, was dealt with and replaced nothing.
    wait_for_stage(page, "suggestion-answers", "1")
    assert stage(page, "suggested") == ""
    current = page.locator("#annotator-labels .label.current").get_attribute("data-label-class")
    assert current == str(s.label.pk)
    page.unroute("**/suggest-class/")
    page.keyboard.press("Escape")

    # The next object: its mask is a cup's, and cup is pre-selected with its confidence.
    click(page, image, 285, 145)
    wait_for_stage(page, "suggested", str(cup.pk))
    assert page.locator("#annotator-suggestion").text_content().startswith("suggested: cup ")
    save(page)
    newest = Annotation.objects.filter(image=image).latest("pk")
    assert newest.label_class == cup
    # The suggestion was for that object only: the user's class is current again.
    wait_for_stage(page, "suggested", "")
    current = page.locator("#annotator-labels .label.current").get_attribute("data-label-class")
    assert current == str(s.label.pk)


def test_a_suggestion_not_confident_enough_is_a_hint_taken_with_its_key(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    cup = label_cups_and_background(s, image)

    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)

    # The server's real ranking, as a project whose bar the vote does not reach sends it
    # (the API tests cover when that is): the first class not marked to pre-select.
    def not_confident(route: Any) -> None:
        response = route.fetch()
        body = response.json()
        for suggestion in body["suggestions"]:
            suggestion["preselect"] = False
        route.fulfill(response=response, json=body)

    page.route("**/suggest-class/", not_confident)
    click(page, image, 285, 145)
    wait_for_stage(page, "hinted", str(cup.pk))
    # Shown, with its confidence and key, but the current class is still the user's.
    assert stage(page, "suggested") == ""
    hint = page.locator("#annotator-suggestion").text_content()
    assert hint.startswith("maybe: cup ") and hint.endswith("% (key c)")
    assert page.locator('#annotator-labels .label[data-hinted="1"]').get_attribute(
        "data-label-class"
    ) == str(cup.pk)
    current = page.locator("#annotator-labels .label.current").get_attribute("data-label-class")
    assert current == str(s.label.pk)

    # The user takes it with the class's key: the hint ends and the mask is saved as a cup.
    page.keyboard.press("c")
    wait_for_stage(page, "hinted", "")
    save(page)
    assert Annotation.objects.filter(image=image).latest("pk").label_class == cup


def test_proposals_still_being_made_appear_by_themselves_once_made(scene, signed_in):
    """An image opened before the worker made its proposals (a CPU run takes seconds to a
    minute): the panel says they are on their way, and they appear when made, the ones
    already covered by what the user saved meanwhile faded."""
    s = scene("coffee")
    image = s.images["coffee"]
    s.project.proposals_enabled = True
    s.project.save(update_fields=["proposals_enabled"])
    run, _ = ProposalRun.objects.get_or_create(image=image, model=image.project.model)
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    wait_for_stage(page, "proposals-run", "pending")
    count = page.locator("#annotator-proposals-count")
    assert "waiting for the worker" in count.text_content()
    assert not page.locator("#annotator-accept-all").is_visible()

    assert run.claim()
    wait_for_stage(page, "proposals-run", "running")
    assert "being made by the worker" in count.text_content()
    # Meanwhile the user labels the cup with SAM.
    click(page, image, 290, 150)
    save(page)
    cup = rle.decode(Annotation.objects.get(image=image).rle)

    class Mask:
        def __init__(self, mask: np.ndarray) -> None:
            ys, xs = np.nonzero(mask)
            self.rle, self.area = rle.encode(mask), int(mask.sum())
            self.bbox, self.predicted_iou, self.stability = rle.bbox(self.rle), 0.95, 0.97
            self.point = (float(xs.mean()), float(ys.mean()))

    assert run.store([Mask(cup), Mask(rectangle(image, 40, 40, 140, 140))], {}, 0.1)
    wait_for_stage(page, "proposals-shown", "1")  # the cup's proposal is covered
    assert stage(page, "proposals-run") == ""
    assert "1 of 2 not yet labelled" in count.text_content()
    assert page.locator("#annotator-accept-all").is_visible()


def test_a_failed_proposals_run_is_said_in_the_panel(scene, signed_in):
    s = scene("coffee")
    image = s.images["coffee"]
    run, _ = ProposalRun.objects.get_or_create(image=image, model=image.project.model)
    assert run.claim() and run.fail("the worker ran out of memory")
    page = signed_in(s.url, "owner")
    open_annotator(page, s.url, s.project, image)
    wait_for_stage(page, "proposals-run", "failed")
    text = page.locator("#annotator-proposals-count").text_content()
    assert "could not be made: the worker ran out of memory" in text
