"""One import of one file into one table, whatever the way it was asked for (a request now, a
background job later): the options, the reading, the insert and the outcome as an envelope's
parts. The HTTP side lives in ``tablegate.api.batch``, the rows' way into the table in
``tablegate.bulk``."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import BinaryIO

from tablegate import bulk, csvio, metrics
from tablegate.db import Database
from tablegate.errors import Unprocessable


@dataclass(frozen=True)
class Options:
    """Everything an import was asked to do, checked already (``api.batch`` reads them)."""

    table: str
    mode: str = "insert"
    atomic: bool = False


@dataclass(frozen=True)
class Outcome:
    """What the import did, as the response's message, data and status."""

    message: str
    summary: dict
    status: int


def run(db: Database, options: Options, stream: BinaryIO,
        progress: Callable[[bulk.Tally], None] | None = None) -> Outcome:
    """Import the file; raises Unprocessable (with the summary) when nothing was written.
    ``progress`` is called with the running tally after each chunk."""
    header, rows = csvio.read_csv_rows(stream)
    table, statement = db.prepare(options.table,
                                  lambda t: bulk.InsertStatement(t, header, options.mode))
    tally, written = bulk.import_rows(db, table, statement, rows, options.atomic, progress)
    summary = tally.summary(table.name, written)
    metrics.ROWS_IMPORTED.inc(summary["rows_inserted"])
    if not written:
        raise Unprocessable(f"Nothing imported: {tally.failed} rows failed and the import was "
                            "atomic", summary)
    if tally.failed and tally.failed == summary["rows_total"]:
        raise Unprocessable("Nothing imported: every row failed", summary)
    if tally.failed:
        return Outcome(f"CSV partly imported: {tally.failed} rows failed", summary, 207)
    return Outcome("CSV imported", summary, 200)
