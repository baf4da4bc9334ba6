"""Forms of the accounts pages."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm, UserCreationForm

from webapp.accounts.backends import lockout_message, seconds_locked


class SignInForm(AuthenticationForm):
    """Django's sign-in form, which says so when too many failed sign-ins have locked
    the account or the address (see :mod:`webapp.accounts.backends`)."""

    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match an account. Try again.",
    }

    def get_invalid_login_error(self) -> forms.ValidationError:
        locked = seconds_locked(self.request)
        if locked:
            return forms.ValidationError(lockout_message(locked), code="locked")
        return super().get_invalid_login_error()


class InvitedSignUpForm(UserCreationForm):
    """A new account for the person an invitation was sent to: they choose a username
    and a password; the e-mail address is the one invited."""

    def __init__(self, *args: Any, email: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance.email = email
        self.fields["username"].widget.attrs.update(autofocus=True, autocomplete="username")
