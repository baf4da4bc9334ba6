"""Forms of the accounts pages."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.forms import UserCreationForm


class InvitedSignUpForm(UserCreationForm):
    """A new account for the person an invitation was sent to: they choose a username
    and a password; the e-mail address is the one invited."""

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = email
        self.fields["username"].widget.attrs.update(autofocus=True, autocomplete="username")
