"""The database behind one app: its pool, the executor and the reflected schema."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from flask import Flask, current_app

from tablegate.config import Config
from tablegate.db.pool import Pool
from tablegate.db.schema import Catalog, Table, UnknownColumn
from tablegate.errors import StaleSchema, TableNotFound
from tablegate.resiliency import Executor

T = TypeVar("T")


@dataclass(frozen=True)
class Database:
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
        table altered since (a column it named is gone) is forgotten so the next request reads it
        again."""
        try:
            return self.run(operation, borrow=borrow)
        except TableNotFound:
            self.catalog.forget(table.name)
            raise TableNotFound(table.name) from None
        except StaleSchema:
            self.catalog.forget(table.name)
            raise


def init_app(app: Flask, config: Config) -> None:
    pool = Pool(config)
    executor = Executor(config, pool)
    catalog = Catalog(executor.run, config.tables, config.deny_tables,
                      hidden=(config.ledger_table,))
    app.extensions["tablegate"] = Database(config, pool, executor, catalog)


def database() -> Database:
    return current_app.extensions["tablegate"]
