"""A write is committed at most once, and an acknowledged write is never lost: stalls and
breaks injected around COMMIT (CONTRACT.md "Resiliency", issue 3 item 5).

``events`` has no unique key on purpose: a second commit of the same request would show up as
a second row instead of being caught by a constraint.
"""
from __future__ import annotations

import threading
import time
import uuid

import pytest
from conftest import assert_envelope_error, assert_envelope_success
from flask import g

from .conftest import wait_until

COMMIT = b"\x03COMMIT"  # COM_QUERY "COMMIT", as PyMySQL sends it


@pytest.fixture
def events(sql):
    sql("DROP TABLE IF EXISTS events")
    sql("CREATE TABLE events (id INT AUTO_INCREMENT PRIMARY KEY, marker VARCHAR(64) NOT NULL)")


def count(sql, marker: str) -> int:
    return sql("SELECT COUNT(*) FROM events WHERE marker = %s", (marker,))[0][0]


def open_transactions(sql, database_name: str) -> int:
    """Transactions still open on connections of the test database (an abandoned attempt
    that has not rolled back yet)."""
    return sql(
        "SELECT COUNT(*) FROM information_schema.INNODB_TRX t "
        "JOIN information_schema.PROCESSLIST p ON p.ID = t.trx_mysql_thread_id "
        "WHERE p.DB = %s AND p.ID <> CONNECTION_ID()", (database_name,))[0][0]


def resume_after(proxy, fired: threading.Event, delay_s: float) -> None:
    """Resume the proxy ``delay_s`` after a trigger has fired (or after 10 s if it never does)."""
    def run() -> None:
        if fired.wait(10):
            time.sleep(delay_s)
        proxy.resume()

    threading.Thread(target=run, daemon=True).start()


def test_abandoned_attempt_cannot_commit_even_unkilled(make_app, events, proxy, sql,
                                                       database_name, attempts):
    """The first attempt stalls between its INSERT and its COMMIT past its timeout, and its
    connection cannot be killed (new connections are refused). It is alive and could commit:
    the gate before COMMIT is all that stops it. The retry writes the one row. (Half a second
    each, to be sure the INSERT is done inside the first attempt and connects are accepted
    again before the retry starts.)"""
    app = make_app(retry_timeouts_ms=(500, 500), retry_waits_ms=(500,))
    marker = uuid.uuid4().hex
    executor = app.extensions["tablegate"].executor
    given_up = threading.Event()
    attempts.when(lambda r: r.number == 0, given_up.set)
    refused: list[str] = []
    calls = 0

    def write(session):
        nonlocal calls
        calls += 1
        session.begin()
        session.execute("INSERT INTO events (marker) VALUES (%s)", (marker,))
        if calls == 1:
            proxy.refuse()
            assert given_up.wait(5)
            assert wait_until(lambda: any("could not kill" in w for w in attempts.warnings))
            proxy.resume()
            try:
                session.commit()
            except BaseException as exc:
                refused.append(type(exc).__name__)
                raise
        else:
            session.commit()
        return calls

    with app.app_context():
        assert executor.run(write) == 2
        assert g.retry_count == 1
    assert refused == ["_Abandoned"]
    assert attempts.outcomes == ["timeout", "ok"]
    assert wait_until(lambda: open_transactions(sql, database_name) == 0)
    assert count(sql, marker) == 1


def test_commit_in_flight_is_waited_for_and_is_the_answer(client, events, proxy, sql,
                                                          attempts):
    """COMMIT held on the wire past the attempt's timeout, then delivered: the executor does
    not retry while it could still land, and answers with its result."""
    marker = uuid.uuid4().hex
    client.get("/api/events/query")
    attempts.clear()
    fired = proxy.on_client_bytes(COMMIT, "pause")
    resume_after(proxy, fired, 0.5)

    response = client.post("/api/events", json={"input": {"marker": marker}})

    body = assert_envelope_success(response, 201)
    assert body["retry_count"] == 0
    assert body["data"]["rows_affected"] == 1
    assert attempts.outcomes == ["ok-after-timeout"]
    assert attempts.records[0].elapsed_ms >= 500
    assert count(sql, marker) == 1


