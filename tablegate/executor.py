"""The executor every unit of DB work runs through (CONTRACT.md "Resiliency").

Each attempt runs the whole operation (borrow, statements, commit) on a worker thread while the
request thread waits for that attempt's timeout. When the wait runs out, the attempt is
*abandoned* and its connection is killed on the server, like Datasette's ``sqlite_timelimit``:
a timeout stops the work, not just the waiting.

The KILL travels through the same network as the work, so it fails exactly when the network is
what stalled (issue 20). The deadline therefore also travels with the work: each statement
carries the time its attempt has left (``deadline.bounded``), and the server stops it then by
itself; a transaction left open is rolled back by the server's idle transaction timeout. A KILL
that cannot be confirmed is logged, counted through ``on_kill_unconfirmed``, and an error answer
says when the server will have ended the work by itself.

At most once: an attempt takes its lock to move from "running" to "committing", and the executor
takes the same lock to move it to "abandoned"; only one of the two can win. An abandoned attempt
can no longer commit, so the retry may start at once; an attempt already committing is waited
for, and its outcome is the answer. A commit whose outcome is unknown (the connection broke while
committing) is never retried: the client is told so instead of risking a second write.

It knows neither Flask nor the metrics: each attempt's outcome goes to the ``on_attempt`` hook
the gateway connects (metrics, the response's retry count), and its log lines name the request
through ``logs.REQUEST_ID``, which the kill threads see because they run in a copy of the
caller's context.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import contextvars
import datetime
import logging
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

import pymysql
from pymysql.constants.SERVER_STATUS import SERVER_STATUS_AUTOCOMMIT, SERVER_STATUS_IN_TRANS

from tablegate import errors
from tablegate.config import Config
from tablegate.logs import REQUEST_ID, utc_timestamp
from tablegate.db.deadline import bounded
from tablegate.db.pool import Pool, side_connection
from tablegate.errors import errno

log = logging.getLogger("tablegate.db")

T = TypeVar("T")

# MySQL/MariaDB error numbers worth another attempt: the request was fine, the database or the
# network was not (can't connect, gone away, lost connection, lock wait timeout, deadlock, too
# many connections, server shutting down, connection killed).
TRANSIENT_ERRNOS = frozenset({2002, 2003, 2006, 2013, 2055, 1205, 1213, 1040, 1053, 1927})

# The server stopped the statement at its deadline: MariaDB's max_statement_time, which every
# statement of an attempt carries (1969), or MySQL's max_execution_time, should the server set
# one (3024). The attempt ran out of time, as if the executor's own wait had run out first,
# which it usually does by a hair.
DEADLINE_ERRNOS = frozenset({1969, 3024})

# Attempt outcomes (``_report``) that are the database's or the network's fault.
FAULT_OUTCOMES = frozenset({"timeout", "connect-timeout", "transient", "commit-outcome-unknown"})

KILL_TIMEOUT_S = 0.5
KILL_POLL_S = 0.005

RUNNING, COMMITTING, FINISHED, ABANDONED = "running", "committing", "finished", "abandoned"


class CommitOutcomeUnknown(Exception):
    """The connection broke during COMMIT: the write may or may not have been applied."""


class _Abandoned(Exception):
    """Raised inside an abandoned attempt so that it stops before it can commit."""


class Attempt:
    __slots__ = ("lock", "state", "thread_id", "deadline", "wall_deadline", "transaction",
                 "outlasts")

    def __init__(self, deadline: float) -> None:
        self.lock = threading.Lock()
        self.state = RUNNING
        self.thread_id: int | None = None
        #: ``time.monotonic()`` when its time is up; its statements carry what is left of it.
        self.deadline = deadline
        #: The same moment by the wall clock (``time.time()``), for what the answer tells.
        self.wall_deadline = time.time() + deadline - time.monotonic()
        #: It opened a transaction, which the server's idle timeout ends if nothing else does.
        self.transaction = False
        #: Its work outlasts it on the server (an export's stream, an atomic import's
        #: transaction): nothing but the KILL, or the work's own end, stops it.
        self.outlasts = False

    def abandon(self) -> str:
        """Abandon unless it is already committing or finished; returns the state it ends in."""
        with self.lock:
            if self.state == RUNNING:
                self.state = ABANDONED
            return self.state


class Session:
    """What an operation gets: the connection of this attempt and the gate before COMMIT."""

    __slots__ = ("connection", "_attempt")

    def __init__(self, connection: pymysql.connections.Connection | None, attempt: Attempt):
        self.connection = connection
        self._attempt = attempt
        if connection is not None:
            self.watch(connection)

    def watch(self, connection: pymysql.connections.Connection, *,
              outlasts_attempt: bool = False) -> None:
        """Name the connection to kill if this attempt times out. ``outlasts_attempt``: work on
        it goes on after the attempt (an export's stream, an atomic import's transaction), so
        the server does not end it by itself at the attempt's deadline."""
        with self._attempt.lock:
            if self._attempt.state == ABANDONED:
                raise _Abandoned
            self._attempt.thread_id = connection.thread_id()
            self._attempt.outlasts |= outlasts_attempt

    def execute(self, sql: str, params: Any = None, *,
                bounded_by_attempt: bool = True) -> pymysql.cursors.Cursor:
        """Run one statement, carrying the time the attempt has left: the server stops it then
        by itself, whether or not the executor's KILL gets through. ``bounded_by_attempt=False``
        for clean-up that must run whatever the time (releasing a named lock, which would
        otherwise stay with a pooled connection). An abandoned attempt sends nothing more but
        such clean-up: nobody waits for its answer."""
        if bounded_by_attempt:
            if self._attempt.state == ABANDONED:  # nobody waits for it: send nothing more
                raise _Abandoned
            sql = bounded(sql, self._attempt.deadline - time.monotonic())
        cursor = self.connection.cursor()
        cursor.execute(sql, params)
        return cursor

    def write(self, sql: str, params: Any = None) -> pymysql.cursors.Cursor:
        """One statement in a transaction of its own, through the gate before COMMIT."""
        self.begin()
        cursor = self.execute(sql, params)
        self.commit()
        return cursor

    def begin(self) -> None:
        """Open the transaction of a write. Connections run in autocommit, so a write that
        skipped this would be committed statement by statement, out of the gate's reach."""
        if self._attempt.state == ABANDONED:
            raise _Abandoned
        self._attempt.transaction = True
        self.connection.begin()

    def commit(self) -> None:
        status = self.connection.server_status
        if status & SERVER_STATUS_AUTOCOMMIT and not status & SERVER_STATUS_IN_TRANS:
            raise RuntimeError("commit() without begin(): the write has committed already")
        with self._attempt.lock:
            if self._attempt.state == ABANDONED:
                raise _Abandoned
            self._attempt.state = COMMITTING
        try:
            self.connection.commit()
        except Exception as exc:
            raise CommitOutcomeUnknown from exc


