"""Sign-in with a username and password, slowed down for guessers.

Every way in that checks a password (the sign-in page, the admin's, the API token
endpoint) goes through Django's ``authenticate()``, so the limit lives in the
authentication backend: a locked account or address is refused before its password is
checked, and the request is marked (``signin_locked_for``, seconds) so that the page or
the API can say why and for how long.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.backends import ModelBackend
from django.core.exceptions import PermissionDenied

from webapp.accounts.models import FailedSignIn

LOCKED_ATTRIBUTE = "signin_locked_for"


def client_address(request: Any) -> str | None:
    """The address the request came from. Behind ``SAMLABEL_TRUSTED_PROXIES`` proxies,
    the one the outermost of them saw (``X-Forwarded-For`` counted from the right, the
    entries those proxies appended); else the peer of the connection."""
    if request is None:
        return None
    meta = request.META
    proxies = int(settings.SAMLABEL_TRUSTED_PROXIES)
    if proxies > 0:
        forwarded = [a.strip() for a in meta.get("HTTP_X_FORWARDED_FOR", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    return meta.get("REMOTE_ADDR") or None


def seconds_locked(request: Any) -> int:
    """Seconds left of the lock that refused this request's sign-in; 0 if none did."""
    return int(getattr(request, LOCKED_ATTRIBUTE, 0) or 0)


def lockout_message(seconds: int) -> str:
    minutes = max(1, (seconds + 59) // 60)
    return (
        "Too many failed sign-ins for this account or from this address. "
        f"Try again in {minutes} minute{'s' if minutes != 1 else ''}."
    )


class ThrottledModelBackend(ModelBackend):
    """Django's username and password check, refused while the account or the address
    is locked (see :mod:`webapp.accounts.models`); failures are counted."""

    def authenticate(
        self,
        request: Any,
        username: str | None = None,
        password: str | None = None,
        **kwargs: Any,
    ) -> Any:
        if username is None:
            username = kwargs.get(self._username_field(), "")
        if not username or password is None:
            return None
        address = client_address(request)
        locked = FailedSignIn.objects.seconds_locked(username, address)
        if locked:
            if request is not None:
                setattr(request, LOCKED_ATTRIBUTE, locked)
            # Stops authenticate() at this backend: no other one may let them in.
            raise PermissionDenied
        user = super().authenticate(request, username=username, password=password, **kwargs)
        if user is None:
            FailedSignIn.objects.record(username, address)
        else:
            FailedSignIn.objects.forget_account(username)
        return user

    @staticmethod
    def _username_field() -> str:
        from django.contrib.auth import get_user_model

        return str(get_user_model().USERNAME_FIELD)
