"""Real processes for the encoding tests: a redis-server of the test's own on a free
port, Celery workers in subprocesses that share the test's database and MEDIA_ROOT, and
a way to point this process's Celery app at that Redis while a test runs."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import NoReturn
from urllib.parse import quote

import pytest
from django.db import connection
from kombu import pools as kombu_pools

from tests.webapp.conftest import REPO_ROOT
from webapp.celery import app as celery_app


def unavailable(reason: str) -> NoReturn:
    """Skip a test whose real service is missing, except under CI, where every real
    service must be there: a skip there would hide that the real path never ran."""
    if os.environ.get("CI"):
        pytest.fail(f"CI must run this test, but {reason}")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.05)


class RedisServer:
    """``redis-server`` on a free port, without persistence; stop() and start() again
    keep the port, as a restarted server would."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            unavailable("redis-server is not installed")
        self.folder = folder
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1",
             "--save", "", "--appendonly", "no", "--dir", str(self.folder)],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        wait_for(self._answers, 10, f"redis-server on port {self.port}")

    def _answers(self) -> bool:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port)):
            return True
        return False

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


def database_url() -> str:
    """The test database as a DATABASE_URL, for a worker process to use the same one."""
    db = connection.settings_dict
    if db["ENGINE"] == "django.db.backends.sqlite3":
        name = str(db["NAME"])
        if name == ":memory:" or name.startswith("file:"):
            unavailable("the test database is in memory; a worker cannot share it")
        return f"sqlite:///{Path(name).resolve()}"
    user = quote(db["USER"] or "")
    password = f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else ""
    port = f":{db['PORT']}" if db["PORT"] else ""
    return f"postgres://{user}{password}@{db['HOST'] or '127.0.0.1'}{port}/{db['NAME']}"


@contextlib.contextmanager
def broker_for_this_process(url: str) -> Iterator[None]:
    """Make this process's Celery app publish to ``url`` (and back afterwards)."""
    conf = celery_app.conf
    saved = conf.broker_url, conf.broker_transport_options, conf.broker_transport

    def reconnect() -> None:
        if celery_app._pool is not None:
            celery_app._pool.force_close_all()
        celery_app._pool = None
        celery_app.amqp._producer_pool = None
        # kombu keeps one producer pool per broker address for the whole process: after
        # the connections above were closed, the next publish to the same address would
        # get that pool back and fail ("Acquire on closed pool"), and the task would be
        # lost. Forget them all, so the next publish makes new ones.
        kombu_pools.reset()

    # The transport too: the settings name one for the embedded broker, and a transport
    # set outranks the address's scheme.
    conf.broker_url, conf.broker_transport_options, conf.broker_transport = url, {}, None
    reconnect()
    try:
        yield
    finally:
        conf.broker_url, conf.broker_transport_options, conf.broker_transport = saved
        reconnect()


# The queues of a worker that takes everything.
ALL_QUEUES = "crops,encode,proposals,celery"


class Worker:
    """``celery -A webapp worker -Q crops,encode,proposals,celery --pool solo`` (or the
    ``queues`` given) as a subprocess that shares this test's database and MEDIA_ROOT; its
    log goes to ``log``."""

    def __init__(self, log: Path, broker_url: str, media_root: Path, *, beat: bool = False,
                 queues: str = ALL_QUEUES, **environment: str) -> None:  # fmt: skip
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CELERY_", "SAMLABEL_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="webapp.settings",
            DATABASE_URL=database_url(),
            MEDIA_ROOT=str(media_root),
            CELERY_BROKER_URL=broker_url,
            **environment,
        )
        command = [
            sys.executable, "-m", "celery", "-A", "webapp", "worker",
            "-Q", queues, "--pool", "solo", "--loglevel", "INFO",
            "--hostname", f"{log.stem}@%h",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        if beat:
            command += ["--beat", "--schedule", str(log.with_suffix(".beat"))]
        self.log = log
        self._log_file = log.open("ab")
        self.process = subprocess.Popen(
            command, cwd=REPO_ROOT, env=env, stdout=self._log_file, stderr=subprocess.STDOUT
        )

    def kill(self) -> None:
        """SIGKILL: no clean-up, no acknowledgement, as when a machine dies."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.kill()
        self._log_file.close()

    def text(self) -> str:
        return self.log.read_text(errors="replace")
