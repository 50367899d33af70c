"""A statement slower than every timeout: four attempts on the schedule, 504, and nothing of
the request left running on the server (CONTRACT.md "Resiliency", issue 3 item 7)."""
from __future__ import annotations

import time
import uuid

import pytest
from conftest import assert_envelope_error, assert_envelope_success
from flask import g

from tablegate.errors import GatewayTimeout

from .conftest import DEFAULT, assert_schedule, processlist


def test_row_lock_held_elsewhere_times_out_four_times(client, holder, sql, database_name,
                                                      attempts):
    """An UPDATE through HTTP behind a row lock that is never let go: each attempt waits its
    whole timeout and is killed, the answer is 504, and only the holder is left on the server."""
    sql("INSERT INTO users (name, email, age) VALUES ('Ann', 'ann@example.com', 30)")
    client.get("/api/users/query")  # reflect the table before the fault
    attempts.clear()
    holder.cursor().execute("SELECT * FROM users WHERE id = 1 FOR UPDATE")

    response = client.put("/api/users", json={"input": {"age": 31}, "where": {"id": 1}})

    body = assert_envelope_error(response, 504)
    assert body["retry_count"] == 3
    assert body["details"] == {"attempts": 4}
    assert attempts.outcomes == ["timeout"] * 4
    assert {r.request_id for r in attempts.records} == {response.headers["X-Request-ID"]}
    assert processlist(sql, database_name, exclude=(holder.thread_id(),)) == []
    holder.rollback()
    assert sql("SELECT age FROM users WHERE id = 1") == ((30,),)


def test_row_lock_released_during_the_schedule(app, client, holder, sql, attempts):
    """The lock is let go once the second attempt has been given up: the third one updates,
    and the two abandoned attempts, one of which may get the lock before its kill lands,
    write nothing."""
    sql("INSERT INTO users (name, email, age) VALUES ('Ann', 'ann@example.com', 30)")
    client.get("/api/users/query")
    attempts.clear()
    holder.cursor().execute("SELECT * FROM users WHERE id = 1 FOR UPDATE")
    attempts.when(lambda r: r.number == 1, holder.rollback)

    response = client.put("/api/users", json={"input": {"age": 31}, "where": {"id": 1}})

    body = assert_envelope_success(response)
    assert body["retry_count"] == 2
    assert body["data"] == {"rows_affected": 1}
    assert attempts.outcomes == ["timeout", "timeout", "ok"]
    assert_schedule(attempts.records, app.extensions["tablegate"].config.schedule)
    assert sql("SELECT age FROM users WHERE id = 1") == ((31,),)


def test_the_contract_schedule_exactly(make_app, holder, sql, database_name, attempts):
    """200, 400, 800, 1600 ms timeouts; 400, 800, 1600 ms waits: 5.8 s in all."""
    app = make_app(**DEFAULT)
    client = app.test_client()
    sql("INSERT INTO users (name, email, age) VALUES ('Ann', 'ann@example.com', 30)")
    client.get("/api/users/query")
    attempts.clear()
    holder.cursor().execute("SELECT * FROM users WHERE id = 1 FOR UPDATE")

    started = time.monotonic()
    response = client.delete("/api/users", json={"input": {"id": 1}})
    took = time.monotonic() - started

    body = assert_envelope_error(response, 504)
    assert (body["retry_count"], body["details"]) == (3, {"attempts": 4})
    assert [(r.number, r.timeout_ms, r.outcome) for r in attempts.records] == [
        (0, 200, "timeout"), (1, 400, "timeout"), (2, 800, "timeout"), (3, 1600, "timeout")]
    schedule = app.extensions["tablegate"].config.schedule
    assert schedule == ((200, 0), (400, 400), (800, 800), (1600, 1600))
    assert_schedule(attempts.records, schedule)
    for record in attempts.records:  # each attempt was given its whole timeout, no more
        assert record.timeout_ms <= record.elapsed_ms <= record.timeout_ms + 150
    assert 5.8 <= took <= 5.8 + 0.6
    assert processlist(sql, database_name, exclude=(holder.thread_id(),)) == []
    holder.rollback()
    assert sql("SELECT COUNT(*) FROM users") == ((1,),)


def test_sleep_is_killed_on_the_server(app, sql, database_name, attempts):
    """SELECT SLEEP() run through the executor itself: every attempt is killed in turn, so no
    sleeper outlives the answer."""
    marker = f"tg-fault-{uuid.uuid4().hex}"
    executor = app.extensions["tablegate"].executor

    def slow(session):
        return session.execute(f"SELECT SLEEP(5) /* {marker} */").fetchall()

    with app.app_context():
        with pytest.raises(GatewayTimeout) as raised:
            executor.run(slow)
        assert g.retry_count == 3
    assert raised.value.details == {"attempts": 4}
    assert attempts.outcomes == ["timeout"] * 4
    assert_schedule(attempts.records, executor.schedule)
    assert processlist(sql, database_name) == []
    leftovers = sql("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE %s "
                    "AND ID <> CONNECTION_ID()", (f"%{marker}%",))
    assert leftovers == ()
