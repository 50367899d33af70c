"""Rows into a table, each unit of DB work through the executor (CONTRACT.md "Batch").

Each chunk is one multi-row INSERT in its own transaction. A chunk that fails because of
its rows is split in two, each half its own unit, until the failing unit is one row, whose error
is then reported: good rows land, each bad row costs about 2·log2(chunk) statements instead of a
whole chunk of single-row ones. Every unit is one executor call that commits at most once (the
executor's commit gate), so a retried unit never writes twice; a unit whose commit outcome is
unknown ends the import with a 503 that says how far it got.

The INSERT text is built here, not with PyMySQL's ``%s`` parameters: the driver escapes each
value in Python (about 9 s per million five-column rows, more than LOAD DATA takes for the whole
file). Values are joined with separators no decoded text can contain (lone surrogates; rows
holding one were rejected by the readers) and escaped with the driver's own table in a few
``str.replace`` passes per chunk. Names still go through ``quote_identifier`` after reflection.
"""
from __future__ import annotations

import base64
import binascii
import contextlib
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TypeVar

import pymysql
from pymysql.constants import SERVER_STATUS

from tablegate.db.schema import Table
from tablegate.db.sql import on_duplicate, quote_identifier
from tablegate.errors import (BadRequest, Conflict, TablegateError, Unavailable, Unprocessable,
                              from_mysql)
from tablegate.executor import Session
from tablegate.formats.rows import DEFAULT, Row, chunks
from tablegate.gateway import Gateway

T = TypeVar("T")

MODES = ("insert", "ignore", "upsert")

# A chunk is also cut when its CSV text reaches this many characters, so that one INSERT stays
# far below the server's max_allowed_packet whatever the width of the rows.
MAX_CHUNK_CHARS = 1024 * 1024

# Separators and markers inside a chunk's joined text, replaced after escaping; lone surrogates,
# which no decoded text holds. DEFAULT is the readers' marker for a cell a record leaves out.
FIELD, RECORD, NULL, HEX = "\udfff", "\udffe", "\udffd", "\udffb"

# PyMySQL's escape_string table, and the only escape left under NO_BACKSLASH_ESCAPES.
BACKSLASH_ESCAPES = (("\\", "\\\\"), ("\0", "\\0"), ("\n", "\\n"), ("\r", "\\r"),
                     ("\x1a", "\\Z"), ("'", "\\'"), ('"', '\\"'))
QUOTE_ESCAPES = (("'", "''"),)

AT_ROW = re.compile(r" at row \d+$")

# errno for "packet bigger than max_allowed_packet"; reported for a row we do not send.
PACKET_TOO_LARGE = 1153


class RowsTooLarge(Exception):
    """The statement for these rows would exceed the server's max_allowed_packet."""


class BadValue(Exception):
    """A cell that cannot become a value of its column (not base64 for a binary column)."""


class AtomicImportLost(Unavailable):
    """The transaction of an atomic import cannot be trusted any more."""


# Failures caused by the rows of a unit, as the executor raises them: split the unit. 409 and
# 422 are a row's own fault whatever the server's reason (errors.from_mysql: SQLSTATE classes
# 01, 22, 23, 44, 45, and HY000 errors about values: a trigger's SIGNAL, a CHECK constraint, a
# view's CHECK OPTION, a generated column's overflow). A fault of the statement (a view that
# takes no insert, a privilege, a misconfiguration) is the same for every row: it ends the import.
ROW_FAULTS = (Conflict, Unprocessable, RowsTooLarge)


def is_row_fault(exc: BaseException) -> bool:
    """A failure of one statement that leaves its transaction intact (statement rollback)."""
    if isinstance(exc, RowsTooLarge):
        return True
    return isinstance(exc, pymysql.MySQLError) and isinstance(from_mysql(exc),
                                                              (Conflict, Unprocessable))


