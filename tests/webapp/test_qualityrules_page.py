"""The Quality rules page's form: it shows the rules in force, saves built-ins with their
parameters and custom code as a new version, shows errors beside the rule they concern
(with line numbers for code) and stores nothing then; members who may not manage see the
rules without a form; the JSON editor still saves."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any

import pytest

from qualityrules.builtin import BUILTINS
from tests.webapp.conftest import AddMember, MakeProject, MakeUser
from webapp.projects.models import LabelClass
from webapp.qualityrules.form import PARAMS
from webapp.qualityrules.models import RuleSetVersion
from webapp.qualityrules.validation import clean_rules

HORIZON = "def check(image):\n    return []\n"
STORED: list[dict[str, Any]] = [
    {"name": "big cars", "builtin": "min_area", "params": {"areas": {"car": 100}}},
    {"name": "horizon", "source": HORIZON},
]
# STORED's built-in as the form and the JSON editor store it: defaults filled in.
BIG_CARS = {
    "name": "big cars",
    "builtin": "min_area",
    "params": {"areas": {"car": 100}, "severity": "error"},
}


class FormFields(HTMLParser):
    """The fields a browser would send for the form ``form_id`` (no button pressed):
    ``[(name, value)]`` of its inputs, checked boxes, selected options and text areas."""

    def __init__(self, form_id: str) -> None:
        super().__init__()
        self.form_id, self.inside = form_id, False
        self.fields: list[tuple[str, str]] = []
        self.select: str | None = None
        self.textarea: str | None = None
        self.text = ""
        self.controls = 0  # inputs, selects, text areas and buttons anywhere in the page

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag in ("input", "select", "textarea", "button") and a.get("type") != "hidden":
            self.controls += 1
        if tag == "form":
            self.inside = a.get("id") == self.form_id
        if not self.inside or "name" not in a:
            if tag == "option" and self.select and "selected" in a:
                self.fields.append((self.select, a.get("value", "")))
            return
        if tag == "input" and a.get("type") in ("checkbox", "radio"):
            if "checked" in a:
                self.fields.append((a["name"], a.get("value", "on")))
        elif tag == "input":
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self.select = a["name"]
        elif tag == "textarea":
            self.textarea, self.text = a["name"], ""

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.inside = False
        elif tag == "select":
            self.select = None
        elif tag == "textarea" and self.textarea:
            # The HTML parser drops a newline right after <textarea>; this one does not.
            text = self.text[1:] if self.text.startswith("\n") else self.text
            self.fields.append((self.textarea, text))
            self.textarea = None

    def handle_data(self, data: str) -> None:
        if self.textarea:
            self.text += data


def read_form(page: Any, form_id: str = "rules-form") -> dict[str, list[str]]:
    parser = FormFields(form_id)
    parser.feed(page.content.decode())
    fields: dict[str, list[str]] = {}
    for name, value in parser.fields:
        fields.setdefault(name, []).append(value)
    return fields


def count_controls(page: Any) -> int:
    parser = FormFields("")
    parser.feed(page.content.decode())
    return parser.controls


def fieldset_of(fields: dict[str, list[str]], builtin: str) -> str:
    """The prefix (``b-<i>``) of the first fieldset for ``builtin``."""
    return next(k[: -len("-builtin")] for k, v in fields.items() if v == [builtin])


def without(fields: dict[str, list[str]], prefix: str) -> dict[str, list[str]]:
    return {k: v for k, v in fields.items() if not k.startswith(prefix + "-")}


@pytest.fixture
def team(make_project: MakeProject, make_user: MakeUser, add_member: AddMember) -> dict[str, Any]:
    owner = make_user(username="olga")
    project = make_project(owner=owner)
    people: dict[str, Any] = {"owner": owner, "outsider": make_user(username="eve")}
    for name, role in [("ann", "annotator"), ("rita", "reviewer"), ("max", "manager")]:
        people[name] = make_user(username=name)
        add_member(project, people[name], role)
    car = LabelClass.objects.create(project=project, name="car")
    bus = LabelClass.objects.create(project=project, name="bus")
    return {"project": project, "car": car, "bus": bus, **people}


def page_url(team: dict[str, Any]) -> str:
    return f"/projects/{team['project'].pk}/quality-rules/"


@pytest.fixture
def manager(team: dict[str, Any], client: Any) -> Any:
    client.force_login(team["max"])
    return client


def stored_rules(team: dict[str, Any]) -> list[dict[str, Any]] | None:
    current = RuleSetVersion.current(team["project"])
    return current.rules if current else None


def test_every_built_in_rule_has_its_inputs_on_the_form() -> None:
    assert set(PARAMS) == set(BUILTINS)


def test_the_form_shows_the_current_rules(team: dict[str, Any], manager: Any) -> None:
    RuleSetVersion.save_new(team["project"], STORED, team["max"])

    fields = read_form(manager.get(page_url(team)))

    b = fieldset_of(fields, "min_area")
    car, bus = team["car"].pk, team["bus"].pk
    assert fields[f"{b}-enabled"] == ["1"] and fields[f"{b}-name"] == ["big cars"]
    assert fields[f"{b}-severity"] == ["error"]
    assert (fields[f"{b}-areas-{car}"], fields[f"{b}-areas-{bus}"]) == (["100"], [""])
    assert f"{fieldset_of(fields, 'no_holes')}-enabled" not in fields  # not in use
    assert (fields["c-0-name"], fields["c-0-source"]) == (["horizon"], [HORIZON])
    assert (fields["base"], fields["c-count"]) == (["1"], ["1"])


def test_saving_a_built_in_with_parameters_makes_a_new_version(
    team: dict[str, Any], manager: Any
) -> None:
    RuleSetVersion.save_new(team["project"], STORED, team["max"])
    fields = read_form(manager.get(page_url(team)))
    b = fieldset_of(fields, "no_holes")
    fields |= {
        f"{b}-enabled": ["1"],
        f"{b}-name": ["no holes in buses"],
        f"{b}-severity": ["warning"],
        f"{b}-classes": [str(team["bus"].pk)],
        f"{b}-min_hole_area": ["5"],
    }

    saved = manager.post(page_url(team), {**fields, "do": "save"})

    assert saved.status_code == 302
    assert RuleSetVersion.current(team["project"]).version == 2  # type: ignore[union-attr]
    assert stored_rules(team) == [
        BIG_CARS,
        {
            "name": "no holes in buses",
            "builtin": "no_holes",
            "params": {"classes": ["bus"], "min_hole_area": 5, "severity": "warning"},
        },
        {"name": "horizon", "source": HORIZON},
    ]  # fmt: skip


def test_the_form_sent_back_as_shown_stores_the_same_rules(
    team: dict[str, Any], manager: Any
) -> None:
    every = [
        {"name": "small", "builtin": "min_area", "params": {"areas": {"car": 1, "bus": 20}}},
        {"name": "need cars", "builtin": "required_classes", "params": {"classes": ["car"]}},
        {"name": "no trams", "builtin": "forbidden_classes", "params": {"classes": ["tram"]}},
        {
            "name": "few",
            "builtin": "max_instances",
            "params": {"max": {"bus": 3}, "severity": "warning"},
        },
        {"name": "whole", "builtin": "one_part", "params": {"connectivity": 4, "min_part_area": 7}},
        {"name": "solid", "builtin": "no_holes", "params": {"classes": ["car", "bus"]}},
        {"name": "apart", "builtin": "no_overlap", "params": {"max_iou": 0.25}},
        {"name": "horizon", "source": HORIZON},
    ]  # fmt: skip
    clean, errors = clean_rules(every)
    assert not errors
    first = RuleSetVersion.save_new(team["project"], clean, team["max"])
    page = manager.get(page_url(team))
    assert "tram" in page.content.decode()  # a class name the project no longer has

    saved = manager.post(page_url(team), {**read_form(page), "do": "save"})

    assert saved.status_code == 302
    current = RuleSetVersion.current(team["project"])
    assert current is not None and current.version == 2
    by_name = {r["name"]: r for r in current.rules}
    assert [by_name[r["name"]] for r in first.rules] == first.rules


def test_an_invalid_custom_rule_shows_its_line_number_and_stores_nothing(
    team: dict[str, Any], manager: Any
) -> None:
    RuleSetVersion.save_new(team["project"], STORED, team["max"])
    fields = read_form(manager.get(page_url(team)))
    source = "def check(image):\r\n    import os\r\n    return []\r\n"  # as browsers send it
    fields |= {"c-0-name": ["paths"], "c-0-source": [source]}

    refused = manager.post(page_url(team), {**fields, "do": "save"})

    page = refused.content.decode()
    assert refused.status_code == 400
    custom = page[page.index('id="c-0"') :]
    custom = custom[: custom.index("</fieldset>")]
    assert "line 2: rule code may not import &#x27;os&#x27;" in custom
    assert read_form(refused)["c-0-source"] == [source.replace("\r\n", "\n")]  # kept
    assert RuleSetVersion.objects.count() == 1 and stored_rules(team) == STORED


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"areas-999999": "5"}, "no such class (id 999999)"),
        ({"areas-CAR": "-5"}, "Least area (px), car: must be 0 or more, not -5"),
        ({"areas-CAR": "lots"}, "Least area (px), car: &#x27;lots&#x27; is not a whole number"),
        ({"areas-CAR": "1.5"}, "Least area (px), car: &#x27;1.5&#x27; is not a whole number"),
        ({"areas-CAR": ""}, "Least area (px): give at least one class a number"),
        ({"severity": "fatal"}, "severity must be &quot;error&quot; or &quot;warning&quot;"),
        ({"name": "a/b"}, "a rule needs a name"),
    ],
)
def test_bad_built_in_values_get_a_clear_message_and_nothing_is_stored(
    team: dict[str, Any], manager: Any, change: dict[str, str], message: str
) -> None:
    RuleSetVersion.save_new(team["project"], STORED, team["max"])
    fields = read_form(manager.get(page_url(team)))
    b = fieldset_of(fields, "min_area")
    for key, value in change.items():
        fields[f"{b}-{key.replace('CAR', str(team['car'].pk))}"] = [value]

    refused = manager.post(page_url(team), {**fields, "do": "save"})

    page = refused.content.decode()
    fieldset = page[page.index(f'id="{b}"') :]
    assert refused.status_code == 400
    assert message in fieldset[: fieldset.index("</fieldset>")]
    assert "Nothing was saved" in page and RuleSetVersion.objects.count() == 1
    shown = read_form(refused)  # what was typed, shown again (a select shows its choices)
    typed = {f"{b}-{k.replace('CAR', str(team['car'].pk))}": [v] for k, v in change.items()}
    assert all(shown[k] == v for k, v in typed.items() if "999999" not in k and "sever" not in k)


def test_bad_numbers_and_oversized_code_are_refused(team: dict[str, Any], manager: Any) -> None:
    fields = read_form(manager.get(page_url(team)))
    overlap, holes = fieldset_of(fields, "no_overlap"), fieldset_of(fields, "no_holes")
    fields |= {
        f"{overlap}-enabled": ["1"],
        f"{overlap}-max_iou": ["1.5"],
        f"{holes}-enabled": ["1"],
        f"{holes}-classes": [str(team["car"].pk), "424242"],
        "c-count": ["1"],
        "c-0-name": ["huge"],
        "c-0-source": ["x = 1\n" * 20_000],
    }

    refused = manager.post(page_url(team), {**fields, "do": "save"})

    page = refused.content.decode()
    assert refused.status_code == 400 and RuleSetVersion.objects.count() == 0
    assert "Most overlap (IoU, 0 to under 1): must be under 1, not 1.5" in page
    assert "Classes: no such class (id 424242)" in page
    assert "a rule&#x27;s source is at most 100,000 characters" in page


def test_add_and_remove_change_the_form_only(team: dict[str, Any], manager: Any) -> None:
    RuleSetVersion.save_new(team["project"], STORED, team["max"])
    fields = read_form(manager.get(page_url(team)))
    b = fieldset_of(fields, "min_area")
    fields[f"{b}-areas-{team['car'].pk}"] = ["250"]  # typed, not saved yet

    added = manager.post(page_url(team), {**fields, "do": "add"})
    shown = read_form(added)
    removed = manager.post(page_url(team), {**shown, "do": "remove-0"})

    assert added.status_code == 200 and shown["c-count"] == ["2"]
    assert (shown["c-1-name"], shown["c-1-source"]) == ([""], [""])
    assert shown[f"{b}-areas-{team['car'].pk}"] == ["250"]
    after = read_form(removed)
    assert after["c-count"] == ["1"] and after["c-0-name"] == [""]
    assert RuleSetVersion.objects.count() == 1


def test_an_empty_added_rule_is_ignored_when_saving(team: dict[str, Any], manager: Any) -> None:
    fields = read_form(manager.get(page_url(team)))
    shown = read_form(manager.post(page_url(team), {**fields, "do": "add"}))

    saved = manager.post(page_url(team), {**shown, "do": "save"})

    assert saved.status_code == 302 and stored_rules(team) == []


def test_a_version_saved_meanwhile_is_not_overwritten(team: dict[str, Any], manager: Any) -> None:
    fields = read_form(manager.get(page_url(team)))
    RuleSetVersion.save_new(team["project"], STORED, team["owner"])  # someone else, meanwhile

    refused = manager.post(page_url(team), {**fields, "do": "save"})
    again = manager.post(page_url(team), {**read_form(refused), "do": "save"})

    assert refused.status_code == 409 and "olga saved version 1" in refused.content.decode()
    assert again.status_code == 302 and stored_rules(team) == []


@pytest.mark.parametrize("role", ["ann", "rita"])
def test_members_who_may_not_manage_see_the_rules_without_a_form_and_cannot_post(
    team: dict[str, Any], client: Any, role: str
) -> None:
    RuleSetVersion.save_new(team["project"], STORED, team["max"])
    client.force_login(team[role])

    page = client.get(page_url(team))
    posted = client.post(page_url(team), {"b-count": "0", "c-count": "0", "do": "save"})
    as_json = client.post(page_url(team), {"rules": "[]"})

    text = page.content.decode()
    assert page.status_code == 200 and count_controls(page) == 1  # the top bar's sign-out
    assert "big cars" in text and "car: 100" in text and "def check(image):" in text
    assert 'id="rules-form"' not in text and "<textarea" not in text
    assert (posted.status_code, as_json.status_code) == (403, 403)
    assert RuleSetVersion.objects.count() == 1


def test_outsiders_get_404(team: dict[str, Any], client: Any) -> None:
    client.force_login(team["outsider"])

    assert client.get(page_url(team)).status_code == 404
    assert client.post(page_url(team), {"do": "save"}).status_code == 404


def test_the_json_editor_still_saves_and_reports_errors(team: dict[str, Any], manager: Any) -> None:
    import json

    saved = manager.post(page_url(team), {"rules": json.dumps(STORED), "base": "0"})
    broken = manager.post(page_url(team), {"rules": '[\n{"name": "x",\n'})
    wrong = manager.post(page_url(team), {"rules": '[{"name": "x", "builtin": "nope"}]'})

    assert saved.status_code == 302
    assert stored_rules(team) == [
        BIG_CARS,
        {"name": "horizon", "source": HORIZON},
    ]  # fmt: skip
    assert broken.status_code == 400 and "line 3" in broken.content.decode()
    assert '<details id="rules-json" open>' in broken.content.decode()
    assert (
        wrong.status_code == 400 and "no built-in rule &#x27;nope&#x27;" in wrong.content.decode()
    )
    assert RuleSetVersion.objects.count() == 1
