"""tablegate.formats without a server: format detection, and JSON, NDJSON and XLSX read into the
rows CSV gives, bad files included (issue #7)."""
from __future__ import annotations

import datetime
import decimal
import io
import itertools
import struct
import tracemalloc
import zipfile

import pytest

from tablegate import formats
from tablegate.errors import UnsupportedMediaType
from tablegate.formats import json as json_format, xlsx as xlsx_format
from tablegate.formats.rows import DEFAULT, MalformedFile, text
from tablegate.errors import BadRequest, PayloadTooLarge
from tests.conftest import xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def read(fmt: str, data: bytes, **kwargs):
    header, rows = formats.read_rows(fmt, io.BytesIO(data), **kwargs)
    return header, [(r.number, r.values, r.error) for r in rows]



# --- detection ------------------------------------------------------------------------------

@pytest.mark.parametrize("filename, content_type, explicit, expected", [
    pytest.param("users.csv", "text/csv", None, "csv", id="csv"),
    pytest.param("users.json", "application/octet-stream", None, "json", id="json-by-name"),
    pytest.param("users.NDJSON", "", None, "ndjson", id="ndjson-upper"),
    pytest.param("users.jsonl", None, None, "ndjson", id="jsonl"),
    pytest.param("users.xlsx", XLSX_TYPE, None, "xlsx", id="xlsx"),
    pytest.param("users", "application/json", None, "json", id="json-by-type"),
    pytest.param("users.txt", "text/plain", None, "csv", id="unknown-is-csv"),
    pytest.param("users.csv", "application/vnd.ms-excel", None, "csv", id="windows-csv-type"),
    pytest.param("users.csv", "application/json", "JSON", "json", id="explicit-decides"),
    pytest.param("users.data", "", "xlsx", "xlsx", id="explicit-any-name"),
])
def test_detect(filename, content_type, explicit, expected):
    assert formats.detect(filename, content_type, explicit) == expected


def test_detect_contradiction_is_415():
    with pytest.raises(UnsupportedMediaType) as caught:
        formats.detect("users.csv", "application/json", None)
    assert caught.value.status == 415
    assert "says CSV" in caught.value.message and "says JSON" in caught.value.message


def test_detect_unknown_explicit_format_is_400():
    with pytest.raises(BadRequest) as caught:
        formats.detect("users.csv", "text/csv", "parquet")
    assert caught.value.details == {"parameter": "format"}


# --- values ---------------------------------------------------------------------------------

@pytest.mark.parametrize("value, expected", [
    pytest.param(None, None, id="null"),
    pytest.param(True, "1", id="true"),
    pytest.param(False, "0", id="false"),
    pytest.param(12, "12", id="int"),
    pytest.param(decimal.Decimal("12.50"), "12.50", id="decimal-keeps-scale"),
    pytest.param(3.0, "3", id="whole-float"),
    pytest.param(0.1, "0.1", id="float"),
    pytest.param(datetime.datetime(2024, 1, 2), "2024-01-02", id="midnight-is-a-date"),
    pytest.param(datetime.datetime(2024, 1, 2, 3, 4, 5, 600), "2024-01-02T03:04:05.000600",
                 id="datetime"),
    pytest.param(datetime.date(2024, 1, 2), "2024-01-02", id="date"),
    pytest.param(datetime.time(3, 4), "03:04:00", id="time"),
    pytest.param({"a": [1, decimal.Decimal("2.5"), "é"]}, '{"a": [1, 2.5, "é"]}', id="nested"),
])
def test_text(value, expected):
    assert text(value) == expected


# --- JSON -----------------------------------------------------------------------------------

def test_json_values_become_text():
    header, rows = read("json", b'[{"a": 1, "b": true, "c": null, "d": {"x": [1]}, '
                                b'"e": "\xc3\xa9"},'
                                b' {"a": 2.50, "b": false, "c": "", "d": [], "e": "x"}]')
    assert header == ["a", "b", "c", "d", "e"]
    assert rows == [(1, ("1", "1", None, '{"x": [1]}', "é"), None),
                    (2, ("2.50", "0", "", "[]", "x"), None)]


def test_json_missing_key_is_default_and_extra_key_is_a_row_error():
    header, rows = read("json", b'[{"a": 1, "b": 2}, {"a": 3}, {"a": 4, "b": 5, "zz": 6}]')
    assert rows == [(1, ("1", "2"), None), (2, ("3", DEFAULT), None),
                    (3, None, "Key 'zz' is not in the header (the first object's keys)")]


def test_json_native_values_keep_their_types():
    _, rows = read("json", b'[{"a": true, "b": 1.5, "c": {"k": 1}}, {"a": false}]',
                   native=True)
    assert rows == [(1, (True, decimal.Decimal("1.5"), '{"k": 1}'), None),
                    (2, (False, None, None), None)]


