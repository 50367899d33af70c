"""The table ``?create=true`` makes from a file: column types inferred from one pass over its
rows, and the CREATE TABLE that says so. Pure: rows in, a ``Plan`` out, no database.

Each column keeps a few numbers, never the values (memory stays flat however long the file):
its most general kind so far, whether an empty or null was seen, the longest text, the integer
range, the digits before and after a decimal point, the fractional seconds. Kinds widen along
bool < int < decimal < double and date < datetime; anything else mixed becomes text. Every value
is judged by the text the insert will send (``formats.rows.text``), so whatever type is chosen takes
every value of the file. Integers written with a leading zero (``007``, postcodes) stay text.

Uniqueness of ``?key=`` is left to the PRIMARY KEY the table gets: holding every key to compare
would hold a column of the file. A duplicate is then a row error naming the value.
"""
from __future__ import annotations

import datetime
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace

from tablegate.db.schema import Column, Table
from tablegate.db.sql import build_create_table
from tablegate.errors import BadRequest
from tablegate.formats.rows import Row, text
from tablegate.names import check as check_name

# Text up to this many characters is VARCHAR; longer is TEXT. A row's VARCHARs share 65,535
# bytes (4 per character in utf8mb4), so a wide file of long strings must not be all VARCHAR.
MAX_VARCHAR = 255
TEXT_TYPES = ((16_383, "text"), (4_194_303, "mediumtext"))  # characters that fit, in utf8mb4

# DECIMAL's limits in MariaDB; beyond them a number is a DOUBLE.
MAX_PRECISION, MAX_SCALE = 65, 30

# InnoDB's limit is 1017 columns.
MAX_COLUMNS = 1000

# The columns of a row share 65,535 bytes, TEXT counting only its pointer. VARCHARs beyond this
# estimate (4 bytes a character, 16 for any other column) become TEXT, the longest first, so
# that a wide file of short strings still makes a table instead of error 1118.
ROW_BYTES = 64_000

AUTO_KEY = "id"

INTEGER = re.compile(r"-?(?:0|[1-9][0-9]*)\Z")
DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)\.([0-9]+)\Z")
FLOAT = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?[eE][-+]?[0-9]+\Z")
DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
DATETIME = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}:[0-9]{2})"
                      r"(?:\.([0-9]{1,6}))?\Z")

NUMERIC = ("bool", "int", "decimal", "double")
TEMPORAL = ("date", "datetime")


@dataclass(frozen=True)
class Inferred:
    name: str
    data_type: str    # as INFORMATION_SCHEMA.COLUMNS.DATA_TYPE says it: "decimal"
    column_type: str  # as it is declared: "decimal(7,2)"
    nullable: bool
    max_length: int | None = None


@dataclass(frozen=True)
class Plan:
    table: str
    columns: tuple[Inferred, ...]
    #: The file's column that is the primary key; None: an AUTO_INCREMENT ``id`` is added.
    key: str | None

    def ddl(self, temporary: bool = False) -> str:
        return build_create_table(
            self.table, [(c.name, c.column_type, c.nullable) for c in self.columns],
            self.key, None if self.key else AUTO_KEY, temporary)

    def schema(self) -> Table:
        """The table as reflection would read it, for a dry run's temporary table, which
        INFORMATION_SCHEMA does not show."""
        columns = {} if self.key else {AUTO_KEY: Column(
            AUTO_KEY, "bigint", "bigint(20)", False, None, "PRI", True, None)}
        for c in self.columns:
            columns[c.name] = Column(c.name, c.data_type, c.column_type, c.nullable, None,
                                     "PRI" if c.name == self.key else "", False, c.max_length)
        return Table(self.table, columns, (self.key or AUTO_KEY,))

    def describe(self) -> list[dict]:
        """The inferred columns for the response, the added key first."""
        added = [] if self.key else [{"name": AUTO_KEY, "type": "bigint", "nullable": False,
                                      "key": True, "auto_increment": True}]
        return added + [{"name": c.name, "type": c.column_type, "nullable": c.nullable,
                         "key": c.name == self.key, "auto_increment": False}
                        for c in self.columns]


