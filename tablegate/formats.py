"""JSON, NDJSON and XLSX uploads as the rows CSV gives (CONTRACT.md "Batch"), no database in
sight: one reader per format, each returning ``(header, rows)`` exactly as
``csvio.read_csv_rows`` does, so every format flows into the same chunked insert with the same
per-row errors, modes and statuses.

Each reads as a stream: ijson (its C backend) for JSON, one line at a time for NDJSON, openpyxl's
read-only mode for XLSX (which holds the sheet's shared strings, not its rows). A reader gives
text, as the insert path expects, or with ``native=True`` the values as the file typed them, for
``tablegate.infer``: a JSON ``true`` is a boolean there and ``"1"`` here.

The header is the keys of the first object (JSON, NDJSON) or the first non-empty row (XLSX). A
key the header has and an object lacks is the column's DEFAULT; a key the header lacks is that
row's error: the INSERT names the header's columns, once for the whole file.
"""
from __future__ import annotations

import datetime
import decimal
import json
import zipfile
import zlib
from collections.abc import Iterator
from typing import BinaryIO

import ijson

from tablegate import bulk, csvio
from tablegate.errors import BadRequest, PayloadTooLarge, TablegateError

FORMATS = ("csv", "json", "ndjson", "xlsx")
LABELS = {"csv": "CSV", "json": "JSON", "ndjson": "NDJSON", "xlsx": "XLSX"}
EXTENSIONS = {"csv": "csv", "json": "json", "ndjson": "ndjson", "jsonl": "ndjson",
              "xlsx": "xlsx"}
# Content types that name a format. Any other (octet-stream, text/plain, the
# application/vnd.ms-excel that Windows browsers send for .csv) says nothing.
CONTENT_TYPES = {
    "text/csv": "csv",
    "application/json": "json",
    "application/x-ndjson": "ndjson", "application/ndjson": "ndjson",
    "application/jsonl": "ndjson", "application/x-jsonlines": "ndjson",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
}

SURROGATES = csvio.SURROGATES

# Longest NDJSON line, as csvio bounds a CSV field: a file without newlines must not become one
# string of the whole upload.
MAX_LINE_BYTES = csvio.FIELD_SIZE_LIMIT

# An XLSX is a zip. Entries are refused before anything is inflated when they declare more than
# the configured total (TABLEGATE_IMPORT_MAX_INFLATED_BYTES) or, past 1 MiB, a ratio no
# spreadsheet reaches (zeros compress about 1000:1, sheet XML 10-50:1). A declared size can lie:
# each entry is then inflated once, in small pieces, before openpyxl sees it. zipfile stops a
# piecewise read at the declared size and fails the CRC of an entry that held more, whereas
# openpyxl reads some entries whole, which zipfile inflates in one piece however large.
MAX_RATIO = 200
RATIO_FROM_BYTES = 1024 * 1024
MAX_ENTRIES = 10_000
INFLATE_PIECE = 64 * 1024

# Lines of NDJSON read while looking for the first object, whose keys are the header.
MAX_LINES_BEFORE_HEADER = 1000


class MalformedFile(BadRequest):
    """The file cannot be read as its format from this point on (400)."""


class UnsupportedFormat(TablegateError):
    status = 415


def detect(filename: str | None, content_type: str | None, explicit: str | None) -> str:
    """The upload's format: ``?format=`` when given; else its extension or content type, which
    must not contradict each other; else CSV, as before there were other formats."""
    if explicit is not None:
        if explicit.lower() not in FORMATS:
            raise BadRequest(f"Unknown format {explicit!r}: use one of {', '.join(FORMATS)}",
                             {"parameter": "format"})
        return explicit.lower()
    _, dot, extension = (filename or "").rpartition(".")
    by_name = EXTENSIONS.get(extension.lower()) if dot else None
    by_type = CONTENT_TYPES.get((content_type or "").lower())
    if by_name and by_type and by_name != by_type:
        raise UnsupportedFormat(
            f"The file name says {LABELS[by_name]} but its content type says "
            f"{LABELS[by_type]}: name the format with ?format=", {"parameter": "format"})
    return by_name or by_type or "csv"


