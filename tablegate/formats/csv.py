"""CSV in and out for the batch endpoints (CONTRACT.md "Batch"), with no database in sight.

Import is a chain of small generators (STYLE 12): ``read_csv_rows`` decodes the upload as it
reads it and yields one ``Row`` per record, ``rows.chunks`` groups rows for one INSERT each. Nothing
here holds more than one record and one chunk, so memory stays flat however large the file.

Empty cells follow PostgreSQL's ``COPY ... CSV`` convention, so that an export imports back
unchanged: an unquoted empty cell is NULL, a quoted one (``""``) is the empty string. Python
3.11's csv module cannot tell the two apart, so the raw text of each record is kept and looked at
in the rare record that has an empty field *and* a ``""`` in it.

``null`` (``?null=`` on imports) names another cell text that means NULL, as COPY's ``NULL``
option does: ``\\N`` (``mysqldump --tab``, ``SELECT ... INTO OUTFILE``), ``NA``, ``NULL``. Then
exactly the unquoted cells holding that text are NULL; a quoted one (``"NA"``) stays text, and
so does an empty cell (the empty string).
"""
from __future__ import annotations

import csv
import io
from itertools import chain
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import BinaryIO

from tablegate.formats.rows import FIELD_SIZE_LIMIT, SURROGATES, MalformedFile, Row

# Lone surrogates used as markers inside export text; no decoded database text can hold one.
EMPTY_MARK = "\udfff"
NULL_MARK = "\udffe"


_limit_raised = False


def maximize_csv_field_size_limit() -> None:
    """Raise csv's process-wide field limit once, from its 128 KiB default to
    ``FIELD_SIZE_LIMIT``."""
    global _limit_raised
    if not _limit_raised:
        csv.field_size_limit(FIELD_SIZE_LIMIT)
        _limit_raised = True


def read_csv_rows(stream: BinaryIO, null: str | None = None) -> tuple[list[str], Iterator[Row]]:
    """The header, read now so that it can be checked before any row is written, and the rows,
    read lazily from the stream as the caller asks for them. ``null``: the unquoted cell text
    that means NULL instead of the empty cell (module docstring).

    Decoding is incremental (``utf-8-sig``: a byte-order mark is dropped) and never strict, so
    that a bad byte is blamed on its own record instead of on whichever 8 KiB block held it.
    """
    maximize_csv_field_size_limit()
    text = io.TextIOWrapper(_Borrowed(stream), encoding="utf-8-sig", errors="surrogateescape",
                            newline="")
    raw: list[str] = []
    reader = csv.reader(_lines(text, raw))
    header = _read_header(reader, raw)
    return header, _rows(reader, raw, len(header), null)


class _Borrowed(io.BufferedIOBase):
    """The upload as TextIOWrapper reads it, without its close: a collected TextIOWrapper
    closes its stream, and a file a table is created from is read twice (``imports``)."""

    def __init__(self, stream: BinaryIO) -> None:
        super().__init__()
        self._stream = stream

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes:
        return self._stream.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self._stream.read(size)


def _lines(text: Iterable[str], raw: list[str]) -> Iterator[str]:
    """Feed csv line by line, keeping the lines of the record being read."""
    for line in text:
        raw.append(line)
        yield line


def _read_header(reader: Iterator[list[str]], raw: list[str]) -> list[str]:
    try:
        header = next((fields for fields in reader if fields), None)
    except csv.Error as exc:
        raise MalformedFile(f"The header cannot be read: {exc}") from None
    if header is None:
        raise MalformedFile("The file is empty: its first line must name the columns")
    if SURROGATES.search("".join(raw)):
        raise MalformedFile("The header is not valid UTF-8")
    raw.clear()
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise MalformedFile(f"Column {name!r} appears twice in the header", {"column": name})
        seen.add(name)
    return header


