"""Custom rules: validated from their source alone (with line numbers), loaded with
restricted imports, and a failing rule reported without stopping the others."""

from __future__ import annotations

import numpy as np

from qualityrules.custom import validate
from qualityrules.engine import MAX_PROBLEMS_PER_RULE, run_rules
from qualityrules.model import ImageData
from qualityrules.ruleset import rules_from_spec
from tests.qualityrules.vectors import annotation

GOOD = """
def check(image):
    for a in image.of_label("car"):
        if len(rle.components(a.rle)) > 1:
            yield error(f"car #{a.id} is in pieces", a.id)
"""


def one_image() -> ImageData:
    mask = np.zeros((10, 10), dtype=bool)
    mask[0:2, 0:2] = mask[5:7, 5:7] = True
    return ImageData.from_dict(
        {"width": 10, "height": 10, "annotations": [annotation(4, "car", mask)]}
    )


def run(*sources: str) -> list[dict]:
    spec = {"rules": [{"name": f"r{i}", "source": s} for i, s in enumerate(sources)]}
    return run_rules(one_image(), rules_from_spec(spec, custom_rules=True))


def test_a_good_rule_validates_and_finds_its_problem() -> None:
    assert validate(GOOD) == []
    assert run(GOOD) == [
        {"rule": "r0", "severity": "error", "message": "car #4 is in pieces", "annotation_ids": [4]}
    ]


def test_a_syntax_error_is_reported_with_its_line() -> None:
    errors = validate("def check(image):\n    return [\n\ndef other(:\n")

    assert errors and errors[0].line in (2, 4)
    assert str(errors[0]).startswith(f"line {errors[0].line}: ")


def test_a_source_without_check_or_with_the_wrong_arguments_is_refused() -> None:
    assert [str(e) for e in validate("x = 1\n")] == ["the rule must define a function check(image)"]
    assert [str(e) for e in validate("def check(a, b):\n    pass\n")] == [
        "line 1: check must take one argument, the image"
    ]


def test_forbidden_imports_are_named_with_their_lines() -> None:
    errors = validate(
        "import math\nimport os\nfrom subprocess import run\ndef check(image):\n    import socket\n"
    )

    assert [e.line for e in errors] == [2, 3, 5]
    assert "may not import 'os'" in errors[0].message


def test_a_rule_that_raises_is_one_warning_with_its_line_and_the_others_still_run() -> None:
    raising = "def check(image):\n    x = 1\n    return [1 / 0]\n"

    found = run(raising, GOOD)

    assert found[0]["rule"] == "r0" and found[0]["severity"] == "warning"
    assert "ZeroDivisionError: division by zero (line 3)" in found[0]["message"]
    assert found[1]["message"] == "car #4 is in pieces"


def test_imports_outside_the_allow_list_fail_at_run_time_too() -> None:
    found = run("def check(image):\n    __import__('os').system('true')\n")

    assert "may not import 'os'" in found[0]["message"]
    assert "(line 2)" in found[0]["message"]


def test_open_is_not_among_a_rules_builtins() -> None:
    found = run("def check(image):\n    open('/etc/passwd')\n")

    assert "NameError" in found[0]["message"]


def test_a_problem_about_an_unknown_annotation_or_with_a_bad_severity_is_a_failure() -> None:
    unknown = run("def check(image):\n    return [error('x', 999)]\n")
    severity = run("def check(image):\n    return [{'severity': 'fatal', 'message': 'x'}]\n")

    assert "does not have: [999]" in unknown[0]["message"]
    assert "severity" in severity[0]["message"]


def test_a_flood_of_problems_is_cut_with_a_count() -> None:
    found = run("def check(image):\n    return [warning(str(i)) for i in range(1000)]\n")

    assert len(found) == MAX_PROBLEMS_PER_RULE + 1
    assert found[-1]["message"] == f"and {1000 - MAX_PROBLEMS_PER_RULE} more problems of this rule"
