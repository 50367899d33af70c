"""How values cross between JSON, CSV text and the driver, per column type, in one place: what
the API writes must read back as it was written, and an export must import back.

- ``to_db``: a JSON (or query-string) value as the parameter for a column.
- ``to_json``: a value PyMySQL returns, as the JSON the contract spells (CONTRACT.md "CRUD":
  DECIMAL as strings, dates and times in ISO 8601, binary as base64).
- ``export_converters``: the server's text of a column as the CSV cell, where it differs from
  what the JSON API writes (binary, date-times).
- ``key_value``: a keyset cursor's value checked against its column's type, so that a value the
  column cannot hold is refused instead of cast by the server (``'abc'`` to 0 for an INT).
"""
from __future__ import annotations

import base64
import binascii
import datetime
import decimal
import ipaddress
import json
import re
import uuid
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


#: Signed ranges of the integer types, by their storage bytes (UNSIGNED: 0 .. 2**bits - 1).
INTEGER_BITS = {"tinyint": 8, "smallint": 16, "mediumint": 24, "int": 32, "bigint": 64}
TEXT_TYPES = frozenset({"char", "varchar", "tinytext", "text", "mediumtext", "longtext"})
_INTEGER = re.compile(r"[+-]?[0-9]+\Z")
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)\Z")
_FLOAT = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?\Z")
_TIME = re.compile(r"(-?)([0-9]{1,3}):([0-5][0-9])(?::([0-5][0-9])(?:\.([0-9]{1,6}))?)?\Z")
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}\Z")
_DATETIME = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}(?:[T ](?:[01][0-9]|2[0-3]):[0-5][0-9]"
                       r"(?::[0-5][0-9](?:\.[0-9]{1,6})?)?)?\Z")
_ZERO_DATE = "0000-00-00"
_MAX_TIME = datetime.timedelta(hours=838, minutes=59, seconds=59)


def key_value(column: Column, value: Any) -> Any:
    """``value`` as the parameter compared with ``column`` in a keyset cursor; raises ValueError
    saying what the column takes when it cannot hold the value. The check follows the
    reflected type: an integer column takes an integer within its range, DECIMAL(p,s) a number
    with at most p-s integer and s fractional digits, a date or time its ISO 8601 text, a
    string column text no longer than the column, ENUM one of its members, a binary column
    base64, UUID/INET4/INET6 their text form. Other types pass as ``to_db`` makes them."""
    check = _KEY_CHECKS.get(column.data_type)
    if check is None:
        return to_db(column, value)
    if isinstance(value, bool) and not column.is_boolean:
        raise ValueError(f"{column.data_type} takes no boolean")
    return check(column, value)


def _integer(column: Column, value: Any) -> int:
    if column.is_boolean and value in ("true", "false", True, False):
        return int(value in ("true", True))
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and _INTEGER.match(value):
        value = int(value)
    bits = INTEGER_BITS[column.data_type]
    low, high = ((0, 2 ** bits - 1) if "unsigned" in column.column_type.lower()
                 else (-2 ** (bits - 1), 2 ** (bits - 1) - 1))
    if not isinstance(value, int) or not low <= value <= high:
        raise ValueError(f"an integer from {low} to {high}")
    return value


def _decimal(column: Column, value: Any) -> str:
    text = repr(value) if isinstance(value, float) else str(value) \
        if isinstance(value, int) else value
    found = re.search(r"\(([0-9]+)(?:,([0-9]+))?\)", column.column_type)
    precision, scale = (int(found[1]), int(found[2] or 0)) if found else (10, 0)
    unsigned = "unsigned" in column.column_type.lower()
    if not isinstance(text, str) or not _DECIMAL.match(text):
        raise ValueError(f"a decimal number with at most {precision - scale} integer and "
                         f"{scale} fractional digits")
    number = decimal.Decimal(text)
    whole, _, fraction = text.lstrip("+-").partition(".")
    if (len(whole.lstrip("0")) > precision - scale or len(fraction.rstrip("0")) > scale
            or (unsigned and number < 0)):
        raise ValueError(f"a{'n unsigned' if unsigned else ''} decimal number with at most "
                         f"{precision - scale} integer and {scale} fractional digits")
    return text


