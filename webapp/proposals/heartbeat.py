"""A job's sign of life while one long call runs: a thread that writes the row's
heartbeat every few seconds, so that the sweep (``StuckJobQuerySet.requeue_stuck``) does
not take a live run for a dead one and hand it to a second worker.

The generation of proposals is one call into ``inference.everything`` that reports no
progress, and on a small CPU it lasts longer than ``SAMLABEL_STUCK_AFTER_SECONDS``;
exports and imports write their heartbeat with their progress instead. The thread only
touches the row (one conditional UPDATE), never the work: torch releases the GIL in its
kernels, so the beat keeps its pace while the generation runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from types import TracebackType

from django.conf import settings
from django.db import DatabaseError, connections

log = logging.getLogger(__name__)

# Beats per SAMLABEL_STUCK_AFTER_SECONDS: one missed or late beat (a busy database, a
# starved thread) still leaves three before the sweep would call the run stuck.
BEATS_PER_STUCK_PERIOD = 4


def heartbeat_interval() -> float:
    """Seconds between two beats: a quarter of SAMLABEL_STUCK_AFTER_SECONDS."""
    return settings.SAMLABEL_STUCK_AFTER_SECONDS / BEATS_PER_STUCK_PERIOD


class Heartbeat:
    """``with Heartbeat(beat):`` calls ``beat()`` every ``every`` seconds on a thread of
    its own until the block ends (however it ends). ``beat`` writes the heartbeat and
    returns False when the job is no longer this worker's (deleted, or given by the
    sweep to a newer attempt): the beating stops then. A database error in one beat is
    logged and the next beat tries again.
    """

    def __init__(self, beat: Callable[[], bool], every: float | None = None) -> None:
        self.every = heartbeat_interval() if every is None else every
        if self.every <= 0:
            raise ValueError(f"a heartbeat needs a positive interval, not {self.every}")
        self._beat = beat
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
        self.beats = 0  # beats written, for the log
        self.lost = False  # True once ``beat`` said the job is no longer held

    @property
    def running(self) -> bool:
        """Whether the beating thread is still alive."""
        return self._thread.is_alive()

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        try:
            while not self._stop.wait(self.every):
                try:
                    held = self._beat()
                except DatabaseError:
                    log.exception("could not write a job's heartbeat; trying again")
                    continue
                if not held:
                    self.lost = True
                    log.warning("the job is no longer this worker's; its heartbeat stops")
                    return
                self.beats += 1
        finally:
            # Django opens a connection per thread; this one's must not outlive it.
            connections.close_all()
