"""The order in which a worker takes its queues (webapp.core.broker), on both brokers the
settings use, through kombu as Celery's worker consumes: the queues people wait on take
turns, and the background queue (proposals) comes only when they are all empty."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kombu import Connection, Exchange, Queue
from kombu.transport.virtual.base import BrokerState
from pytest_django.fixtures import Settings

from webapp.core.broker import BackgroundLastCycle, FilesystemTransport, background_last

# As a worker started with -Q crops,encode,proposals,celery lists them.
QUEUES = ("crops", "encode", "proposals", "celery")
# The messages published, queue by queue, before the worker starts.
BACKLOG = [("proposals", 2), ("encode", 3), ("celery", 2)]
# Encodings and the export take turns; the proposals wait for both.
EXPECTED = ["encode", "celery", "encode", "celery", "encode", "proposals", "proposals"]


@pytest.fixture(autouse=True)
def proposals_in_the_background(settings: Settings) -> None:
    settings.SAMLABEL_BACKGROUND_QUEUES = ("proposals",)


def delivered_order(connection: Connection) -> list[str]:
    """Publishes BACKLOG, then consumes QUEUES one message at a time, acknowledging each
    as a worker does: the queue of each message, in the order they came."""
    queues = [Queue(name, Exchange(name, type="direct"), routing_key=name) for name in QUEUES]
    by_name = dict(zip(QUEUES, queues, strict=True))
    producer = connection.Producer(serializer="json")
    for name, count in BACKLOG:
        for n in range(count):
            producer.publish(
                {"queue": name, "n": n},
                exchange=by_name[name].exchange,
                routing_key=name,
                declare=[by_name[name]],
            )
    got: list[str] = []

    def take(body: dict[str, Any], message: Any) -> None:
        got.append(body["queue"])
        message.ack()

    total = sum(count for _, count in BACKLOG)
    with connection.Consumer(queues, callbacks=[take], prefetch_count=1):
        while len(got) < total:
            connection.drain_events(timeout=60)  # the messages are there: a cap, not a wait
    return got


class TransportOfItsOwn(FilesystemTransport):
    """The embedded broker's transport with a broker state of its own. kombu keeps the
    bindings declared in a process in one state shared by every file-system transport,
    and does not write a binding it has seen again: those of Celery's queues declared by
    earlier tests would never reach this test's folder, and their messages would be
    dropped."""

    global_state = BrokerState()


def test_the_embedded_broker_takes_the_background_queue_last(tmp_path: Path) -> None:
    folders = {
        "data_folder_in": tmp_path / "queue",
        "data_folder_out": tmp_path / "queue",
        "processed_folder": tmp_path / "processed",
        "control_folder": tmp_path / "control",
    }
    for folder in folders.values():
        folder.mkdir(exist_ok=True)
    options = {key: str(path) for key, path in folders.items()}
    with Connection(
        "filesystem://",
        transport=TransportOfItsOwn,
        transport_options={**options, "store_processed": False, "polling_interval": 0.01},
    ) as connection:
        assert delivered_order(connection) == EXPECTED


def test_redis_takes_the_background_queue_last(redis_server: Any) -> None:
    with Connection(
        redis_server.url,
        transport_options={"queue_order_strategy": "webapp.core.broker:BackgroundLastCycle"},
    ) as connection:
        assert delivered_order(connection) == EXPECTED


def test_kombus_own_order_would_interleave_them(redis_server: Any) -> None:
    """Why the cycle is needed: kombu's round robin gives a proposal run every other turn."""
    with Connection(redis_server.url) as connection:
        assert delivered_order(connection)[:2] != ["encode", "celery"]


def test_the_redis_cycle_keeps_round_robin_among_the_others() -> None:
    cycle = BackgroundLastCycle(list(QUEUES))
    assert cycle.consume(4) == ["crops", "encode", "celery", "proposals"]
    cycle.rotate("crops")
    assert cycle.consume(4) == ["encode", "celery", "crops", "proposals"]
    assert background_last(["proposals", "encode"]) == ["encode", "proposals"]
