"""Which models this server can segment with: those whose checkpoint is present and
verified (:func:`inference.weights.checkpoint_state`). Nothing here fetches weights."""

from __future__ import annotations

from dataclasses import dataclass

from inference.registry import all_models
from inference.weights import checkpoint_state

# The interpreter shown in the commands we suggest: the one ``make`` sets up.
SERVER_PYTHON = ".venv/bin/python"


def weights_problem(model: str) -> str | None:
    """None when ``model``'s weights are present and verified; otherwise one sentence
    for a person: what is wrong and the command that fixes it."""
    state = checkpoint_state(model)
    if state.ready:
        return None
    sentence = state.describe(SERVER_PYTHON)
    return sentence[0].upper() + sentence[1:] + "."


def unusable_reason(model: str) -> str | None:
    """None when a project may use ``model`` now; otherwise why not and what to run, as
    the project forms and the API say it."""
    problem = weights_problem(model)
    if problem is None:
        return None
    return f"This server cannot segment with {model} yet. {problem}"


@dataclass(frozen=True)
class ModelChoice:
    """A model a project could use. ``command`` fixes what keeps it from use ("" when
    it is ready)."""

    name: str
    ready: bool
    command: str


def model_choices() -> list[ModelChoice]:
    """Every registered model, by name, and whether a project may use it now."""
    choices = []
    for name in sorted(all_models()):
        state = checkpoint_state(name)
        command = state.command.replace("python", SERVER_PYTHON, 1) if not state.ready else ""
        choices.append(ModelChoice(name, state.ready, command))
    return choices
