"""One import of one file into one table, whatever the way it was asked for (a request now, a
background job later): the options, the reading, the insert and the outcome as an envelope's
parts. The HTTP side lives in ``tablegate.api.batch``, the rows' way into the table in
``tablegate.bulk``."""
from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pymysql

from tablegate import bulk, csvio, formats, infer, metrics
from tablegate.db import Database
from tablegate.db.schema import Table
from tablegate.db.sql import quote_identifier
from tablegate.errors import TableNotFound, TablegateError, Unprocessable

log = logging.getLogger("tablegate")

# MySQL's "table already exists".
TABLE_EXISTS = 1050


@dataclass(frozen=True)
class Options:
    """Everything an import was asked to do, checked already (``api.batch`` reads them)."""

    table: str
    mode: str = "insert"
    atomic: bool = False
    #: One of ``formats.FORMATS``, decided by the view from ?format=, extension, content type.
    format: str = "csv"
    #: The XLSX worksheet to read; None: the first.
    sheet: str | None = None
    #: Create the table from the file when it does not exist (``tablegate.infer``).
    create: bool = False
    #: The file's column that becomes the created table's primary key; None: an added ``id``.
    key: str | None = None
    #: Report what the import would do, writing nothing.
    dry_run: bool = False
    #: Import even a file the ledger has seen imported into the table (no 409).
    force: bool = False
    #: ``?dedupe=key``: rows whose primary or unique key exists already are skipped, which is
    #: what ``mode`` ``ignore`` does; the view sets both.
    dedupe: bool = False
    #: Run as a background job (``tablegate.jobs``) and answer 202 at once.
    background: bool = False


@dataclass(frozen=True)
class Outcome:
    """What the import did, as the response's message, data and status."""

    message: str
    summary: dict
    status: int


def run(db: Database, options: Options, stream: BinaryIO,
        progress: Callable[[bulk.Tally], None] | None = None) -> Outcome:
    """Import the file; raises Unprocessable (with the summary) when nothing was written.
    ``progress`` is called with the running tally after each chunk.

    With ``create`` and no such table, the file is read twice (``stream`` must be seekable: an
    upload is spooled): once to infer the columns, once to insert. A table created here that
    ends up holding nothing because the import failed is dropped again, so that a corrected
    file can simply be sent again. A dry run creates a temporary table instead, on the
    connection of the transaction it never commits."""
    plan = _plan(db, options, stream)
    header, rows = _read(db, options, stream)
    extra = {"created": False} if options.create or options.dry_run else {}
    if options.dry_run:
        extra["dry_run"] = True
    if plan is not None:
        extra.update(ddl=plan.ddl(), columns=plan.describe())
    try:
        if plan is None:
            table, statement = db.prepare(
                options.table, lambda t: bulk.InsertStatement(t, header, options.mode))
            return _import(db, options, table, statement, rows, progress, extra)
        if options.dry_run:
            table = plan.schema()
            return _import(db, options, table, bulk.InsertStatement(table, header, options.mode),
                           rows, progress, extra, setup=plan.ddl(temporary=True))
        table, extra["created"] = _create(db, plan)
        try:
            return _import(db, options, table, bulk.InsertStatement(table, header, options.mode),
                           rows, progress, extra)
        except TablegateError as exc:
            if extra["created"] and not (exc.details or {}).get("rows_inserted"):
                extra["created"] = not _drop_if_empty(db, table)
            raise
    except TablegateError as exc:
        if exc.details and "rows_total" in exc.details:  # an import's summary: say the rest
            exc.details = {**exc.details, **extra}
        raise


def _read(db: Database, options: Options, stream: BinaryIO,
          native: bool = False) -> tuple[list[str], Iterator[csvio.Row]]:
    return formats.read_rows(options.format, stream, sheet=options.sheet,
                             max_inflated=db.config.import_max_inflated_bytes, native=native)


def _plan(db: Database, options: Options, stream: BinaryIO) -> infer.Plan | None:
    """The table to create, or None when the import goes into an existing table. A table the
    configuration does not expose is not created: it answers as missing, as everywhere."""
    if not options.create:
        return None
    try:
        db.catalog.require(options.table)
        return None
    except TableNotFound:
        infer.check_name(options.table, "table")
        if not db.catalog.exposed(options.table):
            raise
    plan = infer.infer(options.table, *_read(db, options, stream, native=True), options.key)
    stream.seek(0)
    return plan


def _create(db: Database, plan: infer.Plan) -> tuple[Table, bool]:
    """Create the table; (its reflection, whether this import created it). A table another
    import created meanwhile is imported into as it is."""
    ddl = plan.ddl()
    created = True
    try:
        db.run(lambda session: session.execute(ddl))
    except pymysql.MySQLError as exc:
        if not exc.args or exc.args[0] != TABLE_EXISTS:
            raise Unprocessable("The database refused to create the table "
                                f"(error {exc.args[0] if exc.args else '?'})",
                                {"mysql_errno": exc.args[0] if exc.args else None,
                                 "ddl": ddl}) from None
        created = False
    return db.catalog.refresh(plan.table), created


def _drop_if_empty(db: Database, table: Table) -> bool:
    """Drop a table this import created when it holds no row; whether it was dropped."""
    name = quote_identifier(table.name)

    def drop(session) -> bool:
        if session.execute(f"SELECT 1 FROM {name} LIMIT 1").fetchone():
            return False
        session.execute(f"DROP TABLE {name}")
        return True

    try:
        dropped = db.run(drop)
    except (TablegateError, pymysql.MySQLError):
        log.warning("could not drop the table an import created and failed to fill")
        return False
    db.catalog.forget(table.name)
    return dropped


def _import(db: Database, options: Options, table: Table, statement: bulk.InsertStatement,
            rows: Iterator[csvio.Row], progress: Callable[[bulk.Tally], None] | None,
            extra: dict, setup: str | None = None) -> Outcome:
    tally, written = bulk.import_rows(db, table, statement, rows, options.atomic, progress,
                                      dry_run=options.dry_run, setup=setup)
    summary = {**tally.summary(table.name, written), **extra}
    label = formats.LABELS[options.format]
    if options.dry_run:
        return _dry_run_outcome(label, tally, summary, written)
    metrics.ROWS_IMPORTED.inc(summary["rows_inserted"])
    if not written:
        raise Unprocessable(f"Nothing imported: {tally.failed} rows failed and the import was "
                            "atomic", summary)
    if tally.failed and tally.failed == summary["rows_total"]:
        raise Unprocessable("Nothing imported: every row failed", summary)
    if tally.failed:
        return Outcome(f"{label} partly imported: {tally.failed} rows failed", summary, 207)
    return Outcome(f"{label} imported", summary, 200)


def _dry_run_outcome(label: str, tally: bulk.Tally, summary: dict, written: bool) -> Outcome:
    """The real import's status, with messages that say nothing was written."""
    if not written:
        raise Unprocessable(f"Dry run of {label}: nothing would be imported: {tally.failed} "
                            "rows failed and the import is atomic", summary)
    if tally.failed and tally.failed == summary["rows_total"]:
        raise Unprocessable(f"Dry run of {label}: nothing would be imported: every row failed",
                            summary)
    if tally.failed:
        return Outcome(f"Dry run of {label}: {tally.failed} rows would fail; nothing written",
                       summary, 207)
    return Outcome(f"Dry run of {label}: every row would import; nothing written", summary,
                   200)
