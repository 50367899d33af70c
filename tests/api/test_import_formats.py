"""POST /api/batch/import with JSON, NDJSON and XLSX files made here, against the real MariaDB
(issue #7): the same rows, per-row errors, modes and statuses as CSV, and every bad file."""
from __future__ import annotations

import datetime
import decimal
import io
import json
import zipfile

import pytest

from tests.api.test_import import table, users  # noqa: F401 - fixtures
from tests.conftest import assert_envelope_error, assert_envelope_success, xlsx

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def send(client, data: bytes, filename: str, query: str = "", content_type: str | None = None):
    file = (io.BytesIO(data), filename) if content_type is None else (
        io.BytesIO(data), filename, content_type)
    return client.post(f"/api/batch/import{query}", data={"file": file},
                       content_type="multipart/form-data")


def as_json(*objects) -> bytes:
    return json.dumps(list(objects)).encode()


def as_ndjson(*objects) -> bytes:
    return "".join(json.dumps(o) + "\n" for o in objects).encode()



ALICE = {"name": "Alice", "email": "alice@example.com", "age": 30}
BOB = {"name": "Bob", "email": "bob@example.com", "age": 25}
LANDED = [(1, "Alice", "alice@example.com", 30), (2, "Bob", "bob@example.com", 25)]


# --- each format lands ----------------------------------------------------------------------

@pytest.mark.parametrize("filename, data, message", [
    pytest.param("users.json", as_json(ALICE, BOB), "JSON imported", id="json"),
    pytest.param("users.ndjson", as_ndjson(ALICE, BOB), "NDJSON imported", id="ndjson"),
    pytest.param("users.jsonl", as_ndjson(ALICE, BOB), "NDJSON imported", id="jsonl"),
    pytest.param("users.xlsx", xlsx(["name", "email", "age"], ["Alice", "alice@example.com", 30],
                                    ["Bob", "bob@example.com", 25]), "XLSX imported", id="xlsx"),
])
def test_each_format_imports(client, sql, filename, data, message):
    body = assert_envelope_success(send(client, data, filename))
    assert body["message"] == message
    assert body["data"] == {"table": "users", "rows_total": 2, "rows_inserted": 2,
                            "rows_skipped": 0, "rows_failed": 0, "errors": []}
    assert users(sql) == LANDED


def test_json_values_become_what_the_columns_hold(client, sql):
    data = as_json(
        {"price": 12.5, "born": "2024-01-02", "seen_at": "2024-01-02T03:04:05.5",
         "doc": {"k": [1, "é"]}, "flag": True, "label": None, "notes": "x"},
        {"price": 7, "flag": False, "label": "y"},  # the missing keys: their DEFAULT (NULL)
        {"price": None, "flag": None, "notes": None, "label": "z"})
    assert_envelope_success(send(client, data, "kinds.json"))
    assert sql("SELECT price, born, seen_at, doc, flag, label, notes FROM kinds ORDER BY id") == (
        (12.5, datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5, 500000),
         '{"k": [1, "é"]}', 1, "x", "x"),
        (7, None, None, None, 0, "y", None),
        (None, None, None, None, None, "z", None))


def test_missing_key_is_the_column_default_even_where_null_is_allowed(client, sql, table):
    table("defaults", "id INT PRIMARY KEY, v VARCHAR(5) NULL DEFAULT 'dflt'")
    assert_envelope_success(send(client, as_json({"id": 1, "v": None}, {"id": 2}),
                                 "defaults.json"))
    assert sql("SELECT id, v FROM defaults ORDER BY id") == ((1, None), (2, "dflt"))


