"""The import ledger: one row per import, in a table of tablegate's own in the served database.

It answers three questions no single process can: was this file imported into this table
already (a byte-identical upload is a 409 unless ``?force=true``), how many background jobs run
across every gunicorn worker (429 beyond ``TABLEGATE_MAX_JOBS``), and how a job is doing, for
whichever worker is asked. The table is created on first use with ``CREATE TABLE IF NOT
EXISTS`` and is never exposed: the catalog treats it as denied (``tablegate.db``).

Which earlier imports block the same file: those that ended ``done`` (200 or 207: rows were
written) and those still pending or running with a live heartbeat (a double submit). A
``failed`` import does not block: it wrote nothing (every row failed, an atomic import with a
bad row, a bad header) or stopped early with a 503/504 that said how far it got, and the retry
is what the client should do next. Dry runs are never recorded.

A process that dies mid-import leaves its rows ``pending`` or ``running``; their heartbeat then
stops (``Heartbeat`` beats once a second) and any process that looks after
``TABLEGATE_JOB_STALE_SECONDS`` marks them failed: at start-up, when a job is read, and before
every new import is recorded. Times are the server's (``NOW(6)``, UTC on every connection), so
workers on different hosts agree on what is stale.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from typing import BinaryIO

import pymysql

from tablegate.batch.loader import Tally
from tablegate.config import Config
from tablegate.db.pool import side_connection
from tablegate.db.sql import quote_identifier
from tablegate.errors import (Conflict, Misconfigured, TableNotFound, TablegateError,
                              Unavailable, errno, from_mysql)
from tablegate.gateway import Gateway
from tablegate.logs import utc_timestamp

log = logging.getLogger("tablegate.ledger")

PENDING, RUNNING, DONE, FAILED = "pending", "running", "done", "failed"

BLOCK_SIZE = 1024 * 1024

#: How long recording an import waits for the ledger's lock; the executor's attempt timeout
#: bounds it too, and kills the wait when it is shorter.
LOCK_WAIT_S = 2

#: Seconds between two heartbeats (and progress writes) of the live imports.
BEAT_S = 1.0

#: Seconds a client is told to wait after a 429.
RETRY_AFTER_S = 5

DDL = """CREATE TABLE IF NOT EXISTS {table} (
  id BIGINT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY,
  sha256 CHAR(64) CHARACTER SET ascii NOT NULL,
  table_name VARCHAR(64) CHARACTER SET utf8mb4 COLLATE utf8mb4_bin NOT NULL,
  format VARCHAR(16) CHARACTER SET ascii NOT NULL,
  mode VARCHAR(16) CHARACTER SET ascii NOT NULL,
  background BOOLEAN NOT NULL,
  state VARCHAR(8) CHARACTER SET ascii NOT NULL,
  size_bytes BIGINT UNSIGNED NOT NULL,
  created_at DATETIME(6) NOT NULL,
  started_at DATETIME(6) NULL,
  finished_at DATETIME(6) NULL,
  heartbeat_at DATETIME(6) NOT NULL,
  rows_total BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rows_inserted BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rows_skipped BIGINT UNSIGNED NOT NULL DEFAULT 0,
  rows_failed BIGINT UNSIGNED NOT NULL DEFAULT 0,
  errors MEDIUMTEXT NULL,
  status_code SMALLINT NULL,
  message TEXT NULL,
  result MEDIUMTEXT NULL,
  KEY by_file (table_name, sha256),
  KEY by_state (state, heartbeat_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4"""

COLUMNS = ("id, sha256, table_name, format, mode, background, state, size_bytes, created_at, "
           "started_at, finished_at, heartbeat_at, rows_total, rows_inserted, rows_skipped, "
           "rows_failed, errors, status_code, message, result")

CUT_OFF = ("Import cut off: the process running it stopped (a restart or a crash) before it "
           "finished; the rows of the chunks it finished are written")


class TooManyJobs(TablegateError):
    status = 429

    def __init__(self, max_jobs: int) -> None:
        super().__init__(f"Too many background imports: at most {max_jobs} run at once; "
                         "try again later", {"max_jobs": max_jobs})
        self.headers = {"Retry-After": str(RETRY_AFTER_S)}


@dataclass(frozen=True)
class Ending:
    """How an import ended, as the ledger keeps it: the response's status and message, and its
    data (a success) or details (an error)."""

    state: str
    status: int
    message: str
    result: dict | None

    @classmethod
    def of_error(cls, exc: TablegateError) -> Ending:
        return cls(FAILED, exc.status, exc.message, exc.details)


def fingerprint(stream: BinaryIO, copy: BinaryIO | None = None) -> tuple[str, int]:
    """SHA-256 (hex) and size in bytes of the upload, read once block by block, written to
    ``copy`` too when given; ``stream`` is rewound for the import."""
    digest, size = hashlib.sha256(), 0
    for block in iter(lambda: stream.read(BLOCK_SIZE), b""):
        digest.update(block)
        size += len(block)
        if copy is not None:
            copy.write(block)
    stream.seek(0)
    return digest.hexdigest(), size


def begin(db: Gateway, table: str, file_format: str, mode: str, digest: str, size: int, *,
          force: bool, background: bool) -> int:
    """Record a new import and return its id, or refuse it: 409 for a file already imported
    into the table, 429 when ``background`` and the jobs limit is reached.

    The check and the insert hold a server-wide named lock (``GET_LOCK``), so that two workers
    cannot both find room for one more job or both miss the other's identical file."""
    config = db.config
    ledger = quote_identifier(config.ledger_table)

    def operation(session) -> int:
        session.execute(DDL.format(table=ledger))
        if not session.execute("SELECT GET_LOCK(%s, %s)",
                               (_lock_name(config), LOCK_WAIT_S)).fetchone()[0]:
            raise Unavailable("The import ledger is busy; try again")
        try:
            session.begin()
            _expire(session, config)
            if not force:
                _refuse_duplicate(session, ledger, table, digest)
            if background:
                live = session.execute(
                    f"SELECT COUNT(*) FROM {ledger} WHERE background AND state IN (%s, %s)",
                    (PENDING, RUNNING)).fetchone()[0]
                if live >= config.max_jobs:
                    raise TooManyJobs(config.max_jobs)
            cursor = session.execute(
                f"INSERT INTO {ledger} (sha256, table_name, format, mode, background, state, "
                "size_bytes, created_at, started_at, heartbeat_at) "
                "VALUES (%s, %s, %s, %s, %s, %s, %s, NOW(6), IF(%s, NULL, NOW(6)), NOW(6))",
                (digest, table, file_format, mode, background, PENDING if background else RUNNING,
                 size, background))
            session.commit()
            return cursor.lastrowid
        finally:
            with contextlib.suppress(pymysql.MySQLError):
                # Whatever the time left: a lock not released stays with the pooled connection.
                session.execute("DO RELEASE_LOCK(%s)", (_lock_name(config),),
                                bounded_by_attempt=False)

    return db.run(operation)


def _refuse_duplicate(session, ledger: str, table: str, digest: str) -> None:
    found = session.execute(
        f"SELECT id, state, created_at FROM {ledger} WHERE table_name = %s AND sha256 = %s "
        "AND state IN (%s, %s, %s) ORDER BY id DESC LIMIT 1",
        (table, digest, DONE, PENDING, RUNNING)).fetchone()
    if found is None:
        return
    earlier, state, created = found
    when = utc_timestamp(created)
    doing = "was imported" if state == DONE else "is being imported"
    raise Conflict(f"This file {doing} into {table!r} already (import {earlier} at {when}); "
                   "send it with ?force=true to import it again",
                   {"import_id": earlier, "state": state, "imported_at": when})


def started(db: Gateway, import_id: int) -> None:
    ledger = quote_identifier(db.config.ledger_table)
    _write(db, f"UPDATE {ledger} SET state = %s, started_at = NOW(6), heartbeat_at = NOW(6) "
               "WHERE id = %s AND state = %s", (RUNNING, import_id, PENDING))


def beat(db: Gateway, progress: dict[int, Tally | None]) -> None:
    """The heartbeat of live imports, with the counts of those that moved since the last one.
    Only rows still pending or running change: a late beat never undoes the ending."""
    ledger = quote_identifier(db.config.ledger_table)
    live = (PENDING, RUNNING)

    def operation(session) -> None:
        session.begin()
        quiet = [import_id for import_id, tally in progress.items() if tally is None]
        if quiet:
            marks = ", ".join(["%s"] * len(quiet))
            session.execute(f"UPDATE {ledger} SET heartbeat_at = NOW(6) WHERE id IN ({marks}) "
                            "AND state IN (%s, %s)", (*quiet, *live))
        for import_id, tally in progress.items():
            if tally is not None:
                session.execute(
                    f"UPDATE {ledger} SET heartbeat_at = NOW(6), rows_total = %s, "
                    "rows_inserted = %s, rows_skipped = %s, rows_failed = %s, errors = %s "
                    "WHERE id = %s AND state IN (%s, %s)",
                    (tally.inserted + tally.skipped + tally.failed, tally.inserted, tally.skipped,
                     tally.failed, json.dumps(tally.errors), import_id, *live))
        session.commit()

    db.run(operation)


def finish(db: Gateway, import_id: int, ending: Ending) -> None:
    """Write how the import ended; the counts come from its summary when it has one."""
    ledger = quote_identifier(db.config.ledger_table)
    result = ending.result or {}
    counts = [value if isinstance(value := result.get(name), int) else 0
              for name in ("rows_total", "rows_inserted", "rows_skipped", "rows_failed")]
    errors = result.get("errors") if isinstance(result.get("errors"), list) else []
    _write(db, f"UPDATE {ledger} SET state = %s, finished_at = NOW(6), heartbeat_at = NOW(6), "
               "rows_total = %s, rows_inserted = %s, rows_skipped = %s, rows_failed = %s, "
               "errors = %s, status_code = %s, message = %s, result = %s WHERE id = %s",
           (ending.state, *counts, json.dumps(errors), ending.status, ending.message,
            json.dumps(ending.result), import_id))


def read(db: Gateway, import_id: int) -> dict | None:
    """The import as ``GET /api/batch/jobs/{id}`` shows it, after marking the stale ones
    failed; None when there is none (or no ledger yet)."""
    config = db.config
    ledger = quote_identifier(config.ledger_table)

    def operation(session):
        _expire(session, config)  # in autocommit: marking a stale import twice is harmless
        return session.execute(f"SELECT {COLUMNS} FROM {ledger} WHERE id = %s",
                               (import_id,)).fetchone()

    try:
        row = db.run(operation)
    except TableNotFound:  # no import was ever recorded
        return None
    return None if row is None else describe(row)


def describe(row: tuple) -> dict:
    (import_id, digest, table, file_format, mode, background, state, size, created, started_at,
     finished, heartbeat, total, inserted, skipped, failed, errors, status, message,
     result) = row
    # The counts are as of the last heartbeat (or the end), so the rate is too.
    elapsed = ((finished or heartbeat) - started_at).total_seconds() if started_at else None
    return {
        "id": import_id, "table": table, "format": file_format, "mode": mode,
        "background": bool(background), "state": state, "sha256": digest, "bytes": size,
        "created_at": _timestamp(created), "started_at": _timestamp(started_at),
        "finished_at": _timestamp(finished), "heartbeat_at": _timestamp(heartbeat),
        "rows_processed": total, "rows_inserted": inserted, "rows_skipped": skipped,
        "rows_failed": failed,
        "rows_per_second": round(total / elapsed, 1) if elapsed else None,
        "errors": json.loads(errors) if errors else [],
        "status": status, "message": message,
        "result": json.loads(result) if result else None,
    }


def expire_stale(config: Config) -> int:
    """Mark the imports cut off by a stopped process failed, on a connection of its own.

    Run once at start-up on a thread of its own: not through the pool and the executor, so that
    start-up still opens no pooled connection and a database that is down costs one short
    connect timeout, logged, instead of the retry schedule. Being start-up's one connection, it
    is also where a misconfiguration (an unknown database, a refused login) is logged, once, as
    an error that says what is wrong (issue 13); each request then answers it with a 503."""
    timeout = max(config.retry_timeouts_ms) / 1000
    try:
        with contextlib.closing(side_connection(config, timeout)) as conn:
            marked = _expire(_Plain(conn), config)  # in autocommit, like every connection
    except Exception as exc:  # a thread of its own: nobody else would hear of it
        number = errno(exc) if isinstance(exc, pymysql.MySQLError) else None
        problem = from_mysql(exc, database=config.db_name) if number else None
        if isinstance(problem, Misconfigured):
            log.error("%s (MySQL error %s)", problem.message, number)
        elif number != 1146:  # no ledger yet: nothing was ever cut off
            log.warning("could not check the import ledger for imports cut off: %s",
                        number or type(exc).__name__)
        return 0
    if marked:
        log.warning("marked %d imports cut off by a stopped process as failed", marked)
    return marked


def _expire(session, config: Config) -> int:
    """Found with a plain read, then updated by id: an UPDATE over the state index would lock
    every live row it scans and deadlock with their heartbeats, while stale rows are rare."""
    ledger = quote_identifier(config.ledger_table)
    stale = "state IN (%s, %s) AND heartbeat_at < NOW(6) - INTERVAL %s SECOND"
    params = (PENDING, RUNNING, config.job_stale_seconds)
    found = [row[0] for row in session.execute(
        f"SELECT id FROM {ledger} WHERE {stale}", params).fetchall()]
    if not found:
        return 0
    marks = ", ".join(["%s"] * len(found))
    return session.execute(
        f"UPDATE {ledger} SET state = %s, finished_at = NOW(6), status_code = 503, "
        f"message = %s WHERE id IN ({marks}) AND {stale}",
        (FAILED, CUT_OFF, *found, *params)).rowcount


class _Plain:
    """The executor's session interface over a bare connection."""

    def __init__(self, conn: pymysql.connections.Connection) -> None:
        self.conn = conn

    def execute(self, statement: str, params: Iterable | None = None):
        cursor = self.conn.cursor()
        cursor.execute(statement, params)
        return cursor


def _write(db: Gateway, statement: str, params: tuple) -> None:
    db.run(lambda session: session.write(statement, params))


def _lock_name(config: Config) -> str:
    """GET_LOCK names are server-wide and at most 64 characters: one per ledger table."""
    key = f"{config.db_name}.{config.ledger_table}".encode()
    return "tablegate-ledger-" + hashlib.sha256(key).hexdigest()[:40]


def _timestamp(value) -> str | None:
    return None if value is None else utc_timestamp(value)


class Heartbeat:
    """One thread per process that beats for every live import of the process, started with
    the first and ending with the last: an idle process runs no thread."""

    def __init__(self, db: Gateway) -> None:
        self._db = db
        self._live: dict[int, Tally | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, import_id: int) -> None:
        with self._lock:
            self._live[import_id] = None
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._beat, name="tablegate-heartbeat",
                                                daemon=True)
                self._thread.start()

    def progress(self, import_id: int) -> Callable[[Tally], None]:
        """The callback an import calls after each chunk: it keeps a copy of the counts for the
        next beat and writes nothing itself, so a chunk never waits for the ledger."""
        def record(tally: Tally) -> None:
            snapshot = replace(tally, errors=list(tally.errors))
            with self._lock:
                if import_id in self._live:
                    self._live[import_id] = snapshot

        return record

    def remove(self, import_id: int) -> None:
        with self._lock:
            self._live.pop(import_id, None)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_S):
            with self._lock:
                if not self._live:
                    self._thread = None
                    return
                batch = dict(self._live)
                self._live.update(dict.fromkeys(batch))
            try:
                beat(self._db, batch)
            except Exception as exc:  # the next beat tries again; staleness is the backstop
                log.warning("could not write the heartbeat of imports %s: %s",
                            sorted(batch), getattr(exc, "message", type(exc).__name__))
