"""A table out as rows (CONTRACT.md "Batch" and "Long and streaming operations").

The query runs and the first batch is fetched inside the executor on a connection of the
export's own, read through an unbuffered ``SSCursor`` and decoded to text only (no int, Decimal
or datetime objects: CSV wants text, and parsing them back is most of the driver's cost). That
connection is closed at the end, never pooled: a cursor with unread rows poisons it (PyMySQL
#292, #1032). Later batches are bounded by the connection's socket timeouts.

The query does not carry its attempt's deadline to the server (issue 20), unlike every other
statement: an unbuffered query runs on the server until its last row is sent, so a
``max_statement_time`` of the opening attempt's 200 ms would cut the stream of any table that
takes longer to send, however healthy. The attempt's deadline is the time to the first batch;
only the executor's KILL enforces it on the server. Once streaming, a client that stops reading
is bounded by the server's ``net_write_timeout``.
"""
from __future__ import annotations

from collections.abc import Iterator, Sequence

import pymysql
import pymysql.converters
import pymysql.cursors

from tablegate import metrics
from tablegate.db import codecs
from tablegate.db.schema import Table
from tablegate.formats.csv import CsvEncoder
from tablegate.gateway import Gateway

# PyMySQL's encoders without its decoders: values arrive as the server's text.
TEXT_ONLY = dict(pymysql.converters.encoders)


class Export:
    """An open export: its own connection, its server-side cursor and the first batch."""

    def __init__(self, conn: pymysql.connections.Connection,
                 cursor: pymysql.cursors.SSCursor, first: list[tuple], size: int) -> None:
        self._conn, self._cursor, self._first, self._size = conn, cursor, first, size

    def batches(self) -> Iterator[list[tuple]]:
        """Later fetches are bounded by the connection's socket timeouts; a failure raises."""
        batch, self._first = self._first, []
        while batch:
            yield batch
            batch = self._cursor.fetchmany(self._size)

    def close(self) -> None:
        """Close without draining: reading the unread rows of a large result could take
        minutes. The server ends the query when the socket closes. The pending result is
        marked finished first, or its ``__del__`` would try to drain it from the closed socket."""
        result = self._cursor._result
        if result is not None:
            result.unbuffered_active = False
        if self._conn.open:
            self._conn.close()


def open_export(db: Gateway, table: Table, statement: str, params: list) -> Export:
    """Run the query and fetch its first batch as one unit of the executor's schedule."""
    size = db.config.export_batch_rows

    def operation(session) -> Export:
        conn = db.side_connection(session, conv=TEXT_ONLY)
        try:
            cursor = conn.cursor(pymysql.cursors.SSCursor)
            cursor.execute(statement, params)
            return Export(conn, cursor, cursor.fetchmany(size), size)
        except BaseException:
            conn.close()
            raise

    return db.run_on(table, operation, borrow=False)


def csv_chunks(export: Export, table: Table, names: Sequence[str]) -> Iterator[bytes]:
    """The export as CSV bytes, a batch at a time, closing it at the end. An error here
    propagates: the server then drops the connection without the final chunk, so the client
    sees a broken transfer, never a CSV that looks complete and is not."""
    encoder = CsvEncoder(codecs.export_converters(table, names))
    try:
        yield encoder.header(names)
        for batch in export.batches():
            yield encoder.encode(batch)
            metrics.ROWS_EXPORTED.inc(len(batch))
    finally:
        export.close()