def test_json_row_errors_and_good_rows(client, sql):
    data = as_json(ALICE, 5, {"name": "C", "email": "c@x.io", "age": "old"},
                   {"name": "D", "nickname": "d"}, [1], BOB,
                   {"name": "E", "email": "alice@example.com"})
    body = assert_envelope_success(send(client, data, "users.json"), 207)
    assert body["message"] == "JSON partly imported: 5 rows failed"
    assert body["data"]["errors"] == [
        {"row": 2, "error_code": "400", "message": "Row is not a JSON object but a number"},
        {"row": 3, "error_code": "1366",
         "message": "Value rejected by the database: Incorrect integer value: 'old' for column "
                    "`users`.`age`"},
        {"row": 4, "error_code": "400",
         "message": "Key 'nickname' is not in the header (the first object's keys)"},
        {"row": 5, "error_code": "400", "message": "Row is not a JSON object but an array"},
        {"row": 7, "error_code": "1062", "message": "Conflict with existing data: Duplicate "
                                                    "entry 'alice@example.com' for key 'email'"}]
    assert [row[1:] for row in users(sql)] == [row[1:] for row in LANDED]


def test_every_json_row_failing_is_422(client, sql):
    body = assert_envelope_error(send(client, as_json({"age": "x"}, {"age": "y"}), "users.json"),
                                 422)
    assert body["message"] == "Nothing imported: every row failed"
    assert users(sql) == []


def test_atomic_json_with_a_bad_row_writes_nothing(client, sql):
    body = assert_envelope_error(
        send(client, as_json(ALICE, {"age": "x"}, BOB), "users.json", "?atomic=true"), 422)
    assert [e["row"] for e in body["details"]["errors"]] == [2]
    assert users(sql) == []


def test_modes_apply_to_every_format(client, sql):
    sql("INSERT INTO users (id, name, email, age) VALUES (1, 'Old', 'alice@example.com', 1)")
    data = as_ndjson({"id": 1, "name": "Renamed", "email": "alice@example.com", "age": 2},
                     {"id": 2, **BOB})
    body = assert_envelope_success(send(client, data, "users.ndjson", "?mode=upsert"))
    assert body["data"]["rows_inserted"] == 2
    assert users(sql) == [(1, "Renamed", "alice@example.com", 2), LANDED[1]]
    again = data + b"\n"  # another file: the import ledger refuses the same bytes twice
    body = assert_envelope_success(send(client, again, "users.ndjson", "?mode=ignore"))
    assert (body["data"]["rows_inserted"], body["data"]["rows_skipped"]) == (0, 2)


def test_hostile_keys_are_unknown_columns_and_nothing_is_written(client, sql):
    for key in ("name`; DROP TABLE users; --", "name'", "", "\u540d\u524d"):
        body = assert_envelope_error(send(client, as_json({key: "x"}), "users.json"), 400)
        assert body["details"] == {"column": key}
    assert users(sql) == []


def test_unicode_and_sql_looking_values_are_data(client, sql):
    evil = "Ro'b\\\"; DROP TABLE users; -- \u4e2d\U0001F600"
    assert_envelope_success(send(client, as_ndjson({"name": evil, "email": "\u00e9@x.io"}),
                                 "users.ndjson"))
    assert sql("SELECT name, email FROM users") == ((evil, "\u00e9@x.io"),)


# --- bad JSON -------------------------------------------------------------------------------

def test_truncated_json_keeps_the_finished_chunks_and_says_how_far_it_got(make_client, sql):
    client = make_client(import_chunk_rows=2)
    rows = [{"name": f"u{n}", "email": f"u{n}@x.io", "age": n} for n in range(1, 6)]
    data = as_json(*rows)[:-30]  # breaks off inside the fifth object
    body = assert_envelope_error(send(client, data, "users.json"), 400)
    assert body["message"] == ("Row 5 cannot be read, nor anything after it: "
                               "parse error: premature EOF")
    assert body["details"]["row"] == 5
    assert body["details"]["completed"] is False
    assert body["details"]["rows_inserted"] == 4
    assert [name for _, name, _, _ in users(sql)] == ["u1", "u2", "u3", "u4"]


def test_truncated_atomic_json_writes_nothing(make_client, sql):
    client = make_client(import_chunk_rows=2)
    data = as_json(*[{"name": f"u{n}"} for n in range(1, 6)])[:-5]
    body = assert_envelope_error(send(client, data, "users.json", "?atomic=true"), 400)
    assert body["details"]["completed"] is False and body["details"]["rows_inserted"] == 0
    assert users(sql) == []


