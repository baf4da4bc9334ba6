"""Business rules' refusals as API answers."""

from __future__ import annotations

from rest_framework import exceptions


class RuleRefused(exceptions.APIException):
    """A refusal raised by a model's rules (MoveRefused, IssueRefused, EditRefused...),
    answered with its message and the HTTP status it carries in ``status`` (400, 403,
    409...)."""

    default_code = "refused"

    def __init__(self, refusal: Exception) -> None:
        super().__init__(str(refusal))
        self.status_code = int(getattr(refusal, "status", 409))
