"""JSON (an array of objects, read by ijson's C backend as a stream) and NDJSON (one object per
line) uploads as rows. The header is the keys of the first object; a key the header has and an
object lacks is the column's DEFAULT, a key the header lacks is that row's error: the INSERT
names the header's columns, once for the whole file.
"""
from __future__ import annotations

import decimal
import json
from collections.abc import Iterator
from typing import BinaryIO

import ijson

from tablegate.formats.rows import (FIELD_SIZE_LIMIT, MISSING, SURROGATES, MalformedFile, Row,
                                    make_row)

# Longest NDJSON line, as the CSV reader bounds a field: a file without newlines must not become
# one string of the whole upload.
MAX_LINE_BYTES = FIELD_SIZE_LIMIT

# Lines of NDJSON read while looking for the first object, whose keys are the header.
MAX_LINES_BEFORE_HEADER = 1000


def _check_header(header: list[str]) -> list[str]:
    if not header:
        raise MalformedFile("The first object has no keys: they must name the columns")
    for name in header:
        if SURROGATES.search(name):
            raise MalformedFile("A key of the first object is not valid Unicode")
    return header


def _object_row(number: int, obj: object, header: list[str], keys: frozenset[str],
                 native: bool) -> Row:
    """``keys`` is the header as a set, made once per file."""
    if not isinstance(obj, dict):
        return Row(number, None, 0, f"Row is not a JSON object but {_kind(obj)}")
    if not obj.keys() <= keys:
        extra = next(key for key in obj if key not in keys)
        return Row(number, None, 0,
                   f"Key {extra!r} is not in the header (the first object's keys)")
    return make_row(number, [obj.get(key, MISSING) for key in header], native)


def _kind(value: object) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool) or value is None:
        return json.dumps(value)
    return "a number"




def read_json_rows(stream: BinaryIO, native: bool = False) -> tuple[list[str],
                                                                      Iterator[Row]]:
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
        head = next(items, MISSING)
    except (ijson.JSONError, UnicodeDecodeError) as exc:
        raise _broken(exc, 0) from None
    if head is MISSING:
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
               native: bool) -> Iterator[Row]:
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



def read_ndjson_rows(stream: BinaryIO, native: bool = False) -> tuple[list[str],
                                                                        Iterator[Row]]:
    """One JSON object per line. A row is numbered by its line (blank lines are skipped but
    counted), and a line that is not a JSON object is that row's error: the others land."""
    lines = _ndjson_lines(stream)
    pending: list[Row] = []
    for number, value in lines:
        if isinstance(value, dict):
            header = _check_header(list(value))
            return header, _ndjson_rows(pending, number, value, lines, header, native)
        pending.append(Row(number, None, 0, _line_error(number, value)))
        if len(pending) >= MAX_LINES_BEFORE_HEADER:
            raise MalformedFile(f"No JSON object in the first {MAX_LINES_BEFORE_HEADER} lines")
    if pending:
        raise MalformedFile("No line of the file is a JSON object: the first object's keys "
                            "name the columns", {"row": pending[0].number})
    raise MalformedFile("The file is empty: each line must hold a JSON object")


class _BadLine(str):
    """Why a line is not JSON: a value among the parsed ones, never raised."""


def _ndjson_rows(pending: list[Row], number: int, first: dict, lines: Iterator,
                 header: list[str], native: bool) -> Iterator[Row]:
    keys = frozenset(header)
    yield from pending
    yield _object_row(number, first, header, keys, native)
    for number, value in lines:
        if isinstance(value, dict):
            yield _object_row(number, value, header, keys, native)
        else:
            yield Row(number, None, 0, _line_error(number, value))


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