@pytest.mark.parametrize("data, message", [
    pytest.param(b"", "The file is empty: it must hold an array of objects", id="empty"),
    pytest.param(b'{"name": "x"}', "The JSON must be an array of objects; its top level is an "
                                   "object", id="top-level-object"),
    pytest.param(b'["x", "y"]', "The first element of the array is a string: it must be an "
                                "object whose keys name the columns", id="array-of-strings"),
    pytest.param(b"[{\"name\": 'x'}]", "Row 1 cannot be read, nor anything after it: "
                                       "lexical error: invalid char in json text.", id="not-json"),
])
def test_bad_json_is_400_and_writes_nothing(client, sql, data, message):
    body = assert_envelope_error(send(client, data, "users.json"), 400)
    assert body["message"] == message
    assert users(sql) == []


def test_empty_array_imports_nothing(client, sql):
    body = assert_envelope_success(send(client, b"[]", "users.json"))
    assert body["data"]["rows_total"] == 0
    assert users(sql) == []


# --- NDJSON ---------------------------------------------------------------------------------

def test_ndjson_broken_line_is_a_row_error_and_the_others_land(client, sql):
    data = ("\ufeff" + json.dumps(ALICE) + "\r\n\n"
            '{"name": "broken", \n'
            + json.dumps(BOB) + "\n").encode()
    body = assert_envelope_success(send(client, data, "users.ndjson"), 207)
    assert body["message"] == "NDJSON partly imported: 1 rows failed"
    assert body["data"]["rows_total"] == 3
    assert body["data"]["errors"] == [
        {"row": 3, "error_code": "400",
         "message": "Line 3 is not valid JSON: Expecting property name enclosed in double "
                    "quotes"}]
    assert users(sql) == LANDED


def test_empty_ndjson_is_400(client):
    body = assert_envelope_error(send(client, b"\n", "users.ndjson"), 400)
    assert body["message"] == "The file is empty: each line must hold a JSON object"


# --- XLSX -----------------------------------------------------------------------------------

def test_xlsx_named_sheet_and_row_numbers_below_the_header(client, sql):
    data = xlsx(["ignored"], sheets={"People": [
        [], ["name", "email", "age"], ["Alice", "alice@example.com", 30], [],
        ["Bob", "bob@example.com", "old"], ["Carol", "carol@example.com", 41.0]]})
    body = assert_envelope_success(send(client, data, "users.xlsx", "?sheet=People"), 207)
    assert body["message"] == "XLSX partly imported: 1 rows failed"
    assert [(e["row"], e["error_code"]) for e in body["data"]["errors"]] == [(3, "1366")]
    assert [(name, age) for _, name, _, age in users(sql)] == [("Alice", 30), ("Carol", 41)]


def test_xlsx_dates_and_booleans(client, sql):
    data = xlsx(["born", "seen_at", "flag", "price"],
                [datetime.datetime(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5), True,
                 19.99],
                [datetime.date(1999, 12, 31), None, False, 3])
    assert_envelope_success(send(client, data, "kinds.xlsx"))
    assert sql("SELECT born, seen_at, flag, price FROM kinds ORDER BY id") == (
        (datetime.date(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4, 5), 1,
         decimal.Decimal("19.99")),
        (datetime.date(1999, 12, 31), None, 0, 3))


def test_xlsx_column_of_mixed_types(client, sql, table):
    """Numbers, numeric text, words and dates in one column: what the INT column takes lands,
    the rest are row errors; into a VARCHAR column every value lands as its text."""
    table("mixed", "id INT AUTO_INCREMENT PRIMARY KEY, n INT NULL, s VARCHAR(20) NULL")
    data = xlsx(["n", "s"], [1, 1], ["2", "two"], ["three", 3.5], [4.0, True],
                [datetime.datetime(2024, 1, 2), datetime.datetime(2024, 1, 2, 3, 4)])
    body = assert_envelope_success(send(client, data, "mixed.xlsx"), 207)
    assert [(e["row"], e["error_code"]) for e in body["data"]["errors"]] == [
        (3, "1366"), (5, "1265")]
    assert sql("SELECT n, s FROM mixed ORDER BY id") == (
        (1, "1"), (2, "two"), (4, "1"))


