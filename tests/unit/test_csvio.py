"""CSV reading, chunking and writing without a database (STYLE 12): each awkward file alone."""
from __future__ import annotations

import base64
import io

import pytest

from tablegate.formats import csv as csvio
from tablegate.formats.rows import Row, chunks


def read(data: bytes) -> tuple[list[str], list[Row]]:
    """Rows with their values as lists, to compare with list literals."""
    header, rows = csvio.read_csv_rows(io.BytesIO(data))
    return header, [r if r.values is None else r._replace(values=list(r.values)) for r in rows]


def values(data: bytes) -> list[list[str | None] | None]:
    return [row.values for row in read(data)[1]]


class OneByteAtATime(io.RawIOBase):
    """A stream that hands over one byte per read, as a slow upload might."""

    def __init__(self, data: bytes) -> None:
        self._data = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        chunk = self._data.read(1)
        buffer[:len(chunk)] = chunk
        return len(chunk)


def test_rows_are_numbered_from_one_after_the_header():
    header, rows = read(b"id,name\n1,Alice\n2,Bob\n")
    assert header == ["id", "name"]
    assert [(r.number, r.values, r.error) for r in rows] == [
        (1, ["1", "Alice"], None), (2, ["2", "Bob"], None)]


def test_byte_order_mark_is_dropped_from_the_first_column_name():
    header, rows = read(b"\xef\xbb\xbfid,name\r\n1,Alice\r\n")
    assert header == ["id", "name"]
    assert rows[0].values == ["1", "Alice"]


@pytest.mark.parametrize("newline", [b"\r\n", b"\n", b"\r"], ids=["crlf", "lf", "cr"])
def test_line_endings(newline):
    data = newline.join([b"a,b", b"1,2", b"3,4"]) + newline
    assert values(data) == [["1", "2"], ["3", "4"]]


def test_quoted_fields_keep_commas_newlines_and_quotes():
    data = b'a,b\r\n"x, y","line 1\r\nline 2"\r\n"say ""hi""",\xc3\xa9t\xc3\xa9\r\n'
    assert values(data) == [["x, y", "line 1\r\nline 2"], ['say "hi"', "\u00e9t\u00e9"]]


def test_row_numbers_count_records_not_lines():
    _, rows = read(b'a,b\n"multi\nline",1\nbad\n')
    assert [(r.number, r.error) for r in rows] == [
        (1, None), (2, "Row has 1 fields, the header has 2")]


def test_semicolons_are_data_not_delimiters():
    header, rows = read(b"a;b,c\n1;2,3\n")
    assert header == ["a;b", "c"]
    assert rows[0].values == ["1;2", "3"]


def test_unquoted_empty_is_null_quoted_empty_is_empty_string():
    assert values(b'a,b,c,d\n,"",x,\n"","",,""\n') == [
        [None, "", "x", None], ["", "", None, ""]]


def test_escaped_quotes_next_to_empty_fields_are_not_taken_for_quoted_empties():
    assert values(b'a,b,c\n"""",,"x""y"\n') == [['"', None, 'x"y']]


@pytest.mark.parametrize("record, quoted", [
    pytest.param('a,b,c\r\n', set(), id="none"),
    pytest.param('"",b,""\r\n', {0, 2}, id="first-and-last"),
    pytest.param('"a,b",,""\r\n', {0, 2}, id="comma-inside-quotes"),
    pytest.param('x"y,""\r\n', {1}, id="quote-inside-unquoted-field"),
    pytest.param('"a""b",""\r\n', {0, 1}, id="escaped-quote"),
    pytest.param('"a"b,""\r\n', {0, 1}, id="text-after-closing-quote"),
])
def test_quoted_fields(record, quoted):
    assert csvio._quoted_fields(record) == quoted


