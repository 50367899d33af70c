"""The one app's gateway to the database: its pool, the executor and the reflected schema.

It connects the executor's attempt hook to the metrics and to the response's retry count, so
that neither the executor nor the DB layer knows Flask.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

import pymysql
from flask import Flask, current_app, g, has_app_context

from tablegate import metrics
from tablegate.config import Config
from tablegate.db.pool import Pool, side_connection
from tablegate.db.schema import Catalog, Table, UnknownColumn
from tablegate.errors import TableNotFound, TablegateError
from tablegate.executor import Executor, Session

T = TypeVar("T")

#: Server errors that say a table is not what its reflection says: a column gone (1054) or
#: now generated (1906), a view that no longer takes the write its reflection allowed (1471,
#: 1288). The table is read again on its next request, which then refuses before the server.
RESHAPED = frozenset({1054, 1906, 1471, 1288})


@dataclass(frozen=True)
class Gateway:
    config: Config
    pool: Pool
    executor: Executor
    catalog: Catalog

    def run(self, operation: Callable, *, borrow: bool = True):
        return self.executor.run(operation, borrow=borrow)

    def prepare(self, name: str, build: Callable[[Table], T]) -> tuple[Table, T]:
        """Reflect the table and build a statement for it; if the statement names a column the
        cached schema does not know, read the table again once (it may have been altered)
        unless it was read moments ago (``schema.COLUMN_MISS_REFRESH_S``)."""
        table = self.catalog.require(name)
        try:
            return table, build(table)
        except UnknownColumn:
            table = self.catalog.recheck(name)
            return table, build(table)

    def run_on(self, table: Table, operation: Callable[..., T], *, borrow: bool = True) -> T:
        """Run a statement on a reflected table; a table dropped since is forgotten and a 404, a
        table altered since (``RESHAPED``) is forgotten so the next request reads it again."""
        try:
            return self.run(operation, borrow=borrow)
        except TableNotFound as exc:
            self.catalog.forget(table.name)
            raise TableNotFound(table.name, exc.details) from None
        except TablegateError as exc:
            if (exc.details or {}).get("mysql_errno") in RESHAPED:
                self.catalog.forget(table.name)
            raise

    def side_connection(self, session: Session, **overrides) -> pymysql.connections.Connection:
        """A connection of the attempt's own, outside the pool, for work that outlives the
        attempt (an export's stream, an atomic import's transaction); killed with the attempt
        if it times out. ``overrides`` are PyMySQL arguments (``conv``, ``autocommit``).

        No idle transaction timeout on it: an atomic import's one transaction sits idle
        between chunks while the next one is read from the client, for as long as the upload
        takes, which no schedule-derived bound can know."""
        conn = side_connection(self.config, idle_transaction_s=0, **overrides)
        try:
            session.watch(conn, outlasts_attempt=True)
        except BaseException:
            conn.close()
            raise
        return conn


def init_app(app: Flask, config: Config) -> Gateway:
    gateway = app.extensions["tablegate"] = build(config, on_attempt=_on_attempt)
    return gateway


def build(config: Config,
          on_attempt: Callable[[int, str], None] = lambda number, kind: None) -> Gateway:
    """A gateway of its own: the app's (``init_app``), or a command's, which has no app and
    reports attempts to no one (``python -m tablegate.console``). Opens no connection."""
    pool = Pool(config)
    executor = Executor(config, pool, on_attempt=on_attempt,
                        on_kill_unconfirmed=metrics.count_kill_unconfirmed)
    catalog = Catalog(executor.run, config.tables, config.deny_tables,
                      hidden=(config.ledger_table,))
    return Gateway(config, pool, executor, catalog)


def current() -> Gateway:
    """The gateway of the app serving this request."""
    return current_app.extensions["tablegate"]


def _on_attempt(number: int, kind: str) -> None:
    metrics.count_attempt(number, kind)
    if number and has_app_context():  # a background import answers no request
        g.retry_count = g.get("retry_count", 0) + 1
