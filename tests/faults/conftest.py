"""Fault fixtures: a misbehaving TCP proxy in front of the real MariaDB, apps that reach the
database only through it, and a record of every executor attempt (CONTRACT.md "Resiliency").

Most tests use ``FAST`` (timeouts 200/250/300/350 ms, waits 50/100/150 ms) so the suite stays
short; the exact contract schedule is asserted by the few tests that ask for ``DEFAULT``. The
first timeout is the contract's 200 ms: shorter, a loaded two-core machine times out the
healthy attempts too.
"""
from __future__ import annotations

import dataclasses
import datetime
import logging
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from conftest import admin_connect, make_config, server_settings

from tablegate import create_app
from tablegate.config import Config

from .proxy import FaultProxy

FAST = dict(retry_timeouts_ms=(200, 250, 300, 350), retry_waits_ms=(50, 100, 150))
DEFAULT = dict(retry_timeouts_ms=Config.retry_timeouts_ms, retry_waits_ms=Config.retry_waits_ms)

# How far a measured wait may stray from the schedule: sleep never wakes early (monotonic
# clock), but a loaded two-core machine may wake it late.
EARLY_S = 0.020
LATE_S = 0.150


@dataclass(frozen=True)
class AttemptRecord:
    """One ``tablegate.db`` attempt line, with when it started (``created - elapsed``)."""

    number: int
    timeout_ms: int
    outcome: str
    elapsed_ms: float
    started: float
    request_id: str | None


class AttemptLog(logging.Handler):
    """Collects the executor's per-attempt log lines (the ``tablegate`` logger does not
    propagate, so pytest's ``caplog`` never sees them)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[AttemptRecord] = []
        self.warnings: list[str] = []
        self._hooks: list[Callable[[AttemptRecord], None]] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.WARNING:
            self.warnings.append(record.getMessage())
        if not str(record.msg).startswith("db attempt="):
            return
        number, timeout_ms, outcome, elapsed_ms = record.args
        entry = AttemptRecord(number, timeout_ms, outcome, elapsed_ms,
                              record.created - elapsed_ms / 1000,
                              getattr(record, "request_id", None))
        with self._lock:
            self.records.append(entry)
            hooks = list(self._hooks)
        for hook in hooks:
            hook(entry)

    def when(self, predicate: Callable[[AttemptRecord], bool],
             action: Callable[[], object]) -> None:
        """Run ``action`` (once) on the logging thread as soon as an attempt matches: faults
        that clear "after attempt n" without guessing at sleeps."""
        done = threading.Event()

        def hook(entry: AttemptRecord) -> None:
            if not done.is_set() and predicate(entry):
                done.set()
                action()

        with self._lock:
            self._hooks.append(hook)

    def clear(self) -> None:
        with self._lock:
            self.records.clear()
            self.warnings.clear()

    @property
    def outcomes(self) -> list[str]:
        return [r.outcome for r in self.records]


@pytest.fixture
def attempts() -> Iterator[AttemptLog]:
    logger = logging.getLogger("tablegate.db")
    handler = AttemptLog()
    previous = logger.level
    logger.setLevel(logging.INFO)
    logger.addHandler(handler)
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def proxy() -> Iterator[FaultProxy]:
    settings = server_settings()
    upstream = settings["unix_socket"] or (settings["host"], settings["port"])
    with FaultProxy(upstream) as running:
        yield running


@pytest.fixture
def make_app(database_name, seed_tables, proxy):
    """Build apps that reach MariaDB only through the proxy, each with one pooled connection
    already open (so no attempt under test pays for the first connect); closed at teardown.

    ``make_config`` takes the host from the environment, so the proxy's address is put in with
    ``dataclasses.replace`` (passing ``db_host`` to it twice would be a TypeError).
    """
    built = []

    def build(**overrides):
        config = dataclasses.replace(
            make_config(database_name, **{**FAST, **overrides}),
            db_host=proxy.host, db_port=proxy.port, db_socket=None)
        app = create_app(config)
        built.append(app)
        with app.extensions["tablegate"].pool.connection() as lease:
            lease.raw.ping(reconnect=False)
        return app

    yield build
    for app in built:
        database = app.extensions["tablegate"]
        database.executor.close()
        database.pool.close()


@pytest.fixture
def holder(database_name):
    """A second connection straight to MariaDB (not through the proxy) that holds locks."""
    conn = admin_connect(database_name)
    conn.autocommit(False)
    yield conn
    conn.rollback()
    conn.close()


def processlist(sql, database_name: str, exclude: tuple[int, ...] = ()) -> list[tuple]:
    """Everything of the test database still doing something on the server (idle pooled
    connections sleep; the checking connection and ``exclude`` are left out)."""
    rows = sql(
        "SELECT ID, COMMAND, STATE, INFO FROM information_schema.PROCESSLIST "
        "WHERE DB = %s AND ID <> CONNECTION_ID()", (database_name,))
    return [row for row in rows if row[0] not in exclude and row[1] != "Sleep"]


def assert_schedule(records: list[AttemptRecord], schedule: tuple[tuple[int, int], ...]) -> None:
    """Each attempt started its wait after the previous one was given up: at its timeout when
    it timed out, when its error came back otherwise."""
    for previous, current in zip(records, records[1:]):
        timeout_ms, _ = schedule[previous.number]
        _, wait_ms = schedule[current.number]
        given_up = previous.started + (timeout_ms if previous.outcome == "timeout"
                                       else previous.elapsed_ms) / 1000
        waited = current.started - given_up
        assert wait_ms / 1000 - EARLY_S <= waited <= wait_ms / 1000 + LATE_S, (
            f"attempt {current.number} started {waited * 1000:.0f} ms after attempt "
            f"{previous.number} was given up; the schedule says {wait_ms} ms", records)


def wait_until(predicate: Callable[[], bool], timeout_s: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.01)
    return predicate()


def stopped_by(details: dict) -> float:
    """An answer's ``details.stopped_by`` (issue 20), in seconds since the epoch like
    ``AttemptRecord.started``."""
    moment = datetime.datetime.strptime(details["stopped_by"], "%Y-%m-%dT%H:%M:%S.%fZ")
    return moment.replace(tzinfo=datetime.timezone.utc).timestamp()
