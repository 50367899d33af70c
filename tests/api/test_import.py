"""POST /api/batch/import against the real MariaDB (CONTRACT.md "Batch"): what lands, what is
reported for every bad row, the statuses, the modes, and every way an upload can be refused."""
from __future__ import annotations

import csv
import io
from urllib.parse import urlencode

import pytest

from tablegate.batch import loader
from tests.conftest import assert_envelope_error, assert_envelope_success, xlsx

USERS_CSV = "name,email,age\r\nAlice,alice@example.com,30\r\nBob,bob@example.com,25\r\n"


def upload(client, data: bytes | str, filename: str = "users.csv", query: str = ""):
    if isinstance(data, str):
        data = data.encode()
    return client.post(f"/api/batch/import{query}",
                       data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def users(sql) -> list[tuple]:
    return list(sql("SELECT id, name, email, age FROM users ORDER BY id"))


@pytest.fixture
def table(sql):
    """Create a table for one test, dropped afterwards; returns its name."""
    made = []

    def create(name: str, ddl: str) -> str:
        quoted = "`" + name.replace("`", "``") + "`"
        sql(f"DROP TABLE IF EXISTS {quoted}")
        sql(f"CREATE TABLE {quoted} ({ddl}) ENGINE=InnoDB")
        made.append(quoted)
        return name

    yield create
    for quoted in made:
        sql(f"DROP TABLE IF EXISTS {quoted}")


# --- what lands -----------------------------------------------------------------------------

def test_import_inserts_every_row(client, sql):
    body = assert_envelope_success(upload(client, USERS_CSV))
    assert body["message"] == "CSV imported"
    assert body["retry_count"] == 0
    assert body["data"] == {"table": "users", "rows_total": 2, "rows_inserted": 2,
                            "rows_skipped": 0, "rows_failed": 0, "errors": []}
    assert users(sql) == [(1, "Alice", "alice@example.com", 30), (2, "Bob", "bob@example.com", 25)]


def test_batch_import_is_not_an_insert_into_a_table_named_batch(client, sql, table):
    """`/api/batch/import` must reach the import even though `/api/<table>` (crud) exists and a
    table called `batch` does too."""
    table("batch", "id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20)")
    assert_envelope_success(upload(client, USERS_CSV))
    assert len(users(sql)) == 2
    assert sql("SELECT COUNT(*) FROM batch") == ((0,),)
    # ...while /api/batch itself is still the crud insert into that table.
    assert_envelope_success(client.post("/api/batch", json={"input": {"name": "x"}}), 201)
    assert sql("SELECT name FROM batch") == (("x",),)


def test_table_is_named_by_query_before_file_name(client, sql):
    body = assert_envelope_success(upload(client, USERS_CSV, "export-2024.csv", "?table=users"))
    assert body["data"]["table"] == "users"
    assert len(users(sql)) == 2


def test_only_the_last_extension_is_dropped_from_the_file_name(client, sql, table):
    table("my.data", "id INT PRIMARY KEY")
    body = assert_envelope_success(upload(client, "id\n1\n", "my.data.csv"))
    assert body["data"]["table"] == "my.data"
    assert sql("SELECT id FROM `my.data`") == ((1,),)


def test_many_chunks(make_client, sql):
    client = make_client(import_chunk_rows=100)
    lines = ["name,email,age"] + [f"u{n},u{n}@x.io,{n % 90}" for n in range(1, 1051)]
    body = assert_envelope_success(upload(client, "\n".join(lines)))
    assert body["data"]["rows_inserted"] == 1050
    assert sql("SELECT COUNT(*), COUNT(DISTINCT email), MIN(id), MAX(id) FROM users") == (
        (1050, 1050, 1, 1050),)


def test_quoting_byte_order_mark_and_crlf(client, sql):
    data = ('\ufeffname,email,age\r\n"Smith, Jane","j@x.io",40\r\n'
            '"two\r\nlines ""quoted""",t@x.io,\r\n').encode()
    assert_envelope_success(upload(client, data))
    assert users(sql) == [(1, "Smith, Jane", "j@x.io", 40),
                          (2, 'two\r\nlines "quoted"', "t@x.io", None)]


def test_unicode_and_sql_looking_values_are_data(client, sql):
    data = "name,email,age\n\"Ro'b\\\\\"\"; DROP TABLE users; --\",\u00e9@\u4e2d.cn,1\n"
    assert_envelope_success(upload(client, data))
    assert users(sql) == [(1, "Ro'b\\\\\"; DROP TABLE users; --", "\u00e9@\u4e2d.cn", 1)]


def test_header_only_file_imports_nothing(client, sql):
    body = assert_envelope_success(upload(client, "name,email,age\r\n"))
    assert body["data"]["rows_total"] == 0
    assert users(sql) == []


# --- empty cells ----------------------------------------------------------------------------

def test_empty_cells(client, sql):
    """Unquoted empty: NULL where allowed, the column default in a NOT NULL column; quoted
    empty: the empty string."""
    data = 'label,notes,price\n,,\n"","",\nabc,x,1.5\n'
    assert_envelope_success(upload(client, data, "kinds.csv"))
    assert sql("SELECT label, notes, price FROM kinds ORDER BY id") == (
        ("x", None, None), ("", "", None), ("abc", "x", 1.5))


@pytest.mark.parametrize("marker", ["\\N", "NA", "NULL"])
def test_null_marker_names_the_cell_text_that_means_null(client, sql, marker):
    """Issue 14 item 5: ``\\N`` (mysqldump --tab, INTO OUTFILE) was stored as two characters.
    With ``?null=``, an unquoted marker is NULL (the DEFAULT in a NOT NULL column), a quoted one
    and an empty cell are text, as with COPY's NULL option."""
    data = (f'label,notes,price\n{marker},{marker},{marker}\n"{marker}",,1.5\n'
            f'abc,x{marker},2\n')
    query = "?" + urlencode({"null": marker})
    assert_envelope_success(upload(client, data, "kinds.csv", query))
    assert sql("SELECT label, notes, price FROM kinds ORDER BY id") == (
        ("x", None, None), (marker, "", 1.5), ("abc", f"x{marker}", 2))


def test_empty_null_marker_is_the_default(client, sql):
    assert_envelope_success(upload(client, 'label,notes\n,\n"",\\N\n', "kinds.csv", "?null="))
    assert sql("SELECT label, notes FROM kinds ORDER BY id") == (("x", None), ("", "\\N"))


def test_null_marker_with_create_infers_the_column_from_the_other_cells(client, sql, table):
    table("made", "x INT")  # dropped afterwards; replaced by the import's own
    sql("DROP TABLE made")
    body = assert_envelope_success(upload(client, "n,s\n1,a\nNA,NA\n3,c\n", "made.csv",
                                          "?create=true&null=NA"))
    assert body["data"]["rows_inserted"] == 3
    assert sql("SELECT n, s FROM made ORDER BY id") == ((1, "a"), (None, None), (3, "c"))
    assert sql("SELECT DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS WHERE TABLE_SCHEMA = DATABASE()"
               " AND TABLE_NAME = 'made' AND COLUMN_NAME = 'n'")[0][0] in ("int", "bigint")


def test_null_marker_applies_to_xlsx_text_cells(client, sql):
    data = xlsx(["label", "notes", "price"], ["NA", "NA", 1.5], ["a", "NAB", "NA"])
    assert_envelope_success(upload(client, data, "kinds.xlsx", "?null=NA"))
    assert sql("SELECT label, notes, price FROM kinds ORDER BY id") == (
        ("x", None, 1.5), ("a", "NAB", None))


@pytest.mark.parametrize("filename, data", [("kinds.json", b'[{"notes": "NA"}]'),
                                            ("kinds.ndjson", b'{"notes": "NA"}\n')])
def test_null_marker_is_refused_for_json_which_has_null(client, sql, filename, data):
    body = assert_envelope_error(upload(client, data, filename, "?null=NA"), 400)
    assert body["details"] == {"parameter": "null"}
    assert sql("SELECT COUNT(*) FROM kinds") == ((0,),)


def test_empty_cell_in_a_not_null_column_without_default_is_a_row_error(client, sql, table):
    table("strict", "id INT PRIMARY KEY, v VARCHAR(5) NOT NULL")
    response = upload(client, 'id,v\n1,a\n2,\n3,""\n', "strict.csv")
    body = assert_envelope_success(response, 207)
    assert body["data"]["errors"] == [{"row": 2, "error_code": "1364",
                                       "message": "Value rejected by the database: "
                                                  "Field 'v' doesn't have a default value"}]
    assert sql("SELECT id, v FROM strict ORDER BY id") == ((1, "a"), (3, ""))


def test_empty_auto_increment_cells_take_new_ids(client, sql):
    assert_envelope_success(upload(client, "id,name\n,a\n7,b\n,c\n"))
    assert sql("SELECT id, name FROM users ORDER BY id") == ((1, "a"), (7, "b"), (8, "c"))


def test_binary_columns_take_base64(client, sql):
    response = upload(client, "label,blob_data\na,AAH/\nb,not base64!\nc,\n", "kinds.csv")
    body = assert_envelope_success(response, 207)
    assert body["data"]["errors"] == [
        {"row": 2, "error_code": "422", "message": "Column 'blob_data' takes base64 text"}]
    assert sql("SELECT label, blob_data FROM kinds ORDER BY id") == (("a", b"\x00\x01\xff"),
                                                                    ("c", None))


# --- per-row errors -------------------------------------------------------------------------

def test_every_bad_row_is_reported_and_every_good_row_lands(client, sql):
    sql("INSERT INTO users (name, email) VALUES ('Old', 'old@x.io')")
    data = ("name,email,age\n"
            "ok1,ok1@x.io,1\n"
            "dup-db,old@x.io,2\n"          # row 2: duplicate of a row already there
            "ok3,ok3@x.io,3\n"
            "badint,b@x.io,abc\n"          # row 4: not an integer
            "ragged,r@x.io\n"              # row 5: too few fields
            f"{'n' * 101},long@x.io,6\n"    # row 6: too long for VARCHAR(100)
            "dup-file,ok1@x.io,7\n"        # row 7: duplicate of row 1
            "ok8,ok8@x.io,8\n")
    body = assert_envelope_success(upload(client, data), 207)
    assert body["message"] == "CSV partly imported: 5 rows failed"
    data = body["data"]
    assert (data["rows_total"], data["rows_inserted"], data["rows_failed"]) == (8, 3, 5)
    assert [(e["row"], e["error_code"]) for e in data["errors"]] == [
        (2, "1062"), (4, "1366"), (5, "400"), (6, "1406"), (7, "1062")]
    assert data["errors"][0]["message"] == (
        "Conflict with existing data: Duplicate entry 'old@x.io' for key 'email'")
    assert data["errors"][2]["message"] == "Row has 2 fields, the header has 3"
    assert "at row" not in data["errors"][1]["message"]
    assert [name for _, name, _, _ in users(sql)] == ["Old", "ok1", "ok3", "ok8"]


@pytest.mark.parametrize("bad_rows", [{1}, {7}, {50}, {1, 2, 3}, {13, 14, 26, 27, 40}],
                         ids=["first", "chunk-end", "last", "run", "scattered"])
def test_bad_rows_are_found_in_any_position_across_chunks(make_client, sql, bad_rows):
    client = make_client(import_chunk_rows=7)
    lines = ["name,email,age"] + [
        f"u{n},u{n}@x.io,{'bad' if n in bad_rows else n}" for n in range(1, 51)]
    body = assert_envelope_success(upload(client, "\n".join(lines)), 207)
    assert [e["row"] for e in body["data"]["errors"]] == sorted(bad_rows)
    assert body["data"]["rows_inserted"] == 50 - len(bad_rows)
    landed = [age for _, _, _, age in users(sql)]
    assert landed == [n for n in range(1, 51) if n not in bad_rows]


def test_error_list_is_capped_but_counts_are_exact(make_client, sql):
    client = make_client(import_max_errors=5, import_chunk_rows=10)
    lines = ["name,email,age"] + [f"u{n},u{n}@x.io,{'x' if n % 2 else n}" for n in range(1, 41)]
    data = assert_envelope_success(upload(client, "\n".join(lines)), 207)["data"]
    assert (data["rows_total"], data["rows_inserted"], data["rows_failed"]) == (40, 20, 20)
    assert [e["row"] for e in data["errors"]] == [1, 3, 5, 7, 9]


def test_every_row_failing_is_422_with_the_report(client, sql):
    data = "name,email,age\na,a@x.io,x\nb,b@x.io,y\n"
    body = assert_envelope_error(upload(client, data), 422)
    assert body["message"] == "Nothing imported: every row failed"
    assert body["details"]["rows_failed"] == 2
    assert body["details"]["rows_inserted"] == 0
    assert [e["row"] for e in body["details"]["errors"]] == [1, 2]
    assert users(sql) == []


def test_bytes_that_are_not_utf8_fail_their_row_only(client, sql):
    data = b"name,email,age\nok,ok@x.io,1\ncaf\xe9,c@x.io,2\nok2,ok2@x.io,3\n"
    body = assert_envelope_success(upload(client, data), 207)
    assert body["data"]["errors"] == [
        {"row": 2, "error_code": "400", "message": "Row is not valid UTF-8"}]
    assert [name for _, name, _, _ in users(sql)] == ["ok", "ok2"]


def test_a_row_too_large_for_one_statement_is_a_row_error(client, sql, monkeypatch):
    """Not sent at all: a packet over max_allowed_packet makes the server drop the connection,
    which would look like an outage and be retried."""
    monkeypatch.setattr(loader, "_max_packet", lambda session: 1024 + 300)
    data = f"name,email,age\na,a@x.io,1\n{'z' * 400},z@x.io,2\nb,b@x.io,3\n"
    body = assert_envelope_success(upload(client, data), 207)
    assert body["data"]["errors"] == [{"row": 2, "error_code": "1153", "message":
                                       "Row is larger than the server accepts in one statement"}]
    assert [name for _, name, _, _ in users(sql)] == ["a", "b"]


def test_a_file_unreadable_from_some_row_on_says_how_far_it_got(make_client, sql):
    client = make_client(import_chunk_rows=2)
    previous = csv.field_size_limit(50)
    try:
        data = "name,email,age\na,a@x.io,1\nb,b@x.io,2\nc,c@x.io,3\n\"" + "q" * 100 + "\",x,1\n"
        body = assert_envelope_error(upload(client, data), 400)
    finally:
        csv.field_size_limit(previous)
    assert body["message"].startswith("Row 4 cannot be read, nor anything after it")
    assert body["details"]["row"] == 4
    assert body["details"]["completed"] is False
    assert body["details"]["rows_inserted"] == 2  # the first chunk; the second was not full yet
    assert len(users(sql)) == 2


# --- modes ----------------------------------------------------------------------------------

def test_mode_ignore_skips_duplicates_and_counts_them(client, sql):
    sql("INSERT INTO users (id, name, email) VALUES (1, 'Old', 'a@x.io')")
    data = "id,name,email\n1,New,n@x.io\n2,B,a@x.io\n3,C,c@x.io\n3,C2,c2@x.io\n"
    body = assert_envelope_success(upload(client, data, query="?mode=ignore"))
    assert body["data"] == {"table": "users", "rows_total": 4, "rows_inserted": 1,
                            "rows_skipped": 3, "rows_failed": 0, "errors": []}
    assert sql("SELECT id, name, email FROM users ORDER BY id") == (
        (1, "Old", "a@x.io"), (3, "C", "c@x.io"))


def test_mode_ignore_still_rejects_bad_values(client, sql):
    """Unlike INSERT IGNORE, which would store 0 for 'abc' with a warning."""
    body = assert_envelope_success(
        upload(client, "name,age\na,abc\nb,2\n", query="?mode=ignore"), 207)
    assert [(e["row"], e["error_code"]) for e in body["data"]["errors"]] == [(1, "1366")]
    assert sql("SELECT name, age FROM users") == (("b", 2),)


def test_mode_upsert_updates_existing_rows_and_inserts_new_ones(client, sql):
    sql("INSERT INTO users (id, name, email, age) VALUES (1, 'Old', 'a@x.io', 1)")
    data = "id,name,email,age\n1,Renamed,a@x.io,2\n2,New,b@x.io,3\n"
    body = assert_envelope_success(upload(client, data, query="?mode=upsert"))
    assert body["data"]["rows_inserted"] == 2 and body["data"]["rows_failed"] == 0
    assert users(sql) == [(1, "Renamed", "a@x.io", 2), (2, "New", "b@x.io", 3)]


def test_mode_upsert_never_rewrites_the_primary_key(client, sql):
    """A row that collides on a unique key other than the primary key updates the existing
    row's other columns; its id stays."""
    sql("INSERT INTO users (id, name, email) VALUES (1, 'Old', 'a@x.io')")
    assert_envelope_success(upload(client, "id,name,email\n9,New,a@x.io\n", query="?mode=upsert"))
    assert sql("SELECT id, name FROM users") == ((1, "New"),)


def test_unknown_mode_is_400(client, sql):
    body = assert_envelope_error(upload(client, USERS_CSV, query="?mode=replace"), 400)
    assert body["details"] == {"parameter": "mode"}
    assert users(sql) == []


# --- atomic ---------------------------------------------------------------------------------

def test_atomic_import_of_good_rows_lands_whole(make_client, sql):
    client = make_client(import_chunk_rows=3)
    lines = ["name,email,age"] + [f"u{n},u{n}@x.io,{n}" for n in range(1, 11)]
    body = assert_envelope_success(upload(client, "\n".join(lines), query="?atomic=true"))
    assert body["data"]["rows_inserted"] == 10
    assert len(users(sql)) == 10


def test_atomic_import_with_a_bad_row_writes_nothing_and_reports_all(make_client, sql):
    client = make_client(import_chunk_rows=3)
    lines = ["name,email,age"] + [f"u{n},u{n}@x.io,{'x' if n in (2, 9) else n}"
                                  for n in range(1, 11)]
    body = assert_envelope_error(upload(client, "\n".join(lines), query="?atomic=1"), 422)
    assert body["message"] == "Nothing imported: 2 rows failed and the import was atomic"
    assert body["details"]["rows_inserted"] == 0
    assert body["details"]["rows_failed"] == 2
    assert [e["row"] for e in body["details"]["errors"]] == [2, 9]
    assert users(sql) == []


def test_atomic_flag_must_be_a_boolean(client):
    body = assert_envelope_error(upload(client, USERS_CSV, query="?atomic=maybe"), 400)
    assert body["details"] == {"parameter": "atomic"}


@pytest.mark.parametrize("word", ["yes", "ON", "1", "True"])
def test_flags_take_the_words_settings_take(client, sql, word):
    # Issue 12: the truthy words have one home (config.TRUE_WORDS); ?atomic=yes once was a 400
    # while TABLEGATE_READ_ONLY=yes was true.
    lines = "name,email,age\nA,a@x.io,1\nB,b@x.io,x\n"
    body = assert_envelope_error(upload(client, lines, query=f"?atomic={word}"), 422)
    assert body["message"] == "Nothing imported: 1 rows failed and the import was atomic"
    assert users(sql) == []


# --- refused before any row is written ------------------------------------------------------

def test_unknown_column_in_header_is_400_and_nothing_is_written(client, sql):
    body = assert_envelope_error(upload(client, "name,nickname\nAlice,Al\n"), 400)
    assert body["details"] == {"column": "nickname"}
    assert users(sql) == []


def test_duplicate_header_is_400(client, sql):
    body = assert_envelope_error(upload(client, "name,email,name\na,b,c\n"), 400)
    assert body["details"] == {"column": "name"}


def test_empty_file_is_400(client):
    body = assert_envelope_error(upload(client, b""), 400)
    assert "empty" in body["message"]


def test_unknown_table_is_404(client):
    assert_envelope_error(upload(client, USERS_CSV, "nosuch.csv"), 404)


def test_missing_file_field_is_400(client):
    response = client.post("/api/batch/import", data={"other": "x"},
                           content_type="multipart/form-data")
    assert "'file'" in assert_envelope_error(response, 400)["message"]


def test_not_multipart_is_415(client):
    assert_envelope_error(client.post("/api/batch/import", json={"input": {}}), 415)


def test_no_table_name_is_400(client):
    assert_envelope_error(upload(client, USERS_CSV, ".csv"), 400)


def test_upload_over_the_limit_is_413(make_client, sql):
    client = make_client(max_upload_bytes=1000)
    lines = ["name,email,age"] + [f"u{n},u{n}@x.io,{n}" for n in range(100)]
    body = assert_envelope_error(upload(client, "\n".join(lines)), 413)
    assert body["message"] == "Request body too large"
    assert users(sql) == []


def test_upload_limit_not_json_limit_applies_to_imports(make_client, sql):
    client = make_client(max_body_bytes=100, max_upload_bytes=100_000)
    lines = ["name,email,age"] + [f"u{n},u{n}@x.io,{n}" for n in range(100)]
    assert_envelope_success(upload(client, "\n".join(lines)))
    assert len(users(sql)) == 100


HOSTILE_NAMES = [
    pytest.param("users`; DROP TABLE users; --", id="backtick-drop"),
    pytest.param("users'", id="single-quote"),
    pytest.param('users"', id="double-quote"),
    pytest.param("../users", id="dot-dot-slash"),
    pytest.param("users; DROP TABLE users", id="semicolon-drop"),
    pytest.param("\u7528\u6237", id="unicode"),
    pytest.param("Users", id="other-case"),
    pytest.param("x" * 65, id="too-long"),
]


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_table_names_in_query_name_no_table(client, sql, name):
    assert_envelope_error(upload(client, USERS_CSV, "users.csv", f"?table={name}"), 404)
    assert users(sql) == []


def upload_named(client, filename: str, data: str):
    """A multipart body written by hand, so that the file name arrives exactly as given
    (quoted-string escapes for quotes and backslashes, UTF-8 as browsers send it)."""
    escaped = filename.replace("\\", "\\\\").replace('"', '\\"')
    body = (f'--b0undary\r\nContent-Disposition: form-data; name="file"; filename="{escaped}"\r\n'
            f'Content-Type: text/csv\r\n\r\n{data}\r\n--b0undary--\r\n').encode()
    return client.post("/api/batch/import", data=body,
                       content_type="multipart/form-data; boundary=b0undary")


@pytest.mark.parametrize("name", HOSTILE_NAMES)
def test_hostile_table_names_in_file_name_name_no_table(client, sql, name):
    assert_envelope_error(upload_named(client, f"{name}.csv", USERS_CSV), 404)
    assert users(sql) == []


@pytest.mark.parametrize("name", [
    pytest.param("we`ird", id="backtick"),
    pytest.param("it's \"quoted\"", id="quotes"),
    pytest.param("donn\u00e9es \u6570\u636e", id="unicode"),
    pytest.param("x; DROP TABLE users", id="semicolon"),
])
def test_tables_with_odd_names_can_be_imported_into(client, sql, table, name):
    table(name, "id INT PRIMARY KEY, `we``ird col` VARCHAR(10)")
    quoted = "`" + name.replace("`", "``") + "`"
    body = assert_envelope_success(
        upload(client, "id,we`ird col\n1,a\n", "f.csv", "?table=" + name))
    assert body["data"]["table"] == name
    assert sql(f"SELECT * FROM {quoted}") == ((1, "a"),)
    assert sql("SELECT COUNT(*) FROM users") == ((0,),)  # still there


def test_odd_table_name_from_file_name(client, sql, table):
    table("we`ird \u00e9", "id INT PRIMARY KEY")
    assert_envelope_success(upload_named(client, "we`ird \u00e9.csv", "id\n5\n"))
    assert sql("SELECT id FROM `we``ird \u00e9`") == ((5,),)
