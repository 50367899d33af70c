"""Bytes to rows and rows to bytes, no database in sight: one ``Format`` value per format that
an import reads, each reader returning ``(header, rows)`` exactly as ``csv.read_csv_rows`` does,
so that every format flows into the same chunked insert with the same per-row errors, modes and
statuses (CONTRACT.md "Batch").

A reader gives text, as the insert path expects, or with ``native=True`` the values as the file
typed them, for ``batch.infer``: a JSON ``true`` is a boolean there and ``"1"`` here.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from tablegate.errors import BadRequest, UnsupportedMediaType
from tablegate.formats import csv, json, xlsx
from tablegate.formats.rows import Row

Reader = Callable[..., tuple[list[str], Iterator[Row]]]


@dataclass(frozen=True)
class Format:
    name: str
    label: str
    #: File name extensions that name it, without the dot.
    extensions: tuple[str, ...]
    #: Content types that name it. Any other (octet-stream, text/plain, the
    #: application/vnd.ms-excel that Windows browsers send for .csv) says nothing.
    content_types: tuple[str, ...]
    #: ``read(stream, *, sheet, max_inflated, native, null)``; each takes the options it knows.
    read: Reader
    #: Whether ``?null=`` applies: cells of text, where a marker stands for NULL. JSON has null.
    text_cells: bool = True


FORMATS = {f.name: f for f in (
    Format("csv", "CSV", ("csv",), ("text/csv",),
           lambda stream, *, null, **options: csv.read_csv_rows(stream, null)),
    Format("json", "JSON", ("json",), ("application/json",),
           lambda stream, *, native, **options: json.read_json_rows(stream, native), False),
    Format("ndjson", "NDJSON", ("ndjson", "jsonl"),
           ("application/x-ndjson", "application/ndjson", "application/jsonl",
            "application/x-jsonlines"),
           lambda stream, *, native, **options: json.read_ndjson_rows(stream, native), False),
    Format("xlsx", "XLSX", ("xlsx",),
           ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",),
           lambda stream, *, sheet, max_inflated, native, null: _marked(xlsx.read_xlsx_rows(
               stream, sheet, max_inflated, native), null)),
)}

_BY_EXTENSION = {extension: f.name for f in FORMATS.values() for extension in f.extensions}
_BY_CONTENT_TYPE = {kind: f.name for f in FORMATS.values() for kind in f.content_types}


def detect(filename: str | None, content_type: str | None, explicit: str | None) -> str:
    """The upload's format name: ``?format=`` when given; else its extension or content type,
    which must not contradict each other (415); else CSV, as before there were other formats.
    Raises BadRequest for an unknown ``explicit``."""
    if explicit is not None:
        if explicit.lower() not in FORMATS:
            raise BadRequest(f"Unknown format {explicit!r}: use one of {', '.join(FORMATS)}",
                             {"parameter": "format"})
        return explicit.lower()
    _, dot, extension = (filename or "").rpartition(".")
    by_name = _BY_EXTENSION.get(extension.lower()) if dot else None
    by_type = _BY_CONTENT_TYPE.get((content_type or "").lower())
    if by_name and by_type and by_name != by_type:
        raise UnsupportedMediaType(
            f"The file name says {FORMATS[by_name].label} but its content type says "
            f"{FORMATS[by_type].label}: name the format with ?format=", {"parameter": "format"})
    return by_name or by_type or "csv"


def read_rows(name: str, stream: BinaryIO, *, sheet: str | None = None,
              max_inflated: int = 1024 ** 3, native: bool = False,
              null: str | None = None) -> tuple[list[str], Iterator[Row]]:
    """The header and the rows of ``stream`` in format ``name``; ``sheet`` and
    ``max_inflated`` (bytes) apply to XLSX; ``null``, the cell text that means NULL, to CSV and
    XLSX (a BadRequest for JSON and NDJSON, which have null). Raises MalformedFile (400) for a
    file unreadable as its format."""
    fmt = FORMATS[name]
    if null is not None and not fmt.text_cells:
        raise BadRequest(f"?null= names the cell text that means NULL; {fmt.label} has null "
                         "of its own: leave it out", {"parameter": "null"})
    return fmt.read(stream, sheet=sheet, max_inflated=max_inflated, native=native, null=null)


def _marked(read: tuple[list[str], Iterator[Row]],
            null: str | None) -> tuple[list[str], Iterator[Row]]:
    """XLSX rows with the text cells equal to ``null`` as None (an empty cell is None anyway)."""
    header, rows = read
    if null is None:
        return read

    def marked() -> Iterator[Row]:
        for row in rows:
            if row.values is not None and null in row.values:
                row = row._replace(values=tuple([None if v == null else v
                                                 for v in row.values]))
            yield row
    return header, marked()