def test_blank_lines_are_not_records():
    _, rows = read(b"a,b\n\n1,2\n\n\n3,4\n\n")
    assert [(r.number, r.values) for r in rows] == [(1, ["1", "2"]), (2, ["3", "4"])]


def test_a_blank_line_in_a_one_column_file_is_null():
    """The mirror of the export, which writes NULL in a one-column table as an empty line."""
    assert values(b'a\nx\n\n""\n') == [["x"], [None], [""]]


def test_ragged_rows_are_row_errors_and_reading_goes_on():
    _, rows = read(b"a,b,c\n1,2\n1,2,3,4\n1,2,3\n")
    assert [(r.number, r.values, r.error) for r in rows] == [
        (1, None, "Row has 2 fields, the header has 3"),
        (2, None, "Row has 4 fields, the header has 3"),
        (3, ["1", "2", "3"], None),
    ]


def test_header_only_file_has_no_rows():
    header, rows = read(b"id,name\r\n")
    assert header == ["id", "name"] and rows == []


@pytest.mark.parametrize("data", [b"", b"\n\n", b"\xef\xbb\xbf"], ids=["empty", "blank", "bom"])
def test_empty_file_is_refused(data):
    with pytest.raises(csvio.MalformedFile, match="empty"):
        read(data)


def test_duplicate_header_names_are_refused():
    with pytest.raises(csvio.MalformedFile, match="appears twice") as caught:
        read(b"id,name,id\n1,a,2\n")
    assert caught.value.details == {"column": "id"}


def test_bytes_that_are_not_utf8_are_blamed_on_their_own_row():
    # The bad byte sits in the same 8 KiB decoding block as many good rows around it.
    good = b"".join(b"%d,fine\n" % n for n in range(1, 100))
    _, rows = read(b"a,b\n" + good + b"100,caf\xe9\n" + good)
    bad = [r for r in rows if r.error]
    assert [(r.number, r.error) for r in bad] == [(100, "Row is not valid UTF-8")]
    assert len(rows) == 199 and rows[-1].values == ["99", "fine"]


def test_a_header_that_is_not_utf8_is_refused():
    with pytest.raises(csvio.MalformedFile, match="not valid UTF-8"):
        read(b"caf\xe9,b\n1,2\n")


def test_multibyte_characters_split_across_reads_decode():
    data = "name\n\u00e9t\u00e9 \U0001F600\n".encode()
    header, rows = csvio.read_csv_rows(io.BufferedReader(OneByteAtATime(data)))
    assert [r.values for r in rows] == [("\u00e9t\u00e9 \U0001F600",)]


def test_huge_fields_up_to_the_limit_are_read():
    big = "x" * (1024 * 1024)
    assert values(f"a,b\n{big},1\n".encode()) == [[big, "1"]]


def test_a_field_over_the_limit_stops_reading_naming_the_row(monkeypatch):
    monkeypatch.setattr(csvio, "FIELD_SIZE_LIMIT", 1000)
    monkeypatch.setattr(csvio, "_limit_raised", False)
    try:
        _, rows = csvio.read_csv_rows(io.BytesIO(b'a\nok\n"' + b"y" * 2000 + b'"\n'))
        assert next(rows).values == ("ok",)
        with pytest.raises(csvio.MalformedFile, match="Row 2") as caught:
            next(rows)
        assert caught.value.details == {"row": 2}
    finally:
        monkeypatch.undo()
        csvio._limit_raised = False
        csvio.maximize_csv_field_size_limit()


def test_the_upload_is_read_as_it_is_consumed():
    stream = io.BytesIO(b"a\n" + b"".join(b"%d\n" % n for n in range(200_000)))
    _, rows = csvio.read_csv_rows(stream)
    next(rows)
    assert stream.tell() < 64 * 1024


def row(number: int, size: int = 1) -> Row:
    return Row(number, ["v"], size)


