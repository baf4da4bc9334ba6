"""Django's PostgreSQL backend, but for how a kept connection is checked before reuse.

With persistent connections and health checks on (``CONN_MAX_AGE`` > 0 and
``CONN_HEALTH_CHECKS``), Django sends ``SELECT 1`` at the start of every request that
reuses a connection: one more round trip per request, about a tenth of those of the
hot API requests, and under load each one waits its turn for a core.

A connection that sits idle between requests receives nothing unless something happened
to it: the server sends an error before it closes the connection (a restart, an
administrator's ``pg_terminate_backend``, an idle timeout), or the kernel reports the end
of the connection when the server process dies. So the check here first looks, without
waiting, whether anything arrived on the idle connection's socket: nothing arrived, it
is usable; something arrived (or the connection is in any state but idle, or the request
before had an error), Django's own ``SELECT 1`` decides, as before. Only a server that
vanishes without a word (a host powered off) goes unnoticed until the request's first
query fails; that request fails, and the connection is dropped after it.
"""

from __future__ import annotations

import select

from django.db.backends.postgresql import base
from psycopg.pq import TransactionStatus


def input_waiting(fileno: int) -> bool:
    """Whether anything (data, an error, the end of the connection) can be read from the
    socket ``fileno`` now, without waiting."""
    poller = select.poll()
    poller.register(fileno, select.POLLIN | select.POLLPRI)
    return bool(poller.poll(0))


class DatabaseWrapper(base.DatabaseWrapper):
    def is_usable(self) -> bool:
        connection = self.connection
        if connection is None or connection.closed or connection.broken:
            return False
        if self.errors_occurred or connection.info.transaction_status != TransactionStatus.IDLE:
            return bool(super().is_usable())
        try:
            quiet = not input_waiting(connection.fileno())
        except (OSError, ValueError):
            return False
        return quiet or bool(super().is_usable())
