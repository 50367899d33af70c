"""The network between the service and MariaDB fails (paused, blackholed, refused, reset): 503
while the database is gone, and the same app recovers by itself when it returns
(CONTRACT.md "Resiliency", issue 3 item 7)."""
from __future__ import annotations

import logging
import time

from conftest import assert_envelope_error, assert_envelope_success

from tablegate.db import pool

from .conftest import DEFAULT, EARLY_S, LATE_S, assert_schedule, processlist, stopped_by

ANN = {"input": {"name": "Ann", "email": "ann@example.com", "age": 30}}
BOB = {"input": {"name": "Bob", "email": "bob@example.com", "age": 40}}


def warm(client) -> None:
    """Reflect the table and fill the pool while the database is still there."""
    assert client.get("/api/users/query").status_code == 200


def assert_gone(response, attempts, app, kill_unconfirmed: bool = False) -> None:
    """503 after the whole schedule. ``kill_unconfirmed``: an attempt timed out on the server
    and its KILL could not get through the stalled network either, so the answer says so, and
    when the server ends that work by itself (issue 20)."""
    body = assert_envelope_error(response, 503)
    assert body["retry_count"] == 3
    if kill_unconfirmed:
        assert body["details"] == {"attempts": 4, "kill": "unconfirmed",
                                   "stopped_by": body["details"]["stopped_by"]}
        killed = next(r for r in attempts.records if r.outcome == "timeout")
        deadline = killed.started + killed.timeout_ms / 1000
        idle_s = app.extensions["tablegate"].config.idle_transaction_s
        assert deadline - EARLY_S <= stopped_by(body["details"]) <= deadline + idle_s + LATE_S
    else:
        assert body["details"] == {"attempts": 4}
    assert len(attempts.records) == 4
    assert {r.request_id for r in attempts.records} == {response.headers["X-Request-ID"]}
    assert_schedule(attempts.records, app.extensions["tablegate"].config.schedule)


def assert_recovered(client, sql, attempts) -> None:
    """The same app, without a restart: a write lands once and is acknowledged."""
    attempts.clear()
    response = client.post("/api/users", json=BOB)
    assert response.status_code == 201, attempts.records
    body = assert_envelope_success(response, 201)
    assert body["retry_count"] == 0, attempts.records
    assert sql("SELECT name FROM users ORDER BY id") == (("Bob",),)


def test_refused_is_503_then_recovers(app, client, proxy, sql, attempts):
    warm(client)
    attempts.clear()
    proxy.refuse()  # the server went down: nothing listens, and what was open is cut
    proxy.reset()

    response = client.post("/api/users", json=ANN)

    assert_gone(response, attempts, app)
    assert all(outcome.startswith("transient ") for outcome in attempts.outcomes)
    proxy.resume()
    assert_recovered(client, sql, attempts)


def test_refused_waits_the_contract_schedule(make_app, proxy, sql, attempts):
    """Refused connects fail at once, so each wait (400, 800, 1600 ms) runs from the failure,
    not from the end of the timeout: 2.8 s in all."""
    app = make_app(**DEFAULT)
    client = app.test_client()
    warm(client)
    attempts.clear()
    proxy.refuse()
    proxy.reset()

    started = time.monotonic()
    response = client.get("/api/users/query")
    took = time.monotonic() - started

    assert_gone(response, attempts, app)
    assert [r.timeout_ms for r in attempts.records] == [200, 400, 800, 1600]
    assert 2.8 <= took <= 2.8 + 0.5
    proxy.resume()
    assert_recovered(client, sql, attempts)


def test_blackhole_is_503_then_recovers(app, client, proxy, sql, attempts):
    """Connects are accepted and never answered: the database cannot be reached, which is a
    503 even though each attempt ended by running out of time."""
    warm(client)
    proxy.reset()  # the pool must connect anew, into the blackhole
    attempts.clear()
    proxy.blackhole()

    response = client.post("/api/users", json=ANN)

    assert_gone(response, attempts, app)
    assert attempts.outcomes == ["connect-timeout"] * 4
    proxy.resume()
    assert_recovered(client, sql, attempts)