def test_xlsx_header_only_imports_nothing(client, sql):
    body = assert_envelope_success(send(client, xlsx(["name", "email"]), "users.xlsx"))
    assert body["data"]["rows_total"] == 0
    assert users(sql) == []


def test_xlsx_missing_sheet_names_the_sheets(client, sql):
    body = assert_envelope_error(send(client, xlsx(["name"], ["x"], sheets={"Other": []}),
                                      "users.xlsx", "?sheet=Nope"), 400)
    assert body["message"] == "No worksheet 'Nope' in the workbook; it has: 'first', 'Other'"
    assert body["details"] == {"parameter": "sheet", "sheets": ["first", "Other"]}
    assert users(sql) == []


@pytest.mark.parametrize("data", [
    pytest.param(b"name,email\nx,y\n", id="csv-named-xlsx"),
    pytest.param(b"", id="empty"),
])
def test_xlsx_that_is_not_a_zip_is_400(client, sql, data):
    body = assert_envelope_error(send(client, data, "users.xlsx"), 400)
    assert body["message"] == "The file is not an XLSX workbook: it is not a zip archive"
    assert users(sql) == []


@pytest.fixture(scope="module")
def zip_bomb() -> bytes:
    """300 MiB of zeros as the first sheet, about 300 KiB compressed, in a zip that otherwise
    looks like a workbook."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml",
                         '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.'
                         'openxmlformats.org/package/2006/content-types"><Override PartName='
                         '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxml'
                         'formats-officedocument.spreadsheetml.worksheet+xml"/></Types>')
        archive.writestr("xl/workbook.xml", "<workbook/>")
        with archive.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as entry:
            block = b"\0" * (1024 * 1024)
            for _ in range(300):
                entry.write(block)
    return buffer.getvalue()


def test_zip_bomb_is_refused_before_inflating(client, sql, zip_bomb):
    assert len(zip_bomb) < 1024 * 1024
    body = assert_envelope_error(send(client, zip_bomb, "users.xlsx"), 413)
    assert body["message"] == ("A part of the workbook is compressed over 200:1, which no "
                               "spreadsheet is: refused as a zip bomb")
    assert users(sql) == []


def test_zip_bomb_over_the_inflated_limit(make_client, sql, zip_bomb):
    client = make_client(import_max_inflated_bytes=100 * 1024 * 1024)
    body = assert_envelope_error(send(client, zip_bomb, "users.xlsx"), 413)
    assert "over the limit of 104857600 (TABLEGATE_IMPORT_MAX_INFLATED_BYTES)" in body["message"]


# --- choosing the format --------------------------------------------------------------------

def test_format_by_content_type_without_an_extension(client, sql):
    assert_envelope_success(send(client, as_json(ALICE), "users", content_type="application/json"))
    assert len(users(sql)) == 1


def test_format_parameter_overrides_name_and_type(client, sql):
    body = assert_envelope_success(send(client, as_ndjson(ALICE), "users.txt", "?format=ndjson",
                                        content_type="text/csv"))
    assert body["message"] == "NDJSON imported"
    assert len(users(sql)) == 1


def test_name_and_content_type_contradicting_is_415(client, sql):
    body = assert_envelope_error(send(client, as_json(ALICE), "users.csv",
                                      content_type="application/json"), 415)
    assert body["message"] == ("The file name says CSV but its content type says JSON: name "
                               "the format with ?format=")
    assert users(sql) == []


def test_unknown_format_is_400(client):
    body = assert_envelope_error(send(client, as_json(ALICE), "users.json", "?format=yaml"), 400)
    assert body["details"] == {"parameter": "format"}


def test_sheet_is_for_xlsx_only(client):
    body = assert_envelope_error(send(client, as_json(ALICE), "users.json", "?sheet=x"), 400)
    assert body["details"] == {"parameter": "sheet"}


def test_csv_keeps_its_messages(client, sql):
    body = assert_envelope_success(send(client, b"name\nx\n", "users.csv", "?format=csv"))
    assert body["message"] == "CSV imported"