class InsertStatement:
    """The INSERT of one file into one table in one mode, for any group of its rows."""

    def __init__(self, table: Table, header: Sequence[str], mode: str) -> None:
        """Refuses a table that takes no inserts (405). Generated columns in the header are
        skipped, their cells dropped: the server computes them, and an export, which shows
        them, must import back (``skipped`` names them for the summary)."""
        table.require_write("insert")
        named = [table.column(name) for name in header]
        columns = [c for c in named if not c.generated]
        self.skipped = [c.name for c in named if c.generated]
        if self.skipped and not columns:
            raise BadRequest("Every column the header names is generated: nothing to import",
                             {"columns_skipped": self.skipped})
        #: The indexes of the cells to keep, when some are dropped.
        self._keep = tuple(i for i, c in enumerate(named) if not c.generated) \
            if self.skipped else None
        names = ", ".join(quote_identifier(c.name) for c in columns)
        self.head = f"INSERT INTO {quote_identifier(table.name)} ({names}) VALUES "
        self.tail = "" if mode == "insert" else on_duplicate(
            table, [c.name for c in columns], update=mode == "upsert")
        self.mode = mode
        # An unquoted empty cell: NULL where allowed, else the column's DEFAULT (the server
        # rejects the row when there is none).
        self._empty = [NULL if c.nullable else DEFAULT for c in columns]
        self._binary = {i: c.name for i, c in enumerate(columns) if c.is_binary}
        self.max_bytes = 0  # set from the server's max_allowed_packet before use

    def prepare(self, values: tuple[str | None, ...]) -> tuple[str, ...]:
        """Cells as markers and text, ready to be joined; raises BadValue."""
        if None in values:
            values = tuple([self._empty[i] if v is None else v for i, v in enumerate(values)])
        if self._binary:
            values = tuple([self._hex(i, v) if i in self._binary else v
                            for i, v in enumerate(values)])
        return values

    def _hex(self, index: int, value: str) -> str:
        """Base64 text, as the JSON API takes binary values, sent as a hex literal."""
        if value in (NULL, DEFAULT):
            return value
        try:
            return HEX + base64.b64decode(value, validate=True).hex()
        except (binascii.Error, ValueError):
            raise BadValue(f"Column {self._binary[index]!r} takes base64 text") from None

    def split(self, chunk: list[Row]) -> tuple[list[tuple[int, tuple[str, ...]]],
                                                      list[tuple[int, str, str]]]:
        """A chunk as (row number, prepared values) to insert and (row number, error code,
        message) for the rows that cannot even be tried."""
        good, failures = [], []
        for number, values, _, error in chunk:
            if error:
                failures.append((number, "400", error))
                continue
            if self._keep is not None:
                values = tuple([values[i] for i in self._keep])
            if None in values or self._binary:
                try:
                    values = self.prepare(values)
                except BadValue as exc:
                    failures.append((number, "422", str(exc)))
                    continue
            good.append((number, values))
        return good, failures

    def sql(self, rows: Sequence[tuple[str, ...]], backslashes: bool) -> str:
        body = RECORD.join([FIELD.join(values) for values in rows])
        for old, new in BACKSLASH_ESCAPES if backslashes else QUOTE_ESCAPES:
            if old in body:
                body = body.replace(old, new)
        values = "('" + body.replace(FIELD, "','").replace(RECORD, "'),('") + "')"
        for marker, literal in ((f"'{NULL}'", "NULL"), (f"'{DEFAULT}'", "DEFAULT"),
                                (f"'{HEX}", "X'")):
            if marker in values:
                values = values.replace(marker, literal)
        return self.head + values + self.tail

    def execute(self, session: Session, rows: Sequence[tuple[str, ...]]) -> int:
        """Run the INSERT for ``rows`` in the unit's session, so that it carries the unit's
        deadline to the server; the affected-row count."""
        status = session.connection.server_status
        backslashes = not status & SERVER_STATUS.SERVER_STATUS_NO_BACKSLASH_ESCAPES
        statement = self.sql(rows, backslashes)
        if len(statement) * 4 > self.max_bytes and len(statement.encode()) > self.max_bytes:
            raise RowsTooLarge
        return session.execute(statement).rowcount

    def outcome(self, rows: int, affected: int) -> tuple[int, int]:
        """(rows written, rows skipped): ``ignore`` skips duplicates with a no-op update, which
        MySQL counts as 0 affected rows; ``upsert`` counts 1 per insert and 2 per update."""
        if self.mode == "ignore":
            return affected, rows - affected
        return rows, 0


@dataclass
class Tally:
    """Exact counts, and the first ``max_errors`` row errors in row order."""

    max_errors: int
    inserted: int = 0
    skipped: int = 0
    failed: int = 0
    errors: list[dict] = field(default_factory=list)

    def fail(self, row: int, error_code: str, message: str) -> None:
        self.failed += 1
        if len(self.errors) < self.max_errors:
            self.errors.append({"row": row, "error_code": error_code, "message": message})

    def summary(self, table: str, written: bool = True) -> dict:
        return {"table": table, "rows_total": self.inserted + self.skipped + self.failed,
                "rows_inserted": self.inserted if written else 0,
                "rows_skipped": self.skipped if written else 0,
                "rows_failed": self.failed, "errors": self.errors}


class PooledTarget:
    """Each unit on a pooled connection in its own transaction, committed at once."""

    def __init__(self, db: Gateway, table: Table) -> None:
        self.db, self.table = db, table

    def run(self, work: Callable[[Session], T]) -> T:
        def operation(session: Session) -> T:
            session.begin()
            result = work(session)
            session.commit()
            return result

        return self.db.run_on(self.table, operation)

    def finish(self, commit: bool) -> None:
        """Every unit committed already."""

    def close(self) -> None:
        """Nothing held."""