def test_json_later_elements_that_are_not_objects_are_row_errors():
    _, rows = read("json", b'[{"a": 1}, 2, "x", [1], null, {"a": 3}]')
    assert [(n, e) for n, _, e in rows] == [
        (1, None), (2, "Row is not a JSON object but a number"),
        (3, "Row is not a JSON object but a string"), (4, "Row is not a JSON object but an array"),
        (5, "Row is not a JSON object but null"), (6, None)]


def test_json_empty_array_is_no_rows():
    assert read("json", b" [ ] \n") == ([], [])


def test_json_may_start_with_a_byte_order_mark_and_white_space():
    data = b"\xef\xbb\xbf \r\n" + b" " * 10_000 + b'[{"a": 1}]'
    assert read("json", data) == (["a"], [(1, ("1",), None)])


def test_something_after_the_array_stops_the_file_there():
    header, rows = formats.read_rows("json", io.BytesIO(b'[{"a": 1}, {"a": 2}] [3]'))
    assert [r.values for r in itertools.islice(rows, 2)] == [("1",), ("2",)]
    with pytest.raises(MalformedFile) as caught:
        next(rows)
    assert caught.value.message == "Something follows the array after its 2 rows"
    assert caught.value.details == {"row": 3}


@pytest.mark.parametrize("data, message", [
    pytest.param(b"", "The file is empty", id="empty"),
    pytest.param(b"   \n", "The file is empty", id="blank"),
    pytest.param(b'{"a": 1}', "its top level is an object", id="object"),
    pytest.param(b"42", "its top level is not an array", id="scalar"),
    pytest.param(b"[1, 2]", "The first element of the array is a number", id="array-of-numbers"),
    pytest.param(b"[{}]", "The first object has no keys", id="empty-object"),
    pytest.param(b"nope", "its top level is not an array", id="not-json"),
])
def test_json_refused_before_any_row(data, message):
    with pytest.raises(MalformedFile) as caught:
        read("json", data)
    assert caught.value.status == 400
    assert message in caught.value.message


def test_truncated_json_says_how_far_it_got():
    header, rows = formats.read_rows("json", io.BytesIO(b'[{"a": 1}, {"a": 2}, {"a": 3'))
    assert next(rows).values == ("1",)
    assert next(rows).values == ("2",)
    with pytest.raises(MalformedFile) as caught:
        next(rows)
    assert caught.value.message == ("Row 3 cannot be read, nor anything after it: "
                                    "parse error: premature EOF")
    assert caught.value.details == {"row": 3}


def test_json_error_messages_quote_nothing_of_the_file():
    with pytest.raises(MalformedFile) as caught:
        list(read("json", b'[{"a": "secret"}, {"a": secret2}]')[1])
    assert "secret" not in caught.value.message


def test_json_lone_surrogate_escape_stops_the_file():
    with pytest.raises(MalformedFile) as caught:
        read("json", b'[{"a": "ok"}, {"a": "\\udfff"}]')
    assert caught.value.details == {"row": 2}


# --- NDJSON ---------------------------------------------------------------------------------

def test_ndjson_rows_by_line_with_broken_lines_as_row_errors():
    data = (b'\xef\xbb\xbf{"a": 1, "b": "x"}\r\n'
            b'\n'
            b'{"a": \n'
            b'{"a": 3, "b": null}\n'
            b'[1, 2]\n'
            b'{"a": NaN, "b": "y"}\n'
            b'{"a": 7, "b": "\xff"}\n'
            b'{"a": 8}')
    header, rows = read("ndjson", data)
    assert header == ["a", "b"]
    assert rows == [(1, ("1", "x"), None),
                    (3, None, "Line 3 is not valid JSON: Expecting value"),
                    (4, ("3", None), None),
                    (5, None, "Line 5 is not a JSON object but an array"),
                    (6, None, "Line 6 is not valid JSON: NaN is not JSON"),
                    (7, None, "Line 7 is not valid JSON: not UTF-8"),
                    (8, ("8", DEFAULT), None)]


def test_ndjson_broken_lines_before_the_first_object_are_row_errors():
    header, rows = read("ndjson", b'oops\n{"a": 1}\n')
    assert header == ["a"]
    assert rows == [(1, None, "Line 1 is not valid JSON: Expecting value"), (2, ("1",), None)]


def test_ndjson_lone_surrogate_is_a_row_error():
    # Markers inside the insert path are lone surrogates: one must never reach it as data.
    _, rows = read("ndjson", b'{"a": "x"}\n{"a": "\\udfff\'), (1"}\n')
    assert rows[1] == (2, None, "Row holds text that is not valid Unicode")


@pytest.mark.parametrize("data, message", [
    pytest.param(b"", "The file is empty", id="empty"),
    pytest.param(b"\n\n", "The file is empty", id="blank-lines"),
    pytest.param(b"[1]\n2\n", "No line of the file is a JSON object", id="no-object"),
])
def test_ndjson_refused(data, message):
    with pytest.raises(MalformedFile) as caught:
        read("ndjson", data)
    assert message in caught.value.message


