"""The reflected schema: small frozen values read from INFORMATION_SCHEMA.

Tables are cached per process and read again on a miss, so a table created after start-up is
found without a restart (postgrest-docs #513), and a column added later is found by a request
that names it. Names from requests are only ever compared with reflected names; only a
reflected name is quoted into SQL.

What a table can take is part of its reflection (issue 13), so that a write it cannot take is
refused before any statement runs: a view that is not insertable or not updatable (405), a
generated column named in a write (400). Invisible columns are left out of the default column
list, as ``SELECT *`` leaves them out.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pymysql

from tablegate.errors import (BadRequest, Conflict, Forbidden, MethodNotAllowed, TableNotFound,
                              Unprocessable, errno, from_mysql)
from tablegate.names import could_name_a_table, quote_identifier

#: How long a table's reflection is trusted when a request names a column it lacks. Within it
#: such a request is refused before a connection is borrowed (STYLE 4), so a stream of requests
#: naming columns that do not exist costs at most one reflection per table per interval; after
#: it the miss reads the table again, so a column added by ALTER TABLE is found.
COLUMN_MISS_REFRESH_S = 1.0

#: Binary string types: their values travel as base64 text in JSON, CSV and query strings.
BINARY_TYPES = frozenset({"binary", "varbinary", "tinyblob", "blob", "mediumblob", "longblob"})


#: The writes a table may refuse, and the flag of ``Table`` that allows each.
WRITES = {"insert": "insertable", "update": "updatable", "delete": "updatable"}

#: The probe's errors that say a view cannot take any insert (MariaDB "Inserting and Updating
#: with Views"): not insertable-into (expressions, aggregates, ...), a column of the base table
#: without a default that the view does not show; and a broken view, whose tables or definer
#: are gone (1356, 1449), which takes nothing until it is repaired.
NOT_INSERTABLE = frozenset({1471, 1423, 1356, 1449})


class UnknownColumn(BadRequest):
    def __init__(self, table: str, column: object) -> None:
        super().__init__(f"Unknown column {column!r} in table {table!r}", {"column": column})
        self.column = column


class GeneratedColumn(BadRequest):
    """A write that names a generated column: the server would refuse it (error 1906)."""

    def __init__(self, table: str, column: Column) -> None:
        super().__init__(f"Column {column.name!r} of table {table!r} is generated "
                         f"({column.generated}): the database computes it, it cannot be written",
                         {"column": column.name, "generated": column.generated})


class ViewNotWritable(MethodNotAllowed):
    """A write a view cannot take, refused before any statement (the server's 1471, 1288)."""

    def __init__(self, table: Table, write: str) -> None:
        super().__init__(f"View {table.name!r} cannot take {write}s: it is not {WRITES[write]}",
                         {"table": table.name, "type": table.kind,
                          "insertable": table.insertable, "updatable": table.updatable})


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
    #: ``"stored"`` or ``"virtual"`` for a generated column, None for any other.
    generated: str | None = None
    #: Left out of ``SELECT *`` (MariaDB "Invisible Columns"), returned when named.
    invisible: bool = False

    @property
    def is_binary(self) -> bool:
        return self.data_type in BINARY_TYPES

    @property
    def is_boolean(self) -> bool:
        """MySQL's BOOLEAN is TINYINT(1)."""
        return self.data_type == "tinyint" and self.column_type.startswith("tinyint(1)")


@dataclass(frozen=True)
class Table:
    name: str
    columns: dict[str, Column]
    primary_key: tuple[str, ...]
    #: ``"table"`` or ``"view"`` (a system-versioned table or a sequence is a table).
    kind: str = "table"
    #: Whether it takes inserts, and updates and deletes: a view may not (``reflect``).
    insertable: bool = True
    updatable: bool = True

    @property
    def visible(self) -> list[str]:
        """The columns ``SELECT *`` returns, in table order: all but the invisible ones."""
        return [name for name, column in self.columns.items() if not column.invisible]

    def writable(self, name: object) -> Column:
        """The column a write names; a generated one is refused (400) before the server does."""
        column = self.column(name)
        if column.generated:
            raise GeneratedColumn(self.name, column)
        return column

    def require_write(self, write: str) -> None:
        """Refuse (405) an ``insert``, ``update`` or ``delete`` this table cannot take."""
        if not getattr(self, WRITES[write]):
            raise ViewNotWritable(self, write)

    @property
    def auto_key(self) -> str | None:
        """The primary key's column when it is one AUTO_INCREMENT column: then the server, not
        the row, knows an inserted row's key."""
        key = self.primary_key
        return key[0] if len(key) == 1 and self.columns[key[0]].auto_increment else None

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
WHERE TABLE_SCHEMA = DATABASE() {where}
ORDER BY TABLE_NAME, ORDINAL_POSITION
"""

PRIMARY_KEY_SQL = """
SELECT TABLE_NAME, COLUMN_NAME FROM INFORMATION_SCHEMA.STATISTICS
WHERE TABLE_SCHEMA = DATABASE() AND INDEX_NAME = 'PRIMARY' {where}
ORDER BY TABLE_NAME, SEQ_IN_INDEX
"""

VIEWS_SQL = """
SELECT TABLE_NAME, IS_UPDATABLE FROM INFORMATION_SCHEMA.VIEWS
WHERE TABLE_SCHEMA = DATABASE() {where}
"""

# Prepared and explained, never run: MariaDB checks at preparation whether the view can take an
# insert at all, and says so with 1471 or 1423. WHERE FALSE: not even the plan reads a row.
INSERT_PROBE_SQL = "EXPLAIN INSERT INTO {view} SELECT * FROM {view} WHERE FALSE"

ROW_ESTIMATES_SQL = """
SELECT TABLE_NAME, TABLE_ROWS FROM INFORMATION_SCHEMA.TABLES
WHERE TABLE_SCHEMA = DATABASE() ORDER BY TABLE_NAME
"""


def reflect(session, name: str | None = None) -> dict[str, Table]:
    """Read one table (``name``) or all of them.

    INFORMATION_SCHEMA compares names case-insensitively, so names are checked again here:
    `Users` must not reach `users`.
    """
    where, params = ("AND TABLE_NAME = %s", (name,)) if name is not None else ("", ())
    columns: dict[str, dict[str, Column]] = {}
    for r in session.execute(COLUMNS_SQL.format(where=where), params).fetchall():
        if name is None or r[0] == name:
            extra = r[7].lower()
            columns.setdefault(r[0], {})[r[1]] = Column(
                name=r[1], data_type=r[2].lower(), column_type=r[3], nullable=r[4] == "YES",
                default=_default(r[5]), key=r[6], auto_increment="auto_increment" in extra,
                max_length=r[8], generated=_generated(extra), invisible="invisible" in extra,
            )
    keys: dict[str, list[str]] = {}
    for table, column in session.execute(PRIMARY_KEY_SQL.format(where=where), params).fetchall():
        keys.setdefault(table, []).append(column)
    views = {view: updatable == "YES" for view, updatable in
             session.execute(VIEWS_SQL.format(where=where), params).fetchall()
             if view in columns}
    return {table: Table(name=table, columns=cols, primary_key=tuple(keys.get(table, ())),
                         **(_view(session, table, views[table]) if table in views else {}))
            for table, cols in columns.items()}


def _generated(extra: str) -> str | None:
    """MariaDB and MySQL say ``STORED GENERATED`` or ``VIRTUAL GENERATED`` in EXTRA (a
    PERSISTENT column is STORED); MySQL's ``DEFAULT_GENERATED`` is a default, not this."""
    for kind in ("stored", "virtual"):
        if f"{kind} generated" in extra:
            return kind
    return None


def _view(session, name: str, updatable: bool) -> dict:
    """A view's kind and what it takes. Updatable is INFORMATION_SCHEMA.VIEWS.IS_UPDATABLE; a
    view takes inserts when it is updatable and the server, preparing an insert of every
    column, does not refuse it (``INSERT_PROBE_SQL``). A join view refuses an insert without a
    column list (1394) but takes one into a single base table: insertable, and the server
    answers for the columns each insert names."""
    return {"kind": "view", "updatable": updatable,
            "insertable": updatable and _takes_inserts(session, name)}


def _takes_inserts(session, name: str) -> bool:
    view = quote_identifier(name)
    try:
        session.execute(INSERT_PROBE_SQL.format(view=view)).fetchall()
    except pymysql.MySQLError as exc:
        if errno(exc) in NOT_INSERTABLE:
            return False
        if isinstance(from_mysql(exc), (BadRequest, Forbidden, MethodNotAllowed, Conflict,
                                        Unprocessable)):
            return True  # a privilege, a join view: the insert itself will say
        raise  # the connection or the server: the executor decides
    return True


def _default(text: str | None) -> str | None:
    """MariaDB reports defaults as SQL (``NULL``, ``'x'``, ``current_timestamp()``), MySQL as
    the bare value; both come out as the value, or the expression when it is one."""
    if text is None or text == "NULL":
        return None
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


FOREIGN_KEYS_SQL = """
SELECT TABLE_NAME, COLUMN_NAME, REFERENCED_TABLE_NAME, REFERENCED_COLUMN_NAME
FROM INFORMATION_SCHEMA.KEY_COLUMN_USAGE
WHERE TABLE_SCHEMA = DATABASE() AND REFERENCED_TABLE_SCHEMA = DATABASE()
  AND REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY TABLE_NAME, CONSTRAINT_NAME, ORDINAL_POSITION
"""


def foreign_keys(session) -> list[tuple[str, str, str, str]]:
    """``(table, column, referenced table, referenced column)`` within the database, for the
    console's prompt; the caller keeps those whose tables are both exposed."""
    return [tuple(row) for row in session.execute(FOREIGN_KEYS_SQL).fetchall()]


def row_estimates(session) -> dict[str, int | None]:
    """The engine's estimate (exact for MyISAM, approximate for InnoDB): cheap, no COUNT(*)."""
    return dict(session.execute(ROW_ESTIMATES_SQL).fetchall())


class Catalog:
    """The cache of reflected tables, and the one place that decides which tables exist.

    A table outside the allow-list (``TABLEGATE_TABLES``) or on the deny list
    (``TABLEGATE_DENY_TABLES``) is treated as missing before any lookup: every endpoint, the
    listing and the OpenAPI document included, answers for it exactly as for a table that does
    not exist, so a client cannot tell the two apart. ``hidden`` are tablegate's own tables
    (the import ledger): denied whatever the lists say.
    """

    def __init__(self, run: Callable, tables: Iterable[str] = (),
                 deny_tables: Iterable[str] = (), hidden: Iterable[str] = ()) -> None:
        self._run = run
        self._allowed = frozenset(tables)
        self._denied = frozenset(deny_tables) | frozenset(hidden)
        self._tables: dict[str, Table] = {}
        self._read_at: dict[str, float] = {}
        self._lock = threading.Lock()

    def require(self, name: str) -> Table:
        table = self._tables.get(name)
        return table if table is not None else self.refresh(name)

    def exposed(self, name: str) -> bool:
        return (not self._allowed or name in self._allowed) and name not in self._denied

    def refresh(self, name: str) -> Table:
        if not could_name_a_table(name) or not self.exposed(name):
            raise TableNotFound(name)  # answered without touching the database
        table = self._run(lambda session: reflect(session, name)).get(name)
        with self._lock:
            if table is None:
                self._tables.pop(name, None)
                raise TableNotFound(name)
            self._tables[name] = table
            self._read_at[name] = time.monotonic()
        return table

    def recheck(self, name: str) -> Table:
        """The table for a request that named a column the cached one lacks: read again unless
        it was read less than ``COLUMN_MISS_REFRESH_S`` ago."""
        with self._lock:
            table = self._tables.get(name)
            fresh = time.monotonic() - self._read_at.get(name, 0.0) < COLUMN_MISS_REFRESH_S
        return table if table is not None and fresh else self.refresh(name)

    def all(self) -> dict[str, Table]:
        """Every table, read afresh (discovery must show the database as it is now)."""
        tables = {name: table for name, table in self._run(reflect).items()
                  if self.exposed(name)}
        with self._lock:
            self._tables = dict(tables)
            self._read_at = dict.fromkeys(tables, time.monotonic())
        return tables

    def forget(self, name: str) -> None:
        with self._lock:
            self._tables.pop(name, None)
            self._read_at.pop(name, None)
