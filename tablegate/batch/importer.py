"""One import of one file into one table, whatever the way it was asked for (a request now, a
background job later): the options, the reading, the insert and the outcome, as a kind and a
summary, never an HTTP status of its own making. The HTTP side lives in ``tablegate.api.batch``,
the rows' way into the table in ``batch.loader``.

Every import but a dry run is recorded in the ledger (``batch.ledger``): ``Importer`` records
one that runs now, on the request's thread, and runs the background ones ``batch.jobs`` hands
it; the heartbeat of both is the ledger's.
"""
from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

import pymysql

from tablegate import formats, metrics, names
from tablegate.batch import infer, ledger, loader
from tablegate.db.schema import Table
from tablegate.db.sql import quote_identifier
from tablegate.errors import Forbidden, TableNotFound, TablegateError, Unprocessable
from tablegate.formats.rows import Row
from tablegate.gateway import Gateway

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
    #: Run as a background job (``batch.jobs``) and answer 202 at once.
    background: bool = False
    #: ``?null=``: the CSV/XLSX cell text that means NULL (``\\N``, ``NA``); None: an unquoted
    #: empty cell, as before.
    null: str | None = None


#: What an import that wrote something did: every row, or some (the others failed). An import
#: that wrote nothing raises Unprocessable instead, with the same summary.
COMPLETE, PARTIAL = "complete", "partial"

#: The status the contract gives each kind (CONTRACT.md "Batch"), which the ledger records.
STATUSES = {COMPLETE: 200, PARTIAL: 207}


@dataclass(frozen=True)
class Outcome:
    """What the import did: its kind, a message and the summary."""

    kind: str
    message: str
    summary: dict

    @property
    def status(self) -> int:
        return STATUSES[self.kind]


def run(db: Gateway, options: Options, stream: BinaryIO,
        progress: Callable[[loader.Tally], None] | None = None) -> Outcome:
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
                options.table, lambda t: loader.InsertStatement(t, header, options.mode))
            return _import(db, options, table, statement, rows, progress, extra)
        if options.dry_run:
            table = plan.schema()
            return _import(db, options, table, loader.InsertStatement(table, header, options.mode),
                           rows, progress, extra, setup=plan.ddl(temporary=True))
        table, extra["created"] = _create(db, plan)
        try:
            return _import(db, options, table, loader.InsertStatement(table, header, options.mode),
                           rows, progress, extra)
        except TablegateError as exc:
            if extra["created"] and not (exc.details or {}).get("rows_inserted"):
                extra["created"] = not _drop_if_empty(db, table)
            raise
    except TablegateError as exc:
        if exc.details and "rows_total" in exc.details:  # an import's summary: say the rest
            exc.details = {**exc.details, **extra}
        raise


def _read(db: Gateway, options: Options, stream: BinaryIO,
          native: bool = False) -> tuple[list[str], Iterator[Row]]:
    return formats.read_rows(options.format, stream, sheet=options.sheet,
                             max_inflated=db.config.import_max_inflated_bytes, native=native,
                             null=options.null)


def _plan(db: Gateway, options: Options, stream: BinaryIO) -> infer.Plan | None:
    """The table to create, or None when the import goes into an existing table. A table the
    configuration does not expose is not created: it answers as missing, as everywhere."""
    if not options.create:
        return None
    try:
        db.catalog.require(options.table)
        return None
    except TableNotFound:
        names.check(options.table, "table")
        if not db.catalog.exposed(options.table):
            raise
    plan = infer.infer(options.table, *_read(db, options, stream, native=True), options.key)
    stream.seek(0)
    return plan


def _create(db: Gateway, plan: infer.Plan) -> tuple[Table, bool]:
    """Create the table; (its reflection, whether this import created it). A table another
    import created meanwhile is imported into as it is."""
    ddl = plan.ddl()
    created = True
    try:
        db.run(lambda session: session.execute(ddl))
    except TablegateError as exc:
        number = (exc.details or {}).get("mysql_errno")
        if number is None or exc.status >= 500 or isinstance(exc, Forbidden):
            raise  # not about the statement: unavailable, a timeout, no CREATE privilege
        if number != TABLE_EXISTS:
            raise Unprocessable(f"The database refused to create the table (error {number})",
                                {**exc.details, "ddl": ddl}) from None
        created = False
    return db.catalog.refresh(plan.table), created


def _drop_if_empty(db: Gateway, table: Table) -> bool:
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