def read_rows(fmt: str, stream: BinaryIO, *, sheet: str | None = None,
              max_inflated: int = 1024 ** 3,
              native: bool = False) -> tuple[list[str], Iterator[csvio.Row]]:
    """The reader of ``fmt``; ``sheet`` and ``max_inflated`` (bytes) apply to XLSX."""
    if fmt == "csv":
        return csvio.read_csv_rows(stream)
    if fmt == "json":
        return read_json_rows(stream, native)
    if fmt == "ndjson":
        return read_ndjson_rows(stream, native)
    return read_xlsx_rows(stream, sheet, max_inflated, native)


# --- values ---------------------------------------------------------------------------------

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


def _native(value: object) -> object:
    """As ``text`` but keeping what inference tells apart: booleans, numbers, dates."""
    if isinstance(value, (dict, list)):
        return text(value)
    return value


def _row(number: int, values: list, native: bool) -> csvio.Row:
    """One Row from one record's values in header order (``_MISSING`` for an absent key)."""
    if native:
        cells = tuple([None if v is _MISSING else _native(v) for v in values])
        return csvio.Row(number, cells, 0)
    cells = tuple([bulk.DEFAULT if v is _MISSING else text(v) for v in values])
    joined = "".join([c for c in cells if c is not None])
    if not joined.isascii() and SURROGATES.search(joined.replace(bulk.DEFAULT, "")):
        return csvio.Row(number, None, len(joined), "Row holds text that is not valid Unicode")
    return csvio.Row(number, cells, len(joined) + len(cells))


def _check_header(header: list[str]) -> list[str]:
    if not header:
        raise MalformedFile("The first object has no keys: they must name the columns")
    for name in header:
        if SURROGATES.search(name):
            raise MalformedFile("A key of the first object is not valid Unicode")
    return header


def _object_row(number: int, obj: object, header: list[str], keys: frozenset[str],
                native: bool) -> csvio.Row:
    """``keys`` is the header as a set, made once per file."""
    if not isinstance(obj, dict):
        return csvio.Row(number, None, 0, f"Row is not a JSON object but {_kind(obj)}")
    if not obj.keys() <= keys:
        extra = next(key for key in obj if key not in keys)
        return csvio.Row(number, None, 0,
                         f"Key {extra!r} is not in the header (the first object's keys)")
    return _row(number, [obj.get(key, _MISSING) for key in header], native)


_MISSING = object()


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"


# --- JSON -----------------------------------------------------------------------------------

def read_json_rows(stream: BinaryIO, native: bool = False) -> tuple[list[str],
                                                                      Iterator[csvio.Row]]:
    """An array of objects. The top level must be an array and its first element an object
    (400 otherwise); a later element that is not an object is that row's error. JSON that
    breaks off stops the import where it breaks, like a CSV unreadable from some row on.

    The top level is told from its first byte, so that ijson's C backend can read the file
    itself: twice as fast as feeding it events through Python."""
    start = _first_byte(stream)
    if start == b"":
        raise MalformedFile("The file is empty: it must hold an array of objects")
    if start != b"[":
        raise MalformedFile("The JSON must be an array of objects; its top level is "
                            + ("an object" if start == b"{" else "not an array"))
    items = ijson.items(stream, "item")
    try:
        head = next(items, _MISSING)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise _broken(exc, 0) from None
    if head is _MISSING:
        return [], iter(())
    if not isinstance(head, dict):
        raise MalformedFile(f"The first element of the array is {_kind(head)}: it must be an "
                            "object whose keys name the columns", {"row": 1})
    header = _check_header(list(head))
    return header, _json_rows(head, items, header, native)


def _first_byte(stream: BinaryIO) -> bytes:
    """The first byte that is not white space or a UTF-8 byte-order mark; the stream is left
    just before it. b"" when there is none."""
    position = 3 if stream.read(3) == b"\xef\xbb\xbf" else 0
    stream.seek(position)
    while chunk := stream.read(8192):
        stripped = chunk.lstrip(b" \t\r\n")
        if stripped:
            stream.seek(position + len(chunk) - len(stripped))
            return stripped[:1]
        position += len(chunk)
    return b""


def _json_rows(head: dict, items: Iterator, header: list[str],
               native: bool) -> Iterator[csvio.Row]:
    keys = frozenset(header)
    yield _object_row(1, head, header, keys, native)
    number = 1
    try:
        for number, obj in enumerate(items, start=2):
            yield _object_row(number, obj, header, keys, native)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise _broken(exc, number) from None


