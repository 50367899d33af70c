"""How values cross between JSON, CSV text and the driver, per column type, in one place: what
the API writes must read back as it was written, and an export must import back.

- ``to_db``: a JSON (or query-string) value as the parameter for a column.
- ``to_json``: a value PyMySQL returns, as the JSON the contract spells (CONTRACT.md "CRUD":
  DECIMAL as strings, dates and times in ISO 8601, binary as base64).
- ``export_converters``: the server's text of a column as the CSV cell, where it differs from
  what the JSON API writes (binary, date-times).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import json
from collections.abc import Callable, Sequence
from typing import Any

from tablegate.db.schema import BINARY_TYPES, Column, Table
from tablegate.errors import Unprocessable

#: Column types PyMySQL hands over as bytes: written as base64, like binary strings.
BYTES_TYPES = BINARY_TYPES | {"bit", "geometry", "point", "linestring", "polygon", "multipoint",
                              "multilinestring", "multipolygon", "geometrycollection"}


def to_db(column: Column, value: Any) -> Any:
    """A JSON value as the parameter for ``column``: objects and arrays as JSON text, base64
    text as bytes for binary columns (the mirror of how binary values are returned), ``true``
    and ``false`` as booleans for BOOLEAN columns. Raises Unprocessable for a binary column
    given text that is not base64."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if column.is_boolean and value in ("true", "false"):
        # Query strings carry text: MySQL would cast 'true' to 0 and match the false rows.
        return value == "true"
    if column.is_binary and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Unprocessable(f"Column {column.name!r} takes base64 text",
                                {"column": column.name}) from None
    return value


def to_json(value: Any) -> Any:
    """A driver value JSON cannot hold as it is; raises TypeError for any other (the JSON
    encoders' ``default`` protocol)."""
    if isinstance(value, decimal.Decimal):
        return str(value)
    if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):  # MySQL TIME
        return _format_time(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, set):  # MySQL SET
        return sorted(value)
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def _format_time(value: datetime.timedelta) -> str:
    sign = "-" if value < datetime.timedelta(0) else ""
    seconds = abs(value)
    hours, rest = divmod(int(seconds.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    micro = seconds.microseconds
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}" + (f".{micro:06d}" if micro else "")


def export_converters(table: Table, names: Sequence[str]) -> list[Callable | None]:
    """Per output column, how the server's text becomes the CSV cell when it will not do as it
    is (None): binary as base64 and date-times with ISO 8601's ``T``, as the JSON API writes
    them."""
    return [_CONVERTERS.get(table.columns[name].data_type) for name in names]


def _base64(value: object) -> object:
    return base64.b64encode(value).decode("ascii") if isinstance(value, bytes) else value


def _iso_datetime(value: str) -> str:
    return value[:10] + "T" + value[11:]  # the server writes 'YYYY-MM-DD HH:MM:SS[.ffffff]'


_CONVERTERS = {**dict.fromkeys(BYTES_TYPES, _base64),
               **dict.fromkeys(("datetime", "timestamp"), _iso_datetime)}