def _import(db: Gateway, options: Options, table: Table, statement: loader.InsertStatement,
            rows: Iterator[Row], progress: Callable[[loader.Tally], None] | None,
            extra: dict, setup: str | None = None) -> Outcome:
    if statement.skipped:
        extra["columns_skipped"] = statement.skipped
    tally, written = loader.import_rows(db, table, statement, rows, options.atomic, progress,
                                      dry_run=options.dry_run, setup=setup)
    summary = {**tally.summary(table.name, written), **extra}
    label = formats.FORMATS[options.format].label
    if options.dry_run:
        return _dry_run_outcome(label, tally, summary, written)
    metrics.ROWS_IMPORTED.inc(summary["rows_inserted"])
    if not written:
        raise Unprocessable(f"Nothing imported: {tally.failed} rows failed and the import was "
                            "atomic", summary)
    if tally.failed and tally.failed == summary["rows_total"]:
        raise Unprocessable("Nothing imported: every row failed", summary)
    if tally.failed:
        return Outcome(PARTIAL, f"{label} partly imported: {tally.failed} rows failed", summary)
    return Outcome(COMPLETE, f"{label} imported", summary)


def _dry_run_outcome(label: str, tally: loader.Tally, summary: dict, written: bool) -> Outcome:
    """The real import's kind, with messages that say nothing was written."""
    if not written:
        raise Unprocessable(f"Dry run of {label}: nothing would be imported: {tally.failed} "
                            "rows failed and the import is atomic", summary)
    if tally.failed and tally.failed == summary["rows_total"]:
        raise Unprocessable(f"Dry run of {label}: nothing would be imported: every row failed",
                            summary)
    if tally.failed:
        return Outcome(PARTIAL, f"Dry run of {label}: {tally.failed} rows would fail; nothing "
                       "written", summary)
    return Outcome(COMPLETE, f"Dry run of {label}: every row would import; nothing written",
                   summary)


class Importer:
    """This process's recorded imports: ``app.extensions["tablegate.importer"]``. On start it
    marks the imports a stopped process cut off as failed, on a thread with a connection of its
    own: start-up itself still opens no pooled connection."""

    def __init__(self, db: Gateway) -> None:
        self.db = db
        self.heartbeat = ledger.Heartbeat(db)
        self._sweep = threading.Thread(target=ledger.expire_stale, args=(db.config,),
                                       name="tablegate-ledger-sweep", daemon=True)
        self._sweep.start()

    def run_now(self, options: Options, stream: BinaryIO) -> Outcome:
        """Import on the caller's thread; recorded unless it is a dry run (409 for a file
        imported already)."""
        if options.dry_run:
            return run(self.db, options, stream)
        self.require_table(options)
        digest, size = ledger.fingerprint(stream)
        return self.track(self.begin(options, digest, size, background=False), options, stream)

    def require_table(self, options: Options) -> None:
        """A table that is missing or not exposed is a 404 before anything is recorded or
        copied, unless the import is to create it (an exposed name, then); a view that takes
        no inserts is a 405."""
        name = options.table
        try:
            table = self.db.catalog.require(name)
        except TableNotFound:
            if options.create and self.db.catalog.exposed(name) and names.could_name_a_table(name):
                return
            raise
        table.require_write("insert")

    def begin(self, options: Options, digest: str, size: int, background: bool) -> int:
        """Record the import (409, 429) and start its heartbeat; its id."""
        import_id = ledger.begin(self.db, options.table, options.format, options.mode, digest,
                                 size, force=options.force, background=background)
        self.heartbeat.add(import_id)
        return import_id

    def track(self, import_id: int, options: Options, stream: BinaryIO) -> Outcome:
        """Run a recorded import and write its ending, whatever it is."""
        try:
            outcome = run(self.db, options, stream, self.heartbeat.progress(import_id))
        except TablegateError as exc:
            self.end(import_id, ledger.Ending.of_error(exc))
            raise
        except Exception:
            self.end(import_id, ledger.Ending(ledger.FAILED, 500,
                                              TablegateError.message, None))
            raise
        finally:
            self.heartbeat.remove(import_id)
        self.end(import_id, ledger.Ending(ledger.DONE, outcome.status, outcome.message,
                                          outcome.summary))
        return outcome

    def end(self, import_id: int, ending: ledger.Ending) -> None:
        """The import's own answer stands even when its ending cannot be written: the row then
        goes stale and is marked failed."""
        try:
            ledger.finish(self.db, import_id, ending)
        except Exception:
            log.exception("could not record the end of import %d", import_id)

    def close(self) -> None:
        self.heartbeat.close()
        self._sweep.join()