class Executor:
    def __init__(self, config: Config, pool: Pool,
                 on_attempt: Callable[[int, str], None] = lambda number, kind: None,
                 on_kill_unconfirmed: Callable[[], None] = lambda: None) -> None:
        """``on_attempt(number, kind)`` is called on the caller's thread after each attempt:
        its number from 0, and its outcome without the error number (``ok``, ``timeout``,
        ``connect-timeout``, ``transient``, ``error``, ...). ``on_kill_unconfirmed()`` is
        called on a kill thread for each timed-out attempt that could not be seen gone."""
        self.config = config
        self.pool = pool
        self.on_attempt = on_attempt
        self.on_kill_unconfirmed = on_kill_unconfirmed
        self.schedule = config.schedule
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.pool_size, thread_name_prefix="tablegate-db")
        self._killers = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.pool_size, thread_name_prefix="tablegate-kill")

    def run(self, operation: Callable[[Session], T], *, borrow: bool = True) -> T:
        """Run ``operation`` on the retry schedule and return its result.

        ``borrow=False`` runs it without a pooled connection, for operations that open their
        own (export streams); they call ``session.watch(connection)``, and a result that is
        produced after its attempt was abandoned is closed.

        Timed-out attempts are killed on other threads: a kill that cannot get through (the
        network is stalled too) must not stretch the schedule's waits. The answer does wait
        for them, so that it can say whether they were confirmed: an error answer after a kill
        that was not adds ``"kill": "unconfirmed"`` and ``"stopped_by"`` to its details (when
        the server will have ended that work by itself; null when nothing bounds it there).
        """
        kills: list[tuple[Attempt, concurrent.futures.Future[bool]]] = []
        try:
            return self._run(operation, borrow, kills)
        except errors.TablegateError as exc:
            unconfirmed = [attempt for attempt, kill in kills if not kill.result()]
            if unconfirmed:
                ends = [self._stopped_by(attempt) for attempt in unconfirmed]
                exc.details = {**(exc.details or {}), "kill": "unconfirmed",
                               "stopped_by": None if None in ends else max(ends)}
            raise
        finally:
            # each bounded by KILL_TIMEOUT_S socket timeouts
            concurrent.futures.wait([kill for _, kill in kills])

    def _run(self, operation: Callable[[Session], T], borrow: bool,
             kills: list[tuple[Attempt, concurrent.futures.Future[bool]]]) -> T:
        timed_out = False  # the last failure: a statement too slow, rather than no database
        gave_up_at = 0.0
        for number, (timeout_ms, wait_ms) in enumerate(self.schedule):
            if number:
                time.sleep(max(0.0, gave_up_at + wait_ms / 1000 - time.monotonic()))
            started = time.monotonic()
            attempt = Attempt(started + timeout_ms / 1000)
            future = self._threads.submit(self._attempt, operation, attempt, borrow)
            try:
                result = future.result(timeout_ms / 1000)
            except concurrent.futures.TimeoutError:
                gave_up_at = time.monotonic()
                if attempt.abandon() == ABANDONED:
                    # Out of time before it had a connection (connecting, the liveness check,
                    # a pool kept busy by stalled attempts): the database could not be reached.
                    timed_out = attempt.thread_id is not None
                    if timed_out:
                        kills.append((attempt, self._killers.submit(
                            contextvars.copy_context().run, self._kill, attempt)))
                    self._report(number, timeout_ms, "timeout" if timed_out else "connect-timeout",
                         started)
                    continue
                # Committing or finishing: it may have written, so its outcome is the answer.
                return self._settle(future, number, timeout_ms, started)
            except CommitOutcomeUnknown:
                self._report(number, timeout_ms, "commit-outcome-unknown", started)
                raise _commit_unknown(number)
            except Exception as exc:
                if errno(exc) in DEADLINE_ERRNOS:  # the server's deadline came first: stopped
                    gave_up_at = time.monotonic()
                    timed_out = True
                    self._report(number, timeout_ms, "timeout", started)
                    continue
                if not is_transient(exc):
                    self._report(number, timeout_ms, f"error {errno(exc)}", started)
                    raise self._translate(exc)
                gave_up_at = time.monotonic()
                self._report(number, timeout_ms, f"transient {errno(exc)}", started)
                timed_out = False
                continue
            self._report(number, timeout_ms, "ok", started)
            return result
        details = {"attempts": len(self.schedule)}
        if timed_out:
            raise errors.GatewayTimeout("Database operation timed out on every attempt", details)
        raise errors.Unavailable("Database unavailable after every attempt", details)

    def _settle(self, future: concurrent.futures.Future, number: int, timeout_ms: int,
                started: float) -> Any:
        try:
            result = future.result()  # bounded by the connection's socket timeouts
        except CommitOutcomeUnknown:
            self._report(number, timeout_ms, "commit-outcome-unknown", started)
            raise _commit_unknown(number) from None
        except Exception as exc:
            self._report(number, timeout_ms, f"error {errno(exc)}", started)
            raise self._translate(exc)
        self._report(number, timeout_ms, "ok-after-timeout", started)
        return result

    def _translate(self, exc: Exception) -> Exception:
        """The contract's error for an error the server reported, caused by ``exc`` (so that
        a caller can still read the server's own); any other exception as it is."""
        translated = errors.from_mysql(exc, database=self.config.db_name)
        if translated is None:
            return exc
        translated.__cause__ = exc
        return translated

    def _attempt(self, operation: Callable[[Session], T], attempt: Attempt, borrow: bool) -> T:
        if attempt.state == ABANDONED:  # waited in the queue past its timeout
            raise _Abandoned
        if not borrow:
            return self._finish(attempt, operation(Session(None, attempt)), None)
        with self.pool.connection() as lease:
            # Session() raises _Abandoned if the attempt ran out of time while it waited for the
            # pool or the liveness check. Nothing has run on the connection then, so it goes
            # back as it is: discarding it would cost the next borrower a reconnect, and after
            # a stall every queued attempt would do that in turn, under the pool's lock, just
            # when the service should be recovering.
            session = Session(lease.raw, attempt)
            try:
                result = operation(session)
            except BaseException:
                with attempt.lock:
                    if attempt.state == ABANDONED:
                        lease.discard = True
                raise
            return self._finish(attempt, result, lease)

    @staticmethod
    def _finish(attempt: Attempt, result: T, lease) -> T:
        with attempt.lock:
            if attempt.state != ABANDONED:
                attempt.state = FINISHED
                return result
        # Nobody waits for this result any more; its connection state is not worth trusting.
        if lease is not None:
            lease.discard = True
        close = getattr(result, "close", None)
        if close is not None:
            with contextlib.suppress(Exception):
                close()
        raise _Abandoned

    def _kill(self, attempt: Attempt) -> bool:
        """Kill the abandoned attempt's connection on the server and see it gone; whether it was.

        KILL CONNECTION rather than KILL QUERY: it also rolls back the open transaction and frees
        its row locks at once, so the retry does not queue behind its own abandoned attempt.

        KILL only marks the thread, which notices and unwinds in its own time (it shows as
        "Killed" meanwhile, on a busy server for tens of milliseconds), so it waits here,
        bounded, until the thread has left the processlist. When the KILL cannot get through
        (the network that stalled the attempt stalls this connection too) or the thread is not
        seen gone in time, it says so, with when the server ends the work by itself.
        """
        thread_id = attempt.thread_id
        try:
            # No default database: the kill connection is the executor's, not the request's.
            with contextlib.closing(side_connection(self.config, KILL_TIMEOUT_S,
                                                    database=None)) as conn:
                cursor = conn.cursor()
                cursor.execute(f"KILL {int(thread_id)}")
                deadline = time.monotonic() + KILL_TIMEOUT_S
                while cursor.execute(
                        "SELECT 1 FROM information_schema.PROCESSLIST WHERE ID = %s", (thread_id,)):
                    if time.monotonic() > deadline:
                        return self._unconfirmed(attempt, f"killed connection {thread_id} still "
                                                          "winding down")
                    time.sleep(KILL_POLL_S)
                return True
        except Exception as exc:  # anything: this thread's outcome is the answer's details
            if errno(exc) == 1094:  # unknown thread: it ended by itself
                return True
            return self._unconfirmed(attempt, f"could not kill connection {thread_id}: "
                                              f"{errno(exc) or type(exc).__name__}")

    def _unconfirmed(self, attempt: Attempt, what: str) -> bool:
        self.on_kill_unconfirmed()
        ends = self._stopped_by(attempt)
        log.warning("%s; %s", what,
                    f"the server ends its work by itself by {ends}" if ends else
                    "its work outlasts the attempt, and nothing stops it on the server but the "
                    "kill or its own end",
                    extra={"request_id": REQUEST_ID.get()})
        return False

    def _stopped_by(self, attempt: Attempt) -> str | None:
        """When (UTC) the server will have ended the attempt's work by itself: its statements at
        the attempt's deadline (``max_statement_time``, counted from when each reached the
        server), a transaction it left open ``idle_transaction_s`` after that. None when its
        work outlasts the attempt."""
        if attempt.outlasts:
            return None
        end = attempt.wall_deadline
        if attempt.transaction:
            end += self.config.idle_transaction_s
        return utc_timestamp(datetime.datetime.fromtimestamp(end, datetime.timezone.utc))

    def _report(self, number: int, timeout_ms: int, outcome: str, started: float) -> None:
        kind = outcome.split(" ", 1)[0]  # "transient 2013" is a "transient"
        self.on_attempt(number, kind)
        # The database's faults at WARNING, so that TABLEGATE_LOG_LEVEL=WARNING keeps them and
        # drops the happy path and the request's own errors (a duplicate key is not the
        # database's fault).
        log.log(
            logging.WARNING if kind in FAULT_OUTCOMES else logging.INFO,
            "db attempt=%d timeout_ms=%d outcome=%s elapsed_ms=%.1f",
            number, timeout_ms, outcome, (time.monotonic() - started) * 1000,
            extra={"request_id": REQUEST_ID.get()},
        )

    def close(self) -> None:
        self._threads.shutdown(wait=False, cancel_futures=True)
        self._killers.shutdown(wait=False, cancel_futures=True)


def is_transient(exc: BaseException) -> bool:
    """Worth another attempt: a connection already closed, a transient errno, or SQLSTATE class
    08 (connection exception) unless its errno says the request or the settings are at fault (a
    packet too large, an authentication method). Never a trigger's SIGNAL, whatever number or
    class it gives itself."""
    if isinstance(exc, pymysql.err.InterfaceError):  # a connection already closed
        return True
    if isinstance(exc, pymysql.MySQLError):
        if errors.is_signal(exc):
            return False
        if errno(exc) in TRANSIENT_ERRNOS:
            return True
        return (errors.sqlstate(exc) or "").startswith("08") and \
            type(errors.from_mysql(exc)) is errors.Unavailable
    return isinstance(exc, (ConnectionError, TimeoutError))


def _commit_unknown(number: int) -> errors.Unavailable:
    return errors.Unavailable(
        "Connection lost while committing: the write may or may not have been applied; "
        "it was not retried",
        {"attempts": number + 1, "commit": "unknown"},
    )
