"""Deadlines the server enforces itself (issue 20): each statement of an attempt carries the time
the attempt has left, and the server stops it then by itself.
"""
from __future__ import annotations


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
