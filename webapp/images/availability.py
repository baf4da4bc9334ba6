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


@dataclass(frozen=True)
class ModelChoice:
    """A model a project could use; ``problem`` is None when it can be used now."""

    name: str
    problem: str | None

    @property
    def ready(self) -> bool:
        return self.problem is None


def model_choices() -> list[ModelChoice]:
    """Every registered model, by name, with why it cannot be used yet (if it cannot)."""
    return [ModelChoice(name, weights_problem(name)) for name in sorted(all_models())]