def _broken(exc: Exception, rows: int) -> MalformedFile:
    """The error for JSON unreadable after ``rows`` rows: malformed, cut off, or followed by
    something after the array's end."""
    reason = _reason(exc)
    if reason.endswith("trailing garbage"):
        return MalformedFile(f"Something follows the array after its {rows} rows",
                             {"row": rows + 1})
    return MalformedFile(f"Row {rows + 1} cannot be read, nor anything after it: {reason}",
                         {"row": rows + 1})


def _reason(exc: Exception) -> str:
    """The parser's complaint without the excerpt of the file yajl appends to it."""
    if isinstance(exc, UnicodeDecodeError):
        return "text that is not valid UTF-8 or a lone surrogate escape"
    return str(exc).split("\n", 1)[0].strip() or type(exc).__name__


# --- NDJSON ---------------------------------------------------------------------------------

def read_ndjson_rows(stream: BinaryIO, native: bool = False) -> tuple[list[str],
                                                                        Iterator[csvio.Row]]:
    """One JSON object per line. A row is numbered by its line (blank lines are skipped but
    counted), and a line that is not a JSON object is that row's error: the others land."""
    lines = _ndjson_lines(stream)
    pending: list[csvio.Row] = []
    for number, value in lines:
        if isinstance(value, dict):
            header = _check_header(list(value))
            return header, _ndjson_rows(pending, number, value, lines, header, native)
        pending.append(csvio.Row(number, None, 0, _line_error(number, value)))
        if len(pending) >= MAX_LINES_BEFORE_HEADER:
            raise MalformedFile(f"No JSON object in the first {MAX_LINES_BEFORE_HEADER} lines")
    if pending:
        raise MalformedFile("No line of the file is a JSON object: the first object's keys "
                            "name the columns", {"row": pending[0].number})
    raise MalformedFile("The file is empty: each line must hold a JSON object")


class _BadLine(str):
    """Why a line is not JSON: a value among the parsed ones, never raised."""


def _ndjson_rows(pending: list[csvio.Row], number: int, first: dict, lines: Iterator,
                 header: list[str], native: bool) -> Iterator[csvio.Row]:
    keys = frozenset(header)
    yield from pending
    yield _object_row(number, first, header, keys, native)
    for number, value in lines:
        if isinstance(value, dict):
            yield _object_row(number, value, header, keys, native)
        else:
            yield csvio.Row(number, None, 0, _line_error(number, value))


def _line_error(number: int, value: object) -> str:
    if isinstance(value, _BadLine):
        return f"Line {number} is not valid JSON: {value}"
    return f"Line {number} is not a JSON object but {_kind(value)}"


def _ndjson_lines(stream: BinaryIO) -> Iterator[tuple[int, object]]:
    """(line number, parsed value or _BadLine) for every non-blank line."""
    number = 0
    while True:
        line = stream.readline(MAX_LINE_BYTES + 1)
        if not line:
            return
        number += 1
        if len(line) > MAX_LINE_BYTES:
            raise MalformedFile(f"Line {number} is longer than {MAX_LINE_BYTES} bytes; nothing "
                                "after it was read", {"row": number})
        if number == 1 and line.startswith(b"\xef\xbb\xbf"):
            line = line[3:]
        line = line.strip()
        if not line:
            continue
        try:
            value = json.loads(line.decode("utf-8"), parse_float=decimal.Decimal,
                               parse_constant=_no_constant)
        except UnicodeDecodeError:
            value = _BadLine("not UTF-8")
        except ValueError as exc:  # JSONDecodeError, and ints past int_max_str_digits
            value = _BadLine(str(exc).split(":", 1)[0])
        yield number, value


def _no_constant(name: str) -> object:
    raise ValueError(f"{name} is not JSON")


# --- XLSX -----------------------------------------------------------------------------------

def check_zip(stream: BinaryIO, max_inflated: int) -> None:
    """Refuse what is not a zip, and a zip bomb, before anything is inflated."""
    try:
        with zipfile.ZipFile(stream) as archive:
            entries = archive.infolist()
    except (zipfile.BadZipFile, OSError, ValueError, EOFError):
        raise MalformedFile("The file is not an XLSX workbook: it is not a zip archive") \
            from None
    finally:
        stream.seek(0)
    if len(entries) > MAX_ENTRIES:
        raise PayloadTooLarge(f"The workbook has over {MAX_ENTRIES} parts")
    total = sum(entry.file_size for entry in entries)
    if total > max_inflated:
        raise PayloadTooLarge(f"The workbook would inflate to {total} bytes, over the limit of "
                              f"{max_inflated} (TABLEGATE_IMPORT_MAX_INFLATED_BYTES)")
    for entry in entries:
        if (entry.file_size > RATIO_FROM_BYTES
                and entry.file_size > MAX_RATIO * max(entry.compress_size, 1)):
            raise PayloadTooLarge(f"A part of the workbook is compressed over {MAX_RATIO}:1, "
                                  "which no spreadsheet is: refused as a zip bomb")
    _inflate_in_pieces(stream, entries)


