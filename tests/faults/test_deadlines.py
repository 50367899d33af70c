"""Deadlines the server enforces itself (issue 20): when the network stalls, the KILL of a timed-out
attempt stalls with it, and the server must stop the attempt's work by itself. Each test stalls
the proxy with work on the server, then checks over a direct connection, with the proxy still
stalled, that the statement stopped at its attempt's deadline, that the transaction the attempt
left open was rolled back and its locks freed, and that the answer said when that would be.
"""
from __future__ import annotations

import re
import threading
import time
import uuid
from collections.abc import Iterator

import pymysql
import pytest
from conftest import admin_connect, assert_envelope_error, assert_envelope_success
from prometheus_client import REGISTRY

from tablegate.batch import loader
from tablegate.errors import Unavailable
from tablegate.formats.rows import Row

from .conftest import EARLY_S, LATE_S, stopped_by, wait_until

#: How long after its deadline a statement may still show in the processlist: the server's
#: timer, the poll's own round trip and a loaded two-core machine.
MARGIN_S = 0.100

ANN = (1, "Ann", "ann@example.com", 30)


class StatementWatch:
    """Polls the processlist over a direct connection, not through the proxy, and keeps the
    ids of the test database's connections whose running statement contains ``needle`` and
    when one was last seen: the time each poll *started*, so a poll that found nothing after a
    moment proves the statement gone by then."""

    def __init__(self, database_name: str, needle: str) -> None:
        self.ids: set[int] = set()
        self.first_seen: float | None = None
        self.last_seen: float | None = None
        self._query = ("SELECT ID FROM information_schema.PROCESSLIST WHERE DB = %s "
                       "AND ID <> CONNECTION_ID() AND INFO LIKE %s")
        self._args = (database_name, f"%{needle}%")
        self._stop = threading.Event()
        self._conn = admin_connect()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        with self._conn.cursor() as cursor:
            while not self._stop.is_set():
                polled = time.time()
                cursor.execute(self._query, self._args)
                found = [row[0] for row in cursor.fetchall()]
                if found:
                    self.ids.update(found)
                    self.first_seen = self.first_seen or polled
                    self.last_seen = polled
                time.sleep(0.005)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self._conn.close()


@pytest.fixture
def watch(database_name) -> Iterator:
    started: list[StatementWatch] = []

    def start(needle: str) -> StatementWatch:
        started.append(StatementWatch(database_name, needle))
        return started[-1]

    yield start
    for watcher in started:
        watcher.stop()


