"""The reflected schema: small frozen values read from INFORMATION_SCHEMA.

Tables are cached per process and read again on a miss, so a table created after start-up is
found without a restart (postgrest-docs #513), and a column added later is found on the first
request that names it. Names from requests are only ever compared with reflected names; only a
reflected name is quoted into SQL.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from tablegate.errors import BadRequest, TableNotFound

# The longest identifier MySQL allows; anything longer cannot name a table.
MAX_IDENTIFIER = 64

BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})


class UnknownColumn(BadRequest):
    def __init__(self, table: str, column: object) -> None:
        super().__init__(f"Unknown column {column!r} in table {table!r}", {"column": column})
        self.column = column


@dataclass(frozen=True)
class Column:
    name: str
    data_type: str
    column_type: str
    nullable: bool
    default: str | None
    key: str
    auto_increment: bool
    max_length: int | None

    @property
    def is_binary(self) -> bool:
        return self.data_type in BINARY_TYPES


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, Column]
    primary_key: tuple[str, ...]

    def column(self, name: object) -> Column:
        if isinstance(name, str):
            found = self.columns.get(name)
            if found is not None:
                return found
        raise UnknownColumn(self.name, name)


COLUMNS_SQL = """
SELECT TABLE_NAME, COLUMN_NAME, DATA_TYPE, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT,
       COLUMN_KEY, EXTRA, CHARACTER_MAXIMUM_LENGTH
FROM INFORMATION_SCHEMA.COLUMNS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s
ORDER BY ORDINAL_POSITION
"""

PRIMARY_KEY_SQL = """
SELECT COLUMN_NAME FROM INFORMATION_SCHEMA.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = %s AND INDEX_NAME = 'PRIMARY'
ORDER BY SEQ_IN_INDEX
"""


def reflect(session, name: str) -> Table | None:
    """Read one table, or None when the database has no table of exactly that name.

    INFORMATION_SCHEMA compares names case-insensitively, so the name is checked again here:
    `Users` must not reach `users`.
    """
    rows = [r for r in session.execute(COLUMNS_SQL, (name,)).fetchall() if r[0] == name]
    if not rows:
        return None
    columns = {
        r[1]: Column(
            name=r[1], data_type=r[2].lower(), column_type=r[3], nullable=r[4] == "YES",
            default=r[5], key=r[6], auto_increment="auto_increment" in r[7].lower(),
            max_length=r[8],
        )
        for r in rows
    }
    primary_key = tuple(r[0] for r in session.execute(PRIMARY_KEY_SQL, (name,)).fetchall())
    return Table(name=name, columns=columns, primary_key=primary_key)


class Catalog:
    def __init__(self, run: Callable) -> None:
        self._run = run
        self._tables: dict[str, Table] = {}
        self._lock = threading.Lock()

    def require(self, name: str) -> Table:
        table = self._tables.get(name)
        return table if table is not None else self.refresh(name)

    def refresh(self, name: str) -> Table:
        if not name or len(name) > MAX_IDENTIFIER or "\x00" in name:
            raise TableNotFound(name)  # cannot exist: answered without touching the database
        table = self._run(lambda session: reflect(session, name))
        with self._lock:
            if table is None:
                self._tables.pop(name, None)
                raise TableNotFound(name)
            self._tables[name] = table
        return table

    def forget(self, name: str) -> None:
        with self._lock:
            self._tables.pop(name, None)