def test_ndjson_without_an_object_near_the_top_is_refused(monkeypatch):
    """The lines before the first object are held as row errors until the header is known:
    only so many."""
    monkeypatch.setattr(json_format, "MAX_LINES_BEFORE_HEADER", 3)
    with pytest.raises(MalformedFile, match="No JSON object in the first 3 lines"):
        read("ndjson", b'1\n2\n3\n{"a": 1}\n')
    assert read("ndjson", b'1\n2\n{"a": 1}\n')[0] == ["a"]


def test_ndjson_line_over_the_limit_stops_the_file(monkeypatch):
    monkeypatch.setattr(json_format, "MAX_LINE_BYTES", 20)
    header, rows = formats.read_rows("ndjson", io.BytesIO(b'{"a": 1}\n{"a": "' + b"x" * 30
                                                          + b'"}\n'))
    assert next(rows).values == ("1",)
    with pytest.raises(MalformedFile) as caught:
        next(rows)
    assert caught.value.details == {"row": 2}


# --- XLSX -----------------------------------------------------------------------------------

def test_xlsx_values_become_text_and_rows_count_from_the_header():
    data = xlsx([], ["n", "when", "price", "ok", "note"],
                [1, datetime.datetime(2024, 1, 2), 19.99, True, "é"],
                [],
                [2, datetime.datetime(2024, 1, 2, 3, 4, 5), None, False, None],
                [3, None, 2.0, None, None, "beyond"])
    header, rows = read("xlsx", data)
    assert header == ["n", "when", "price", "ok", "note"]
    assert rows == [(1, ("1", "2024-01-02", "19.99", "1", "é"), None),
                    (3, ("2", "2024-01-02T03:04:05", None, "0", None), None),
                    (4, None, "Row has a value beyond the header's 5 columns")]


def test_xlsx_named_sheet():
    data = xlsx(["a"], [1], sheets={"second": [["b"], ["x"]]})
    assert read("xlsx", data, sheet="second") == (["b"], [(1, ("x",), None)])


def test_xlsx_missing_sheet_names_the_sheets():
    with pytest.raises(BadRequest) as caught:
        read("xlsx", xlsx(["a"], sheets={"second": []}), sheet="third")
    assert caught.value.message == ("No worksheet 'third' in the workbook; it has: 'first', "
                                    "'second'")
    assert caught.value.details == {"parameter": "sheet", "sheets": ["first", "second"]}


def test_xlsx_header_only_and_empty_sheet():
    assert read("xlsx", xlsx(["a", "b"])) == (["a", "b"], [])
    with pytest.raises(MalformedFile, match="The sheet is empty"):
        read("xlsx", xlsx())


def test_xlsx_header_with_a_hole_or_a_repeat_is_refused():
    with pytest.raises(MalformedFile, match="Column 2 of the header row is empty"):
        read("xlsx", xlsx(["a", None, "c"]))
    with pytest.raises(MalformedFile, match="appears twice"):
        read("xlsx", xlsx(["a", "a"]))


@pytest.mark.parametrize("data", [
    pytest.param(b"", id="empty"),
    pytest.param(b"name,email\nx,y\n", id="csv"),
    pytest.param(b"PK\x03\x04truncated", id="zip-magic-only"),
])
def test_not_a_zip_is_400(data):
    with pytest.raises(MalformedFile) as caught:
        read("xlsx", data)
    assert caught.value.message == "The file is not an XLSX workbook: it is not a zip archive"


def test_a_zip_that_is_no_workbook_is_400():
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("hello.txt", "hi")
    with pytest.raises(MalformedFile, match="not a readable XLSX workbook"):
        read("xlsx", buffer.getvalue())


def zip_of(size: int) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", '<?xml version="1.0"?><Types/>')
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            block = b"\0" * (1024 * 1024)
            for _ in range(size // len(block)):
                entry.write(block)
    buffer.seek(0)
    return buffer


def test_zip_bomb_is_refused_by_its_ratio_before_inflating():
    with pytest.raises(PayloadTooLarge, match="refused as a zip bomb"):
        xlsx_format.check_zip(zip_of(8 * 1024 * 1024), max_inflated=1024 ** 3)


def test_zip_over_the_inflated_limit_is_refused():
    with pytest.raises(PayloadTooLarge, match="over the limit of 1000"):
        xlsx_format.check_zip(io.BytesIO(xlsx(["a"], [1])), max_inflated=1000)


def test_a_zip_that_lies_about_its_sizes_is_refused_without_inflating_it():
    """Its header declares 1000 bytes where 8 MiB of zeros are: the declared checks pass, and
    the piecewise inflation stops at the declared size (zipfile then fails the CRC) instead of
    inflating 8 MiB, as reading the entry whole would."""
    size = 8 * 1024 * 1024
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * size)
    data = buffer.getvalue()
    assert data.count(struct.pack("<I", size)) == 2  # the local and the central header
    lying = io.BytesIO(data.replace(struct.pack("<I", size), struct.pack("<I", 1000)))
    tracemalloc.start()
    try:
        with pytest.raises(MalformedFile, match="does not inflate to the size"):
            xlsx_format.check_zip(lying, max_inflated=1024 ** 3)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 1024 * 1024