def connected(sql, thread_id: int) -> bool:
    return bool(sql("SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)))


def row_is_free(database_name: str) -> bool:
    """A second writer gets row 1 at once (NOWAIT: no lock wait at all), over a direct
    connection; it lets go again at once."""
    with admin_connect(database_name) as conn, conn.cursor() as cursor:
        conn.begin()
        try:
            cursor.execute("SELECT id FROM users WHERE id = 1 FOR UPDATE NOWAIT")
            return cursor.fetchall() == ((1,),)
        except pymysql.MySQLError:
            return False
        finally:
            conn.rollback()


def unconfirmed_kills() -> float:
    return REGISTRY.get_sample_value("tablegate_db_kill_unconfirmed_total")


def killed_thread(attempts) -> int:
    """The connection whose KILL the log says could not be confirmed."""
    found = [int(m.group(1)) for w in attempts.warnings
             if (m := re.match(r"could not kill connection (\d+): ", w))]
    assert len(found) == 1, attempts.warnings
    return found[0]


def assert_stopped_by_told(body, attempts, idle_s: int) -> float:
    """The answer says the kill was not confirmed, and by when the server ends the work by
    itself: the first attempt's deadline, plus the idle transaction timeout as it had opened a
    transaction. Returns that moment."""
    assert body["details"] == {"attempts": 4, "kill": "unconfirmed",
                               "stopped_by": body["details"]["stopped_by"]}
    first = attempts.records[0]
    deadline = first.started + first.timeout_ms / 1000
    promised = stopped_by(body["details"])
    assert deadline + idle_s - EARLY_S <= promised <= deadline + idle_s + LATE_S
    return promised


def test_sleep_holding_a_lock_stops_at_its_deadline_when_the_network_stalls(
        make_app, proxy, sql, database_name, attempts, watch):
    """An attempt locks a row, then sleeps; the network stalls as the SLEEP reaches the server,
    so the KILL cannot get through. The SLEEP stops at the attempt's deadline all the same, and
    the transaction that holds the row is rolled back by the server's idle timeout, by the
    moment the answer gave, with the network still stalled."""
    app = make_app(idle_transaction_timeout_s=1)
    sql("INSERT INTO users (id, name, email, age) VALUES (%s, %s, %s, %s)", ANN)
    executor = app.extensions["tablegate"].executor
    marker = f"tg-stall-{uuid.uuid4().hex}"
    before = unconfirmed_kills()

    def slow(session):
        session.begin()
        session.execute("SELECT * FROM users WHERE id = 1 FOR UPDATE")
        session.execute(f"SELECT SLEEP(5) /* {marker} */")

    fired = proxy.on_client_bytes(marker.encode(), "pause-after")
    seen = watch(marker)
    with app.app_context(), pytest.raises(Unavailable) as raised:
        executor.run(slow)

    assert fired.is_set()
    assert attempts.outcomes == ["timeout"] + ["connect-timeout"] * 3
    body = {"details": raised.value.details}
    promised = assert_stopped_by_told(body, attempts, idle_s=1)
    assert unconfirmed_kills() == before + 1
    first = attempts.records[0]
    assert seen.first_seen is not None, "the SLEEP never ran on the server"
    assert seen.last_seen <= first.started + first.timeout_ms / 1000 + MARGIN_S
    assert proxy.mode == "paused"
    (thread_id,) = seen.ids
    assert wait_until(lambda: not connected(sql, thread_id),
                      max(0.0, promised - time.time()) + MARGIN_S)
    assert row_is_free(database_name)


def test_update_behind_a_lock_stops_at_its_deadline_when_the_network_stalls(
        make_app, proxy, holder, sql, database_name, attempts, watch):
    """An UPDATE through HTTP waits behind a row lock held elsewhere; the network stalls as it
    reaches the server. It leaves the lock queue at its attempt's deadline, so when the holder
    lets go a second writer gets the row at once: the abandoned UPDATE does not take it and sit
    on it behind the stalled network."""
    app = make_app(idle_transaction_timeout_s=1)
    client = app.test_client()
    sql("INSERT INTO users (id, name, email, age) VALUES (%s, %s, %s, %s)", ANN)
    client.get("/api/users/query")
    attempts.clear()
    before = unconfirmed_kills()
    holder.cursor().execute("SELECT * FROM users WHERE id = 1 FOR UPDATE")
    fired = proxy.on_client_bytes(b"UPDATE `users`", "pause-after")
    seen = watch("UPDATE `users`")

    response = client.put("/api/users", json={"input": {"age": 31}, "where": {"id": 1}})

    assert fired.is_set()
    body = assert_envelope_error(response, 503)
    assert attempts.outcomes == ["timeout"] + ["connect-timeout"] * 3
    assert_stopped_by_told(body, attempts, idle_s=1)
    assert any(w.startswith(f"could not kill connection {killed_thread(attempts)}: ")
               and "the server ends its work by itself by " in w for w in attempts.warnings)
    assert unconfirmed_kills() == before + 1
    first = attempts.records[0]
    assert seen.first_seen is not None, "the UPDATE never reached the server"
    assert seen.last_seen <= first.started + first.timeout_ms / 1000 + MARGIN_S
    assert proxy.mode == "paused"
    holder.rollback()
    assert row_is_free(database_name)
    assert sql("SELECT age FROM users WHERE id = 1") == ((30,),)


def test_open_write_transaction_is_rolled_back_by_the_server(make_app, proxy, sql,
                                                             database_name, attempts):
    """A PATCH has locked its row and the network stalls before its UPDATE: the transaction
    sits idle on the server, holding the row, and the KILL cannot reach it. The server rolls it
    back by itself by the moment the answer gave, with the network still stalled."""
    app = make_app(idle_transaction_timeout_s=1)
    client = app.test_client()
    sql("INSERT INTO users (id, name, email, age) VALUES (%s, %s, %s, %s)", ANN)
    client.get("/api/users/query")
    attempts.clear()
    fired = proxy.on_client_bytes(b"UPDATE `users`", "pause")  # held: never reaches the server

    response = client.patch("/api/users/1", json={"input": {"age": 31}})

    assert fired.is_set()
    body = assert_envelope_error(response, 503)
    assert attempts.outcomes == ["timeout"] + ["connect-timeout"] * 3
    promised = assert_stopped_by_told(body, attempts, idle_s=1)
    thread_id = killed_thread(attempts)
    assert proxy.mode == "paused"
    assert wait_until(lambda: not connected(sql, thread_id),
                      max(0.0, promised - time.time()) + MARGIN_S)
    assert row_is_free(database_name)
    assert sql("SELECT age FROM users WHERE id = 1") == ((30,),)


def test_unique_key_retry_does_not_deadlock_with_its_abandoned_attempt(make_app, proxy, sql,
                                                                       attempts):
    """The first attempt's INSERT reaches the server, then its connection stalls and its KILL
    is lost: its uncommitted row holds the unique key. The retry queues behind it, bounded by
    its own deadline, never deadlocking with it; once the server has rolled the abandoned
    transaction back (idle for 1 s), the next retry inserts the one row."""
    app = make_app(idle_transaction_timeout_s=1, retry_timeouts_ms=(200, 300, 800),
                   retry_waits_ms=(400, 600))
    client = app.test_client()
    client.get("/api/users/query")
    attempts.clear()
    stalled = proxy.on_client_bytes(b"INSERT INTO `users`", "stall")
    lost = proxy.on_client_bytes(b"KILL ", "drop")

    response = client.post("/api/users", json={"input": {"name": "Ann",
                                                         "email": "ann@example.com"}})

    assert stalled.is_set() and lost.is_set()
    body = assert_envelope_success(response, 201)
    assert body["retry_count"] == 2
    assert attempts.outcomes == ["timeout", "timeout", "ok"]
    assert any(w.startswith("could not kill connection ") for w in attempts.warnings)
    assert sql("SELECT name FROM users WHERE email = 'ann@example.com'") == (("Ann",),)


def test_every_statement_carries_its_attempts_time_left(make_app, attempts):
    """What the server sees inside an attempt: the time left as ``max_statement_time``, the
    lock wait in whole seconds, and the idle transaction timeouts of the session."""
    app = make_app(idle_transaction_timeout_s=2)
    executor = app.extensions["tablegate"].executor

    def read(session):
        return session.execute(
            "SELECT @@max_statement_time, @@innodb_lock_wait_timeout, @@idle_transaction_timeout,"
            " @@idle_write_transaction_timeout, @@idle_readonly_transaction_timeout").fetchone()

    with app.app_context():
        max_statement_time, lock_wait, *idle = executor.run(read)
    assert 0 < max_statement_time <= 0.200
    assert lock_wait == 1
    assert idle == [2, 2, 2]


def test_a_statement_the_server_stopped_is_a_timeout_and_retried(make_app, attempts):
    """The server's deadline can come back before the executor's own wait runs out (here a
    statement shorter than its attempt, on purpose): error 1969 is a timeout like any other,
    retried, never an error of the request."""
    app = make_app(retry_timeouts_ms=(3000, 3000), retry_waits_ms=(50,))
    executor = app.extensions["tablegate"].executor
    calls = []

    def sleepy(session):
        calls.append(1)
        if len(calls) == 1:
            session.execute("SET STATEMENT max_statement_time = 0.05 FOR SELECT SLEEP(2)")
        return len(calls)

    with app.app_context():
        assert executor.run(sleepy) == 2
    assert attempts.outcomes == ["timeout", "ok"]
    assert attempts.records[0].elapsed_ms < 1000


def test_atomic_import_transaction_is_not_cut_by_the_idle_timeout(make_app, sql):
    """An atomic import's one transaction is idle between chunks while the upload is read, for
    longer than the idle transaction timeout here: it is exempt, and lands whole."""
    app = make_app(idle_transaction_timeout_s=1, import_chunk_rows=1)
    db = app.extensions["tablegate"]
    table = db.catalog.require("users")
    statement = loader.InsertStatement(table, ["name", "email"], "insert")

    def slow_upload() -> Iterator[Row]:
        yield Row(1, ("Ann", "ann@example.com"), 20)
        time.sleep(1.5)  # the next chunk comes after the idle timeout
        yield Row(2, ("Bob", "bob@example.com"), 20)

    tally, written = loader.import_rows(db, table, statement, slow_upload(), atomic=True)

    assert written and (tally.inserted, tally.failed) == (2, 0)
    assert sql("SELECT name FROM users ORDER BY id") == (("Ann",), ("Bob",))
