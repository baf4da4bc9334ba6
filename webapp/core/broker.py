"""The order in which a worker takes its queues: background queues last.

A worker that consumes several queues (``-Q crops,encode,proposals,celery``) takes turns
between them, one message from each in round robin, as kombu does by default. That is
right between the queues people wait on (a crop, an upload's encoding, an export), but
not for a background queue whose tasks are long and many: with mask proposals (16-39 s a
run on a 2-core CPU) taking turns, a batch upload was encoded one image per run (3 pages
in 69 s instead of 6.6 s), and on the encode queue itself every upload and saved
annotation waited behind the whole backlog of runs (docs/benchmarks.md). So the queues
named in ``settings.SAMLABEL_BACKGROUND_QUEUES`` are taken only when every other queue
the worker consumes is empty; the others keep their turns.
A background task under way is not interrupted: the next encoding waits for it.

Both brokers the settings use follow this rule:

- Redis: kombu's ``queue_order_strategy`` transport option names the cycle class;
  :class:`BackgroundLastCycle` lists the queues for its BRPOP with the background ones
  last, and Redis pops from the first non-empty list.
- the embedded file-system broker: :class:`FilesystemTransport` is kombu's, with a
  channel whose polling cycle (:class:`BackgroundLastFairCycle`) tries the background
  queues after the others.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from queue import Empty
from typing import Any

from django.conf import settings
from kombu.transport import filesystem
from kombu.utils.scheduling import FairCycle, round_robin_cycle


def background_queues() -> frozenset[str]:
    """The queues taken only when a worker's other queues are empty."""
    return frozenset(getattr(settings, "SAMLABEL_BACKGROUND_QUEUES", ()))


def background_last(queues: Sequence[str]) -> list[str]:
    """``queues`` in their order, the background ones moved to the end."""
    background = background_queues()
    return [q for q in queues if q not in background] + [q for q in queues if q in background]


class BackgroundLastCycle(round_robin_cycle):
    """Redis: the order of the queues for each BRPOP. Round robin (the queue a message
    came from goes to the end), with the background queues always after the others."""

    def consume(self, n: int) -> list[str]:
        return background_last(self.items[:n])


class BackgroundLastFairCycle(FairCycle):
    """The file-system broker's polling: tries the queues other than the background ones
    in round robin, each poll starting after the one that gave the last message, then
    the background ones in order. Raises ``predicate`` (Empty) when all are empty."""

    def get(self, callback: Callable[..., Any], **kwargs: Any) -> Any:
        background = background_queues()
        front = [q for q in self.resources if q not in background]
        start = self.pos % len(front) if front else 0
        for i in range(len(front)):
            at = (start + i) % len(front)
            try:
                delivered = self.fun(front[at], callback, **kwargs)
            except self.predicate:
                continue
            self.pos = at + 1
            return delivered
        for queue in (q for q in self.resources if q in background):
            try:
                return self.fun(queue, callback, **kwargs)
            except self.predicate:
                continue
        raise self.predicate()


class FilesystemChannel(filesystem.Channel):
    def _reset_cycle(self) -> None:
        self._cycle = BackgroundLastFairCycle(self._get_and_deliver, self._active_queues, Empty)


class FilesystemTransport(filesystem.Transport):
    """kombu's file-system transport, taking background queues last."""

    Channel = FilesystemChannel
