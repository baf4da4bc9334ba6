"""Failed sign-ins, kept for a while so that password guessing can be slowed down.

A row per failed attempt, in the database so that every web process sees the same
count. An account is locked after ``SAMLABEL_SIGNIN_FAILURES_PER_ACCOUNT`` failures
within ``SAMLABEL_SIGNIN_LOCKOUT_SECONDS``, and an address after
``SAMLABEL_SIGNIN_FAILURES_PER_ADDRESS`` (higher: several people may share one).
While locked, even the right password is refused; attempts made then are not checked
and not counted, so the lock ends when the window has passed since the failures.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Count, Q
from django.utils import timezone


def _window() -> timedelta:
    return timedelta(seconds=int(settings.SAMLABEL_SIGNIN_LOCKOUT_SECONDS))


def _account_key(username: str) -> str:
    # Usernames differ by case only rarely; counting "Ann" and "ann" together costs
    # nothing and denies a guesser one way around the limit.
    return username.strip().lower()[:150]


class FailedSignInQuerySet(models.QuerySet["FailedSignIn"]):
    def recent(self) -> FailedSignInQuerySet:
        return self.filter(at__gt=timezone.now() - _window())

    def seconds_locked(self, username: str, address: str | None) -> int:
        """How long sign-ins to ``username`` or from ``address`` stay refused, in
        seconds (rounded up); 0 when they are not locked."""
        account = Q(username=_account_key(username))
        origin = Q(address=address) if address else Q(pk__in=[])
        counts = (
            self.recent()
            .filter(account | origin)
            .aggregate(
                account=Count("id", filter=account),
                origin=Count("id", filter=origin),
            )
        )
        locked = []
        if counts["account"] >= settings.SAMLABEL_SIGNIN_FAILURES_PER_ACCOUNT:
            locked.append(self._unlocked_at(account, settings.SAMLABEL_SIGNIN_FAILURES_PER_ACCOUNT))
        if counts["origin"] >= settings.SAMLABEL_SIGNIN_FAILURES_PER_ADDRESS:
            locked.append(self._unlocked_at(origin, settings.SAMLABEL_SIGNIN_FAILURES_PER_ADDRESS))
        if not locked:
            return 0
        left = max(locked) - timezone.now()
        return max(1, int(left.total_seconds() + 0.999))

    def _unlocked_at(self, which: Q, limit: int) -> datetime:
        # The lock holds while ``limit`` failures stay in the window: it ends when the
        # limit-th newest of them leaves it.
        newest = self.recent().filter(which).order_by("-at").values_list("at", flat=True)
        return newest[limit - 1] + _window()

    def record(self, username: str, address: str | None) -> None:
        """Count one failed sign-in; rows that left the window are deleted meanwhile."""
        self.filter(at__lte=timezone.now() - _window()).delete()
        self.create(username=_account_key(username), address=address)

    def forget_account(self, username: str) -> None:
        """The account signed in: its own failures no longer count against it (those of
        its address still do, so one good account cannot reset a guesser's count)."""
        self.filter(username=_account_key(username)).delete()


class FailedSignIn(models.Model):
    username = models.CharField(max_length=150, db_index=True)
    address = models.GenericIPAddressField(null=True, blank=True, db_index=True)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    objects = FailedSignInQuerySet.as_manager()

    class Meta:
        ordering = ["-at"]

    def __str__(self) -> str:
        return f"{self.username} from {self.address or 'unknown'} at {self.at:%Y-%m-%d %H:%M:%S}"