class _Seen:
    """What one column's values have shown so far."""

    __slots__ = ("kind", "nullable", "chars", "low", "high", "digits", "scale", "fsp",
                 "first_null")

    def __init__(self) -> None:
        self.kind: str | None = None
        self.nullable = False
        self.first_null: int | None = None
        self.chars = self.digits = self.scale = self.fsp = 0
        self.low = self.high = 0

    def add(self, number: int, value: object) -> None:
        if value is None:
            self.nullable = True
            if self.first_null is None:
                self.first_null = number
            return
        sent = text(value)
        self.chars = max(self.chars, len(sent))
        self._widen("bool" if isinstance(value, bool) else self._judge(sent))

    def _judge(self, text: str) -> str:
        if INTEGER.match(text):
            digits = len(text.lstrip("-"))
            if digits > MAX_PRECISION:
                return "text"
            number = int(text)
            self.low, self.high = min(self.low, number), max(self.high, number)
            self.digits = max(self.digits, digits)
            return "int"
        found = DECIMAL.match(text)
        if found:
            self.digits = max(self.digits, len(found[1]))
            self.scale = max(self.scale, len(found[2]))
            return "decimal"
        if FLOAT.match(text):
            return "double" if abs(float(text)) != float("inf") else "text"
        if DATE.match(text) and _valid(datetime.date.fromisoformat, text):
            return "date"
        found = DATETIME.match(text)
        if found and _valid(datetime.datetime.fromisoformat, f"{found[1]} {found[2]}"):
            self.fsp = max(self.fsp, len(found[3] or ""))
            return "datetime"
        return "text"

    def _widen(self, kind: str) -> None:
        if self.kind is None or self.kind == kind:
            self.kind = kind
        elif self.kind in NUMERIC and kind in NUMERIC:
            self.kind = max(self.kind, kind, key=NUMERIC.index)
        elif self.kind in TEMPORAL and kind in TEMPORAL:
            self.kind = "datetime"
        else:
            self.kind = "text"

    def column(self, name: str) -> Inferred:
        data_type, column_type, length = self._type()
        return Inferred(name, data_type, column_type, self.nullable or self.kind is None, length)

    def _type(self) -> tuple[str, str, int | None]:
        kind = self.kind
        if kind == "bool":
            return "tinyint", "tinyint(1)", None
        if kind == "int":
            if -2 ** 31 <= self.low and self.high < 2 ** 31:
                return "int", "int", None
            if -2 ** 63 <= self.low and self.high < 2 ** 63:
                return "bigint", "bigint", None
            return "decimal", f"decimal({self.digits},0)", None
        if kind == "decimal":
            precision = self.digits + self.scale
            if precision <= MAX_PRECISION and self.scale <= MAX_SCALE:
                return "decimal", f"decimal({precision},{self.scale})", None
            return "double", "double", None
        if kind == "double":
            return "double", "double", None
        if kind == "date":
            return "date", "date", None
        if kind == "datetime":
            return "datetime", f"datetime({self.fsp})" if self.fsp else "datetime", None
        if kind is None:  # never a value: room for what later imports bring
            return "varchar", f"varchar({MAX_VARCHAR})", MAX_VARCHAR
        if self.chars <= MAX_VARCHAR:
            return "varchar", f"varchar({max(self.chars, 1)})", max(self.chars, 1)
        for limit, name in TEXT_TYPES:
            if self.chars <= limit:
                return name, name, None
        return "longtext", "longtext", None


def _valid(parse, text: str) -> bool:
    try:
        parse(text)
    except ValueError:
        return False
    return True


def infer(table: str, header: list[str], rows: Iterable[Row],
          key: str | None = None) -> Plan:
    """Read ``rows`` (native values, see ``formats``) once; rows with an error are left out,
    they will be that import's row errors. Raises BadRequest for a name MariaDB would refuse,
    a file without columns, and a ``key`` that is missing, empty somewhere or too long."""
    check_name(table, "table")
    _check_columns(header, key)
    seen = [_Seen() for _ in header]
    for row in rows:
        if row.error is None:
            for column, value in zip(seen, row.values):
                column.add(row.number, value)
    columns = tuple(s.column(name) for s, name in zip(seen, header))
    if key is not None:
        _check_key(key, seen[header.index(key)], columns[header.index(key)])
        columns = tuple(replace(c, nullable=False) if c.name == key else c for c in columns)
    return Plan(table, _fit_row(columns, key), key)


def _fit_row(columns: tuple[Inferred, ...], key: str | None) -> tuple[Inferred, ...]:
    def size(column: Inferred) -> int:
        return 4 * column.max_length + 2 if column.data_type == "varchar" else 16

    total = 16 + sum(map(size, columns))
    movable = sorted((c for c in columns if c.data_type == "varchar" and c.name != key),
                     key=lambda c: -c.max_length)
    to_text = set()
    for column in movable:
        if total <= ROW_BYTES:
            break
        total -= size(column) - 16
        to_text.add(column.name)
    return tuple(replace(c, data_type="text", column_type="text", max_length=None)
                 if c.name in to_text else c for c in columns)


def _check_columns(header: list[str], key: str | None) -> None:
    if not header:
        raise BadRequest("The file names no column to create the table with")
    if len(header) > MAX_COLUMNS:
        raise BadRequest(f"The file has {len(header)} columns; a table holds at most "
                         f"{MAX_COLUMNS}")
    folded: dict[str, str] = {}
    for name in header:
        check_name(name, "column")
        other = folded.setdefault(name.casefold(), name)
        if other != name:  # column names are case-insensitive in MariaDB
            raise BadRequest(f"Columns {other!r} and {name!r} would be the same column",
                             {"column": name})
    if key is None and AUTO_KEY.casefold() in folded:
        raise BadRequest(f"The file has a column {folded[AUTO_KEY]!r}, the name of the key "
                         f"tablegate adds: make it the key with ?key={folded[AUTO_KEY]}",
                         {"column": folded[AUTO_KEY]})
    if key is not None and key not in header:
        raise BadRequest(f"The key column {key!r} is not in the file", {"parameter": "key"})


def _check_key(key: str, seen: _Seen, column: Inferred) -> None:
    if seen.first_null is not None:
        raise BadRequest(f"The key column {key!r} is empty in row {seen.first_null}",
                         {"parameter": "key", "row": seen.first_null})
    if column.data_type not in ("tinyint", "int", "bigint", "decimal", "double", "date",
                                "datetime", "varchar"):
        raise BadRequest(f"The key column {key!r} holds values too long for a key "
                         f"(over {MAX_VARCHAR} characters)", {"parameter": "key"})