def test_pause_is_503_then_recovers(app, client, proxy, sql, database_name, attempts):
    """Every byte held, both ways. A stall leaves nothing on the pooled connection's socket, so
    it is lent without a ping: the first attempt's statement runs out of time (its kill cannot
    get through either), and the later attempts cannot even connect."""
    warm(client)
    attempts.clear()
    proxy.pause()

    response = client.post("/api/users", json=ANN)

    assert_gone(response, attempts, app, kill_unconfirmed=True)
    assert attempts.outcomes == ["timeout"] + ["connect-timeout"] * 3
    proxy.resume()
    assert_recovered(client, sql, attempts)
    assert processlist(sql, database_name) == []


def test_stall_that_clears_during_the_schedule(app, client, proxy, attempts):
    """Paused until the second attempt has been given up: the third one gets through. The first
    runs out of time on the pooled connection, the second while connecting anew."""
    warm(client)
    attempts.clear()
    proxy.pause()
    attempts.when(lambda r: r.number == 1, proxy.resume)

    response = client.get("/api/users/query")

    body = assert_envelope_success(response)
    assert body["retry_count"] == 2
    assert attempts.outcomes == ["timeout", "connect-timeout", "ok"]
    assert_schedule(attempts.records, app.extensions["tablegate"].config.schedule)


def test_connection_reset_mid_query_is_retried(app, client, proxy, sql, attempts):
    """The connection dies as the SELECT is sent: one transient failure, then an answer."""
    sql("INSERT INTO users (name, email, age) VALUES ('Ann', 'ann@example.com', 30)")
    warm(client)
    attempts.clear()
    fired = proxy.on_client_bytes(b"FROM `users`", "drop")

    response = client.get("/api/users/query")

    body = assert_envelope_success(response)
    assert fired.is_set()
    assert body["retry_count"] == 1
    assert body["data"]["count"] == 1
    assert attempts.outcomes[0].startswith("transient ")
    assert attempts.outcomes[1:] == ["ok"]
    assert_schedule(attempts.records, app.extensions["tablegate"].config.schedule)


def test_reset_between_requests_is_invisible(client, proxy, attempts):
    """Pooled connections killed while idle are replaced when borrowed (the hang-up is seen on
    their sockets, without a round trip): no retry needed."""
    warm(client)
    proxy.reset()
    attempts.clear()

    body = assert_envelope_success(client.get("/api/users/query"))

    assert body["retry_count"] == 0
    assert attempts.outcomes == ["ok"]


def test_pause_mid_statement_keeps_the_schedule(app, client, proxy, sql, attempts):
    """The SELECT is held on the wire: the first attempt times out holding a connection whose
    kill cannot get through either. Trying to kill it must not stretch the waits; the later
    attempts never reach the database, so the answer is 503."""
    warm(client)
    attempts.clear()
    fired = proxy.on_client_bytes(b"FROM `users`", "pause")

    response = client.get("/api/users/query")

    assert fired.is_set()
    assert_gone(response, attempts, app, kill_unconfirmed=True)
    assert attempts.outcomes == ["timeout"] + ["connect-timeout"] * 3
    assert any("could not kill" in warning for warning in attempts.warnings)
    proxy.resume()
    assert_recovered(client, sql, attempts)


def test_idle_connection_is_pinged_before_it_is_lent(app, client, proxy, monkeypatch, attempts):
    """A connection idle past ``IDLE_PING_S`` is pinged first: into a stalled network that ping
    never returns, so no attempt gets as far as running its statement."""
    warm(client)
    monkeypatch.setattr(pool, "IDLE_PING_S", 0.0)
    attempts.clear()
    proxy.pause()

    response = client.get("/api/users/query")

    assert_gone(response, attempts, app)
    assert attempts.outcomes == ["connect-timeout"] * 4
    proxy.resume()


def test_at_level_warning_only_the_failed_attempts_are_logged(app, client, proxy, attempts):
    """``TABLEGATE_LOG_LEVEL=WARNING`` keeps every attempt that failed, drops the happy path."""
    warm(client)
    attempts.clear()
    logging.getLogger("tablegate.db").setLevel(logging.WARNING)  # the fixture restores it
    fired = proxy.on_client_bytes(b"FROM `users`", "drop")

    body = assert_envelope_success(client.get("/api/users/query"))

    assert fired.is_set()
    assert body["retry_count"] == 1
    assert len(attempts.outcomes) == 1
    assert attempts.outcomes[0].startswith("transient ")
    assert attempts.warnings == [f"db attempt=0 timeout_ms={attempts.records[0].timeout_ms} "
                                 f"outcome={attempts.outcomes[0]} "
                                 f"elapsed_ms={attempts.records[0].elapsed_ms:.1f}"]
