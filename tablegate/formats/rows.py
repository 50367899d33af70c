"""What every reader gives: ``(header, rows)``, one ``Row`` per record, and what the rows
are grouped into for one INSERT each. No database and no format here; the readers
(``formats.csv``, ``formats.json``, ``formats.xlsx``) share these pieces, so every format flows
into the same chunked insert with the same per-row errors.
"""
from __future__ import annotations

import datetime
import decimal
import json
import re
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from tablegate.errors import BadRequest

# Bytes that are not UTF-8 decode (surrogateescape) to U+DC80..U+DCFF, which valid UTF-8 never
# produces; a record holding any surrogate is therefore named as not UTF-8.
SURROGATES = re.compile("[\ud800-\udfff]")

# Largest field accepted, in characters. Far above csv's default of 128 KiB, yet bounded: a stray
# quote near the top of a large upload must not read the whole rest of it into one string, and a
# field larger than the server's packet limit could not be inserted anyway.
FIELD_SIZE_LIMIT = 16 * 1024 * 1024

#: A cell the record leaves out (a key an object lacks): the column's DEFAULT. A lone
#: surrogate, which no decoded text holds.
DEFAULT = "\udffc"


class MalformedFile(BadRequest):
    """The file cannot be read as its format from this point on (400)."""


class Row(NamedTuple):
    #: 1-based data row number, header excluded (CONTRACT.md "Batch").
    number: int
    #: One value per header column, None for an unquoted empty cell; None when ``error`` is set.
    #: A tuple of strings, which the cyclic GC stops tracking: a chunk of rows held across
    #: collections is then not promoted and scanned again and again (a third of the import's
    #: CPU time with lists).
    values: tuple[str | None, ...] | None
    #: Characters of CSV text, to bound the size of one chunk's statement.
    size: int
    #: Why the record cannot be imported, or None.
    error: str | None = None


def chunks(rows: Iterable[Row], size: int, max_chars: int) -> Iterator[list[Row]]:
    """Rows in groups of ``size``, or fewer once their text reaches ``max_chars``, so that one
    group's INSERT stays well below the server's packet limit."""
    chunk: list[Row] = []
    chars = 0
    for row in rows:
        chunk.append(row)
        chars += row.size
        if len(chunk) >= size or chars >= max_chars:
            yield chunk
            chunk, chars = [], 0
    if chunk:
        yield chunk


def text(value: object) -> str | None:
    """A value as the text the insert path sends: numbers as their text, booleans as 1 and 0,
    dates ISO 8601 (a midnight date-time as its date: spreadsheets store dates that way),
    objects and arrays as JSON."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)
    if isinstance(value, (int, decimal.Decimal)):
        return str(value)
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None and value.time() == datetime.time():
            return value.date().isoformat()
        return value.isoformat()
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False, default=float)  # Decimal within
    return str(value)


def native_value(value: object) -> object:
    """As ``text`` but keeping what inference tells apart: booleans, numbers, dates."""
    if isinstance(value, (dict, list)):
        return text(value)
    return value


def make_row(number: int, values: list, native: bool) -> Row:
    """One Row from one record's values in header order (``MISSING`` for an absent key)."""
    if native:
        cells = tuple([None if v is MISSING else native_value(v) for v in values])
        return Row(number, cells, 0)
    cells = tuple([DEFAULT if v is MISSING else text(v) for v in values])
    joined = "".join([c for c in cells if c is not None])
    if not joined.isascii() and SURROGATES.search(joined.replace(DEFAULT, "")):
        return Row(number, None, len(joined), "Row holds text that is not valid Unicode")
    return Row(number, cells, len(joined) + len(cells))


#: A key the header has and an object lacks (``make_row`` gives the column's DEFAULT).
MISSING = object()