def _float(column: Column, value: Any) -> float:
    if isinstance(value, str) and _FLOAT.match(value):
        value = float(value)
    if not isinstance(value, (int, float)) or value != value or value in (
            float("inf"), float("-inf")):
        raise ValueError("a finite number")
    return value


def _date(column: Column, value: Any) -> str:
    if not (isinstance(value, str) and _DATE.match(value) and _real_date(value)):
        raise ValueError("a date, YYYY-MM-DD")
    return value


def _datetime(column: Column, value: Any) -> str:
    if not (isinstance(value, str) and _DATETIME.match(value) and _real_date(value[:10])):
        raise ValueError("a date and time, YYYY-MM-DDTHH:MM:SS[.ffffff], no time zone")
    return value


def _real_date(text: str) -> bool:
    """A calendar date, or the zero date MariaDB keeps unless NO_ZERO_DATE is set."""
    try:
        return text == _ZERO_DATE or bool(datetime.date.fromisoformat(text))
    except ValueError:
        return False


def _time(column: Column, value: Any) -> str:
    found = _TIME.match(value) if isinstance(value, str) else None
    if not found or datetime.timedelta(hours=int(found[2]), minutes=int(found[3]),
                                       seconds=int(found[4] or 0)) > _MAX_TIME:
        raise ValueError("a time, [-]HH:MM:SS[.ffffff], from -838:59:59 to 838:59:59")
    return value


def _year(column: Column, value: Any) -> int:
    if isinstance(value, str) and _INTEGER.match(value):
        value = int(value)
    if not isinstance(value, int) or not (value == 0 or 1901 <= value <= 2155):
        raise ValueError("a year from 1901 to 2155, or 0")
    return value


def _text(column: Column, value: Any) -> str:
    if isinstance(value, int):
        value = str(value)  # compared as text, in the column's collation, as the key is ordered
    if not isinstance(value, str) or (column.max_length is not None
                                      and len(value) > column.max_length):
        raise ValueError(f"text of at most {column.max_length} characters")
    return value


def _enum(column: Column, value: Any) -> str:
    members = [m.replace("''", "'") for m in re.findall(r"'((?:[^']|'')*)'", column.column_type)]
    if value not in members:
        raise ValueError("one of " + ", ".join(map(repr, members)))
    return value


def _binary(column: Column, value: Any) -> bytes:
    try:
        found = base64.b64decode(value, validate=True) if isinstance(value, str) else None
    except (binascii.Error, ValueError):
        found = None
    if found is None or (column.max_length is not None and len(found) > column.max_length):
        raise ValueError(f"base64 of at most {column.max_length} bytes")
    return found


def _parsed(parse: Callable, form: str) -> Callable:
    def check(column: Column, value: Any) -> str:
        try:
            if not isinstance(value, str):
                raise TypeError
            parse(value)
        except (TypeError, ValueError, AttributeError):
            raise ValueError(form) from None
        return value
    return check


_KEY_CHECKS: dict[str, Callable[[Column, Any], Any]] = {
    **dict.fromkeys(INTEGER_BITS, _integer),
    **dict.fromkeys(("decimal", "numeric"), _decimal),
    **dict.fromkeys(("float", "double", "real"), _float),
    "date": _date, "datetime": _datetime, "timestamp": _datetime, "time": _time,
    "year": _year, "enum": _enum,
    **dict.fromkeys(TEXT_TYPES, _text),
    **dict.fromkeys(BINARY_TYPES, _binary),
    "uuid": _parsed(uuid.UUID, "a UUID"),
    "inet4": _parsed(ipaddress.IPv4Address, "an IPv4 address"),
    "inet6": _parsed(ipaddress.ip_address, "an IPv6 or IPv4 address"),
}