def test_commit_dropped_is_unknown_and_not_retried(client, events, proxy, sql, attempts):
    """The connection breaks as COMMIT is sent and the server never sees it: the client is
    told the outcome is unknown, nothing is retried, and indeed nothing was written."""
    marker = uuid.uuid4().hex
    client.get("/api/events/query")
    attempts.clear()
    fired = proxy.on_client_bytes(COMMIT, "drop")

    response = client.post("/api/events", json={"input": {"marker": marker}})

    assert fired.is_set()
    body = assert_envelope_error(response, 503)
    assert body["retry_count"] == 0
    assert body["details"] == {"attempts": 1, "commit": "unknown"}
    assert attempts.outcomes == ["commit-outcome-unknown"]
    assert count(sql, marker) == 0


def test_commit_reply_lost_is_unknown_and_not_repeated(client, events, proxy, sql, attempts):
    """COMMIT reaches the server, its reply is lost: the row is there once, and the request
    that cannot know it is not retried into a second row."""
    marker = uuid.uuid4().hex
    client.get("/api/events/query")
    attempts.clear()
    fired = proxy.on_client_bytes(COMMIT, "lose-reply")

    response = client.post("/api/events", json={"input": {"marker": marker}})

    assert fired.is_set()
    body = assert_envelope_error(response, 503)
    assert (body["retry_count"], body["details"]) == (0, {"attempts": 1, "commit": "unknown"})
    assert attempts.outcomes == ["commit-outcome-unknown"]
    assert count(sql, marker) == 1


def test_commit_stalled_for_good_is_bounded(app, client, events, proxy, sql, database_name,
                                            attempts):
    """COMMIT held until after the answer: the wait for it is bounded by the socket timeout
    (twice the last attempt timeout plus a second), the answer is "unknown", and whatever the
    server does with the late COMMIT, the row exists at most once."""
    marker = uuid.uuid4().hex
    client.get("/api/events/query")
    attempts.clear()
    proxy.on_client_bytes(COMMIT, "pause")
    backstop_ms = max(app.extensions["tablegate"].config.retry_timeouts_ms) * 2 + 1000

    response = client.post("/api/events", json={"input": {"marker": marker}})

    body = assert_envelope_error(response, 503)
    assert (body["retry_count"], body["details"]) == (0, {"attempts": 1, "commit": "unknown"})
    assert attempts.outcomes == ["commit-outcome-unknown"]
    assert backstop_ms <= attempts.records[0].elapsed_ms <= backstop_ms + 500
    proxy.resume()
    assert wait_until(lambda: open_transactions(sql, database_name) == 0)
    assert count(sql, marker) <= 1


def test_insert_held_on_the_wire_lands_once(app, client, events, proxy, sql, database_name,
                                            attempts):
    """The first attempt's INSERT is held until the second attempt has been given up, then
    delivered: that late INSERT may run, but its attempt is abandoned and cannot commit; the
    third attempt writes the one row that is acknowledged."""
    marker = uuid.uuid4().hex
    client.get("/api/events/query")
    attempts.clear()
    fired = proxy.on_client_bytes(b"INSERT INTO `events`", "pause")
    attempts.when(lambda r: r.number == 1, proxy.resume)

    response = client.post("/api/events", json={"input": {"marker": marker}})

    assert fired.is_set()
    body = assert_envelope_success(response, 201)
    assert body["retry_count"] == 2
    assert attempts.outcomes == ["timeout", "connect-timeout", "ok"]
    assert wait_until(lambda: open_transactions(sql, database_name) == 0)
    assert count(sql, marker) == 1


def test_commit_without_begin_is_a_programming_error(app, events, sql):
    """Pooled connections are in autocommit: a write that did not ``begin()`` has committed
    before it reaches the gate, so ``commit()`` refuses loudly instead of pretending."""
    executor = app.extensions["tablegate"].executor

    def write(session):
        session.execute("INSERT INTO events (marker) VALUES (%s)", (7,))
        session.commit()

    with app.app_context(), pytest.raises(RuntimeError, match="without begin"):
        executor.run(write)