def _rows(reader: Iterator[list[str]], raw: list[str], width: int,
          null: str | None = None) -> Iterator[Row]:
    """The common record (ASCII, full width, no empty cell, no NULL marker) takes the short
    path: this loop runs once per row of a file of millions. Without ``null`` the marker test
    is one comparison per row, never a look at the cells."""
    number = 0
    try:
        for fields in reader:
            record = raw[0] if len(raw) == 1 else "".join(raw)
            raw.clear()
            if not fields:  # a blank line: a NULL in a one-column file, else not a record
                if width != 1:
                    continue
                fields = [""]
            number += 1
            if (len(fields) == width and "" not in fields and record.isascii()
                    and (null is None or null not in fields)):
                yield _new_row(Row, (number, tuple(fields), len(record), None))
            else:
                yield _row(number, fields, record, width, null)
    except csv.Error as exc:
        raise MalformedFile(f"Row {number + 1} cannot be read, nor anything after it: {exc}",
                           {"row": number + 1}) from None


# Builds a Row without NamedTuple's Python-level __new__, at a fifth of the cost.
_new_row = tuple.__new__


def _row(number: int, fields: list[str], record: str, width: int,
         null: str | None = None) -> Row:
    if not record.isascii() and SURROGATES.search(record):
        return Row(number, None, len(record), "Row is not valid UTF-8")
    if len(fields) != width:
        return Row(number, None, len(record),
                   f"Row has {len(fields)} fields, the header has {width}")
    values = _nulls(fields, record) if null is None else _marked(fields, record, null)
    return _new_row(Row, (number, values, len(record), None))


def _marked(fields: list[str], record: str, null: str) -> tuple[str | None, ...]:
    """Unquoted cells holding the ``null`` text become None; every other cell stays text."""
    if null not in fields:
        return tuple(fields)
    quoted = _quoted_fields(record) if '"' in record else ()
    return tuple([None if value == null and index not in quoted else value
                  for index, value in enumerate(fields)])


def _nulls(fields: list[str], record: str) -> tuple[str | None, ...]:
    """Unquoted empty cells become None; quoted ones stay ''."""
    if '""' not in record:
        return tuple([value or None for value in fields])
    quoted = _quoted_fields(record)
    return tuple([value if value or index in quoted else None
                  for index, value in enumerate(fields)])


def _quoted_fields(record: str) -> set[int]:
    """Indexes of the fields of one raw record that open with a quote.

    Mirrors csv's own states: a quote only opens a field at its start, ``""`` inside quotes is
    an escaped quote, and a comma ends a field unless it is inside quotes.
    """
    quoted: set[int] = set()
    field, state = 0, "start"
    for char in record:
        if state == "quoted":
            state = "closing" if char == '"' else "quoted"
        elif char == '"' and state in ("start", "closing"):
            if state == "start":
                quoted.add(field)
            state = "quoted"
        elif char == ",":
            field, state = field + 1, "start"
        else:
            state = "unquoted"
    return quoted


class CsvEncoder:
    """Rows of database text to CSV bytes: RFC 4180 quoting, ``\\r\\n``, UTF-8.

    NULL is an empty cell and the empty string is ``""``, the mirror of ``read_csv_rows``. The
    C writer cannot be told to quote one empty field, so empty strings go through it as a marker
    that is then replaced; with one column, NULL needs the same, or csv would write ``""`` for it.
    """

    def __init__(self, converters: Sequence[Callable[[object], str] | None]) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="\r\n")
        self._converters = [(i, c) for i, c in enumerate(converters) if c is not None]
        self._single = len(converters) == 1

    def header(self, names: Sequence[str]) -> bytes:
        self._writer.writerow(names)
        return self._flush()

    def encode(self, rows: Sequence[Sequence[object]]) -> bytes:
        """One batch; rows are looked at one by one only when the batch needs it, checked with
        a scan that runs in C."""
        if (self._converters or "" in chain.from_iterable(rows)
                or (self._single and None in chain.from_iterable(rows))):
            rows = map(self._prepare, rows)
        self._writer.writerows(rows)
        return self._flush()

    def _prepare(self, row: Sequence[object]) -> Sequence[object]:
        if self._converters:
            row = list(row)
            for index, convert in self._converters:
                if row[index] is not None:
                    row[index] = convert(row[index])
        if "" in row:
            row = [EMPTY_MARK if value == "" else value for value in row]
        if self._single and row[0] is None:
            row = [NULL_MARK]
        return row

    def _flush(self) -> bytes:
        text = self._buffer.getvalue()
        self._buffer.seek(0)
        self._buffer.truncate()
        if EMPTY_MARK in text:
            text = text.replace(EMPTY_MARK, '""')
        if NULL_MARK in text:
            text = text.replace(NULL_MARK, "")
        return text.encode("utf-8")