def _inflate_in_pieces(stream: BinaryIO, entries: list[zipfile.ZipInfo]) -> None:
    try:
        with zipfile.ZipFile(stream) as archive:
            for entry in entries:
                with archive.open(entry) as member:
                    while member.read(INFLATE_PIECE):
                        pass
    except (zipfile.BadZipFile, EOFError, OSError, zlib.error, NotImplementedError,
            RuntimeError, ValueError):  # RuntimeError: encrypted
        raise MalformedFile("The workbook is damaged: a part of it does not inflate to the "
                            "size it declares") from None
    finally:
        stream.seek(0)


def read_xlsx_rows(stream: BinaryIO, sheet: str | None, max_inflated: int,
                   native: bool = False) -> tuple[list[str], Iterator[csvio.Row]]:
    """The first sheet, or ``sheet``. Rows are numbered by their place below the header row
    (a blank row is skipped but counted), so data row n is n rows under the header in Excel."""
    import openpyxl  # imported on first use: it is heavy and most imports are CSV

    check_zip(stream, max_inflated)
    try:
        workbook = openpyxl.load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises a zoo of types for a broken workbook
        raise MalformedFile("The file is not a readable XLSX workbook "
                            f"({type(exc).__name__})") from None
    try:
        worksheet = _worksheet(workbook, sheet)
        rows = worksheet.iter_rows(values_only=True)
        header = _xlsx_header(rows)
    except BaseException:
        workbook.close()
        raise
    return header, _xlsx_rows(workbook, rows, header, native)


def _worksheet(workbook, sheet: str | None):
    names = workbook.sheetnames
    if sheet is None:
        if not workbook.worksheets:
            raise MalformedFile("The workbook has no worksheet")
        return workbook.worksheets[0]
    if sheet not in names or sheet not in [ws.title for ws in workbook.worksheets]:
        raise BadRequest(f"No worksheet {sheet!r} in the workbook; it has: "
                         + ", ".join(repr(n) for n in names), {"parameter": "sheet",
                                                                "sheets": names})
    return workbook[sheet]


def _xlsx_header(rows: Iterator[tuple]) -> list[str]:
    """The first row with a value, its trailing empty cells dropped."""
    try:
        for cells in rows:
            if any(cell is not None for cell in cells):
                break
        else:
            raise MalformedFile("The sheet is empty: its first row must name the columns")
    except TablegateError:
        raise
    except Exception as exc:
        raise MalformedFile(f"The sheet cannot be read ({type(exc).__name__})") from None
    cells = list(cells)
    while cells[-1] is None:
        cells.pop()
    header = []
    for index, cell in enumerate(cells, start=1):
        name = text(cell)
        if name is None or name == "":
            raise MalformedFile(f"Column {index} of the header row is empty",
                                {"column_index": index})
        if name in header:
            raise MalformedFile(f"Column {name!r} appears twice in the header",
                                {"column": name})
        header.append(name)
    return header


def _xlsx_rows(workbook, rows: Iterator[tuple], header: list[str],
               native: bool) -> Iterator[csvio.Row]:
    width = len(header)
    number = 0
    try:
        for number, cells in enumerate(rows, start=1):
            if not any(cell is not None for cell in cells):
                continue
            if len(cells) > width and any(cell is not None for cell in cells[width:]):
                yield csvio.Row(number, None, 0,
                                f"Row has a value beyond the header's {width} columns")
                continue
            values = list(cells[:width]) + [None] * (width - len(cells))
            yield _row(number, values, native)
    except TablegateError:
        raise
    except Exception as exc:
        raise MalformedFile(f"Row {number + 1} cannot be read, nor anything after it "
                            f"({type(exc).__name__})", {"row": number + 1}) from None
    finally:
        workbook.close()
