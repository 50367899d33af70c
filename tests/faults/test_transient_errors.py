"""What is retried and what is not: a real deadlock and a real lock wait timeout are retried;
a duplicate key is the request's own fault and answered at once (CONTRACT.md "Resiliency")."""
from __future__ import annotations

import threading
import uuid

import pytest
from conftest import admin_connect, assert_envelope_error
from flask import g

from .conftest import assert_schedule

# Long enough for a deadlock or a 1 s lock wait to happen inside one attempt.
PATIENT = dict(retry_timeouts_ms=(3000, 3000), retry_waits_ms=(50,))


@pytest.fixture
def counters(sql):
    sql("DROP TABLE IF EXISTS counters")
    sql("CREATE TABLE counters (id INT PRIMARY KEY, n INT NOT NULL)")
    sql("INSERT INTO counters VALUES (1, 0), (2, 0)")
    sql("DROP TABLE IF EXISTS ballast")
    sql("CREATE TABLE ballast (id INT AUTO_INCREMENT PRIMARY KEY, v INT)")
    sql("INSERT INTO ballast (v) SELECT seq FROM seq_1_to_200")


def test_deadlock_victim_is_retried(make_app, counters, database_name, sql, attempts):
    """Attempt 0 locks row 1 then asks for row 2; another connection, heavier (it has changed
    200 rows), holds row 2 then asks for row 1. Whichever request closes the cycle, InnoDB
    rolls back the lighter transaction: attempt 0 gets 1213, and attempt 1 does the whole unit
    again, once."""
    app = make_app(**PATIENT)
    executor = app.extensions["tablegate"].executor
    has_row_1 = threading.Event()
    other_has_row_2 = threading.Event()
    other_error: list[BaseException] = []

    def transfer(session):
        session.begin()
        session.execute("UPDATE counters SET n = n + 1 WHERE id = 1")
        if not has_row_1.is_set():  # attempt 0 only
            has_row_1.set()
            assert other_has_row_2.wait(5)
        session.execute("UPDATE counters SET n = n + 1 WHERE id = 2")
        session.commit()
        return "done"

    def other() -> None:
        """The heavier transaction: holds row 2, then asks for row 1."""
        try:
            with admin_connect(database_name) as conn:
                conn.autocommit(False)
                assert has_row_1.wait(5)
                cursor = conn.cursor()
                cursor.execute("UPDATE ballast SET v = v + 1")
                cursor.execute("UPDATE counters SET n = n + 10 WHERE id = 2")
                other_has_row_2.set()
                cursor.execute("UPDATE counters SET n = n + 10 WHERE id = 1")
                conn.commit()
        except BaseException as exc:
            other_error.append(exc)

    thread = threading.Thread(target=other)
    thread.start()
    try:
        with app.app_context():
            assert executor.run(transfer) == "done"
            assert g.retry_count == 1
    finally:
        thread.join(10)
    assert other_error == []
    assert attempts.outcomes == ["transient 1213", "ok"]
    assert_schedule(attempts.records, executor.schedule)
    assert sql("SELECT id, n FROM counters ORDER BY id") == ((1, 11), (2, 11))


def test_lock_wait_timeout_is_retried(make_app, counters, holder, sql, attempts):
    """A row held elsewhere past ``innodb_lock_wait_timeout`` (1 s for this statement only, so
    the pooled connection keeps its settings): 1205, the holder lets go, the retry succeeds.
    The first attempt had already inserted a row in its transaction: it was rolled back, so
    the retry's row and increment are the only ones."""
    app = make_app(**PATIENT)
    executor = app.extensions["tablegate"].executor
    marker = 1000 + uuid.uuid4().int % 1_000_000
    holder.cursor().execute("SELECT * FROM counters WHERE id = 1 FOR UPDATE")
    attempts.when(lambda r: r.outcome == "transient 1205", holder.rollback)

    def bump(session):
        session.begin()
        session.execute("INSERT INTO counters VALUES (%s, 0)", (marker,))
        session.execute("SET STATEMENT innodb_lock_wait_timeout = 1 FOR "
                        "UPDATE counters SET n = n + 1 WHERE id = 1")
        session.commit()
        return "bumped"

    with app.app_context():
        assert executor.run(bump) == "bumped"
        assert g.retry_count == 1
    assert attempts.outcomes == ["transient 1205", "ok"]
    assert 1000 <= attempts.records[0].elapsed_ms < 3000
    assert_schedule(attempts.records, executor.schedule)
    assert sql("SELECT n FROM counters WHERE id = 1") == ((1,),)
    assert sql("SELECT COUNT(*) FROM counters WHERE id = %s", (marker,)) == ((1,),)


def test_duplicate_key_is_answered_at_once(client, sql, attempts):
    """The request's own fault: 409 from the first attempt, nothing retried or written."""
    sql("INSERT INTO users (name, email, age) VALUES ('Ann', 'ann@example.com', 30)")
    client.get("/api/users/query")
    attempts.clear()

    response = client.post("/api/users", json={"input": {"name": "Ann 2",
                                                          "email": "ann@example.com"}})

    body = assert_envelope_error(response, 409)
    assert body["retry_count"] == 0
    assert body["details"] == {"mysql_errno": 1062, "sqlstate": "23000"}
    assert attempts.outcomes == ["error 1062"]
    assert sql("SELECT COUNT(*) FROM users") == ((1,),)