def test_chunks_of_a_fixed_number_of_rows():
    groups = list(chunks((row(n) for n in range(1, 8)), 3, 10**9))
    assert [[r.number for r in g] for g in groups] == [[1, 2, 3], [4, 5, 6], [7]]


def test_chunks_are_cut_by_size_of_text_too():
    groups = list(chunks([row(1, 400), row(2, 700), row(3, 10), row(4, 10)], 100, 1000))
    assert [[r.number for r in g] for g in groups] == [[1, 2], [3, 4]]


def test_no_rows_no_chunks():
    assert list(chunks(iter([]), 3, 100)) == []


def encode(rows, names=("a", "b"), converters=None) -> bytes:
    encoder = csvio.CsvEncoder(converters or [None] * len(names))
    return encoder.header(names) + encoder.encode(rows)


def test_export_quotes_as_rfc4180_with_crlf():
    assert encode([("1", 'say "hi", ok'), ("2", "two\nlines")]) == (
        b'a,b\r\n1,"say ""hi"", ok"\r\n2,"two\nlines"\r\n')


def test_export_writes_null_empty_and_empty_string_quoted():
    assert encode([(None, ""), ("", None)]) == b'a,b\r\n,""\r\n"",\r\n'


def test_export_of_one_column_writes_null_as_an_empty_line():
    assert encode([(None,), ("",), ("x",)], names=("a",)) == b'a\r\n\r\n""\r\nx\r\n'
    assert encode([("x",), (None,)], names=("a",)) == b"a\r\nx\r\n\r\n"


def test_export_applies_converters_to_values_not_nulls():
    b64 = lambda v: base64.b64encode(v).decode()  # noqa: E731
    assert encode([(b"\x00\xff", "x"), (None, "y")], converters=[b64, None]) == (
        b"a,b\r\nAP8=,x\r\n,y\r\n")


@pytest.mark.parametrize("cells", [
    pytest.param(["plain", "with, comma"], id="comma"),
    pytest.param(['"quoted"', 'in "the" middle'], id="quotes"),
    pytest.param(["line\nbreak", "cr\r\nlf"], id="newlines"),
    pytest.param(["\u00e9t\u00e9", "\U0001F600 \u4e2d\u6587"], id="unicode"),
    pytest.param([None, ""], id="null-and-empty"),
    pytest.param(["", None], id="empty-and-null"),
    pytest.param(["  spaced  ", "tab\there"], id="whitespace"),
])
def test_export_reads_back_unchanged(cells):
    _, rows = read(encode([cells]))
    assert rows[0].values == cells


@pytest.mark.parametrize("data, expected", [
    pytest.param(b"a,b\n\\N,x\n", [[None, "x"]], id="marker-unquoted"),
    pytest.param(b'a,b\n"\\N",\\N\n', [["\\N", None]], id="quoted-marker-is-text"),
    pytest.param(b"a,b\n,\\N\n", [["", None]], id="empty-cell-is-text-then"),
    pytest.param(b'a,b\n"",""\n', [["", ""]], id="quoted-empty"),
    pytest.param(b"a,b\n\\Nx,x\\N\n", [["\\Nx", "x\\N"]], id="marker-inside-is-text"),
    pytest.param('a,b\n\\N,é\n'.encode(), [[None, "é"]], id="non-ascii-record"),
    pytest.param(b'a,b\n"x\ny",\\N\n', [["x\ny", None]], id="multi-line-record"),
    pytest.param(b"a\n\\N\n\n", [[None], [""]], id="one-column-blank-line"),
])
def test_null_marker(data, expected):
    """Issue 14 item 5: ``?null=\\N``: exactly the unquoted cells holding the marker are NULL."""
    header, rows = csvio.read_csv_rows(io.BytesIO(data), null="\\N")
    assert [list(r.values) for r in rows] == expected


def test_without_a_marker_rows_are_read_as_before():
    data = b'a,b\n\\N,\n"",x\n'
    assert values(data) == [["\\N", None], ["", "x"]]