class AtomicTarget:
    """Every unit on one connection of its own, in one transaction committed at the end.

    A unit that fails for anything but its rows' own fault (a timeout, whose connection the
    executor kills; a deadlock, which rolls the whole transaction back) may have lost the earlier
    units, so it is never retried: the import ends with nothing written.

    Each unit's statements carry the unit's deadline like any other, but the transaction is
    exempt from the server's idle transaction timeout (``Gateway.side_connection``): it is idle
    between units while the upload is read.
    """

    def __init__(self, db: Gateway, table: Table) -> None:
        self.db, self.table = db, table
        self._dirty = False
        self._conn = db.run_on(table, lambda session: db.side_connection(session, autocommit=False),
                               borrow=False)

    def run(self, work: Callable[[Session], T]) -> T:
        def operation(session: Session) -> T:
            self._adopt(session)
            try:
                result = work(session)
            except Exception as exc:
                if is_row_fault(exc):
                    self._dirty = False
                raise
            self._dirty = False
            return result

        return self.db.run_on(self.table, operation, borrow=False)

    def finish(self, commit: bool) -> None:
        if commit:
            self.db.run_on(self.table, lambda session: self._adopt(session).commit(),
                           borrow=False)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self._conn.close()  # without COMMIT: rolled back

    def _adopt(self, session):
        if self._dirty:
            raise AtomicImportLost(
                "The atomic import lost its transaction (a statement timed out or the "
                "connection failed); nothing was written")
        self._dirty = True
        session.connection = self._conn
        session.watch(self._conn, outlasts_attempt=True)
        return session


def import_rows(db: Gateway, table: Table, statement: InsertStatement,
                rows: Iterator[Row], atomic: bool,
                progress: Callable[[Tally], None] | None = None, *, dry_run: bool = False,
                setup: str | None = None) -> tuple[Tally, bool]:
    """Insert every row it can; returns the tally and whether the rows stay written.
    ``progress`` sees the tally after each chunk.

    ``dry_run`` runs every unit in one transaction that is never committed (the atomic target),
    so the tally is the real import's without a row written; ``setup`` is a statement run first
    on that transaction's connection (a dry run's CREATE TEMPORARY TABLE, which neither commits
    nor outlives the connection).

    A failure that ends the import early (503/504, a file unreadable from some row on) carries
    how far it got in its details, so that a client knows what landed.

    The file is parsed on the request thread, between statements. A reader thread one chunk
    ahead was tried and measured slower: the CPU-bound parser holds the GIL for up to the 5 ms
    switch interval each time the executor's thread wakes from the socket, several times per
    chunk.
    """
    tally = Tally(db.config.import_max_errors)
    statement.max_bytes = db.run_on(table, _max_packet) - 1024
    target = AtomicTarget(db, table) if atomic or dry_run else PooledTarget(db, table)
    prepared = map(statement.split,
                   chunks(rows, db.config.import_chunk_rows, MAX_CHUNK_CHARS))
    try:
        if setup is not None:
            target.run(lambda session: session.execute(setup))
        for good, failures in prepared:
            _insert_chunk(target, statement, good, failures, tally)
            if progress is not None:
                progress(tally)
        written = not (atomic and tally.failed)
        target.finish(commit=written and not dry_run)
    except TablegateError as exc:
        exc.details = {**(exc.details or {}), **tally.summary(
            table.name, written=not (atomic or dry_run)), "completed": False}
        raise
    finally:
        target.close()
    return tally, written


def _max_packet(session) -> int:
    return int(session.execute("SELECT @@max_allowed_packet").fetchone()[0])


def _insert_chunk(target, statement: InsertStatement, good: list[tuple[int, tuple[str, ...]]],
                  failures: list[tuple[int, str, str]], tally: Tally) -> None:
    if good:
        written, skipped = _insert(target, statement, good, failures)
        tally.inserted += written
        tally.skipped += skipped
    for failure in sorted(failures):
        tally.fail(*failure)


def _insert(target, statement: InsertStatement, rows: list[tuple[int, tuple[str, ...]]],
            failures: list[tuple[int, str, str]]) -> tuple[int, int]:
    """Insert ``rows`` as one unit, or split it until each failure is one row's."""
    try:
        affected = target.run(lambda session: statement.execute(session, [v for _, v in rows]))
    except ROW_FAULTS as exc:
        if len(rows) > 1:
            middle = len(rows) // 2
            first = _insert(target, statement, rows[:middle], failures)
            second = _insert(target, statement, rows[middle:], failures)
            return first[0] + second[0], first[1] + second[1]
        failures.append((rows[0][0], *_describe(exc)))
        return 0, 0
    return statement.outcome(len(rows), affected)


def _describe(exc: Exception) -> tuple[str, str]:
    if isinstance(exc, RowsTooLarge):
        return str(PACKET_TOO_LARGE), "Row is larger than the server accepts in one statement"
    # The server counts rows within its one-row statement: its "at row 1" would mislead.
    return (str((exc.details or {}).get("mysql_errno", exc.status)),
            AT_ROW.sub("", exc.message))
