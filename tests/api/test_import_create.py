"""?create=true, ?key= and ?dry_run=true on POST /api/batch/import against the real MariaDB
(issue #7): the table a file makes, what lands in it, what is refused, and that a dry run
writes and creates nothing."""
from __future__ import annotations

import datetime
import decimal
import json

import pytest

from tests.api.test_import import upload, users
from tests.conftest import assert_envelope_error, assert_envelope_success, xlsx


def send_json(client, objects, filename: str, query: str = ""):
    return upload(client, json.dumps(objects).encode(), filename, query)


def exists(sql, name: str) -> bool:
    return bool(sql("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = "
                    "DATABASE() AND BINARY TABLE_NAME = %s", (name,))[0][0])


def columns(sql, name: str) -> list[tuple]:
    return list(sql("SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY, EXTRA FROM "
                    "information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() AND "
                    "BINARY TABLE_NAME = %s ORDER BY ORDINAL_POSITION", (name,)))


@pytest.fixture
def fresh(sql):
    """Names of tables a test may create: none exists before, all are dropped after."""
    names = []

    def name(table: str) -> str:
        quoted = "`" + table.replace("`", "``") + "`"
        sql(f"DROP TABLE IF EXISTS {quoted}")
        names.append(quoted)
        return table

    yield name
    for quoted in names:
        sql(f"DROP TABLE IF EXISTS {quoted}")


# --- creating -------------------------------------------------------------------------------

def test_create_from_csv_infers_the_columns(client, sql, fresh):
    fresh("people")
    data = ("name,age,score,big,born,seen,note\r\n"
            "Ann,30,1.5,1,2024-01-02,2024-01-02 03:04:05,\r\n"
            "Bo,-4,-120.25,4000000000,1999-12-31,2024-01-02T03:04:05.25,x\r\n")
    body = assert_envelope_success(upload(client, data, "people.csv", "?create=true"))
    assert body["message"] == "CSV imported"
    ddl = ("CREATE TABLE `people` (`id` BIGINT NOT NULL AUTO_INCREMENT, `name` VARCHAR(3) NOT "
           "NULL, `age` INT NOT NULL, `score` DECIMAL(5,2) NOT NULL, `big` BIGINT NOT NULL, "
           "`born` DATE NOT NULL, `seen` DATETIME(2) NOT NULL, `note` VARCHAR(1) NULL, "
           "PRIMARY KEY (`id`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    data = body["data"]
    assert (data["created"], data["ddl"], data["rows_inserted"]) == (True, ddl, 2)
    assert data["columns"][:2] == [
        {"name": "id", "type": "bigint", "nullable": False, "key": True, "auto_increment": True},
        {"name": "name", "type": "varchar(3)", "nullable": False, "key": False,
         "auto_increment": False}]
    assert columns(sql, "people") == [
        ("id", "bigint(20)", "NO", "PRI", "auto_increment"),
        ("name", "varchar(3)", "NO", "", ""), ("age", "int(11)", "NO", "", ""),
        ("score", "decimal(5,2)", "NO", "", ""), ("big", "bigint(20)", "NO", "", ""),
        ("born", "date", "NO", "", ""), ("seen", "datetime(2)", "NO", "", ""),
        ("note", "varchar(1)", "YES", "", "")]
    assert sql("SELECT * FROM people ORDER BY id") == (
        (1, "Ann", 30, decimal.Decimal("1.50"), 1, datetime.date(2024, 1, 2),
         datetime.datetime(2024, 1, 2, 3, 4, 5), None),
        (2, "Bo", -4, decimal.Decimal("-120.25"), 4000000000, datetime.date(1999, 12, 31),
         datetime.datetime(2024, 1, 2, 3, 4, 5, 250000), "x"))
    # The catalog knows the new table at once.
    rows = assert_envelope_success(client.get("/api/people/query?columns=name"))["data"]["rows"]
    assert rows == [{"name": "Ann"}, {"name": "Bo"}]


def test_create_from_json_with_booleans_nulls_and_nested_values(client, sql, fresh):
    fresh("events")
    objects = [{"ok": True, "doc": {"a": [1, 2]}, "n": 1.25, "what": "x" * 300, "gone": None},
               {"ok": False, "doc": [1], "n": 1e20, "what": "y"}]
    body = assert_envelope_success(send_json(client, objects, "events.json", "?create=true"))
    assert body["message"] == "JSON imported"
    assert columns(sql, "events") == [
        ("id", "bigint(20)", "NO", "PRI", "auto_increment"), ("ok", "tinyint(1)", "NO", "", ""),
        ("doc", "varchar(13)", "NO", "", ""), ("n", "double", "NO", "", ""),
        ("what", "text", "NO", "", ""), ("gone", "varchar(255)", "YES", "", "")]
    assert sql("SELECT ok, doc, n, LENGTH(what), gone FROM events ORDER BY id") == (
        (1, '{"a": [1, 2]}', 1.25, 300, None), (0, "[1]", 1e20, 1, None))


def test_create_from_xlsx(client, sql, fresh):
    fresh("sheet_made")
    data = xlsx(["when", "price", "paid"], [datetime.datetime(2024, 1, 2), 19.99, True],
                [datetime.datetime(2024, 3, 4, 5, 6, 7), 5, False])
    body = assert_envelope_success(upload(client, data, "sheet_made.xlsx", "?create=true"))
    assert body["message"] == "XLSX imported"
    assert columns(sql, "sheet_made")[1:] == [
        ("when", "datetime", "NO", "", ""), ("price", "decimal(4,2)", "NO", "", ""),
        ("paid", "tinyint(1)", "NO", "", "")]
    assert sql("SELECT `when`, price, paid FROM sheet_made ORDER BY id") == (
        (datetime.datetime(2024, 1, 2), decimal.Decimal("19.99"), 1),
        (datetime.datetime(2024, 3, 4, 5, 6, 7), decimal.Decimal("5.00"), 0))


def test_a_wide_file_of_long_strings_is_created(client, sql, fresh):
    fresh("wide")
    header = ",".join(f"c{i}" for i in range(70))
    row = ",".join("x" * 250 for _ in range(70))
    body = assert_envelope_success(upload(client, f"{header}\n{row}\n", "wide.csv",
                                          "?create=true"))
    assert body["data"]["rows_inserted"] == 1
    types = [c[1] for c in columns(sql, "wide")]
    assert 0 < types.count("text") < 70 and types.count("varchar(250)") + types.count("text") == 70
    assert sql("SELECT LENGTH(c69) FROM wide") == ((250,),)


def test_header_only_file_creates_text_columns(client, sql, fresh):
    fresh("blank")
    body = assert_envelope_success(upload(client, "a,b\r\n", "blank.csv", "?create=true"))
    assert body["data"]["rows_total"] == 0 and body["data"]["created"] is True
    assert columns(sql, "blank")[1:] == [("a", "varchar(255)", "YES", "", ""),
                                         ("b", "varchar(255)", "YES", "", "")]


def test_create_on_an_existing_table_just_imports(client, sql):
    body = assert_envelope_success(upload(client, "name\nx\n", "users.csv", "?create=true"))
    assert body["data"] == {"table": "users", "rows_total": 1, "rows_inserted": 1,
                            "rows_skipped": 0, "rows_failed": 0, "errors": [],
                            "created": False}
    assert [name for _, name, _, _ in users(sql)] == ["x"]


def test_without_create_a_missing_table_is_still_404(client, sql, fresh):
    fresh("nothere")
    assert_envelope_error(upload(client, "a\n1\n", "nothere.csv"), 404)
    assert not exists(sql, "nothere")


# --- the key --------------------------------------------------------------------------------

def test_key_names_the_primary_key(client, sql, fresh):
    fresh("items")
    body = assert_envelope_success(upload(client, "sku,qty\nA-1,2\nB-22,3\n", "items.csv",
                                          "?create=true&key=sku"))
    assert body["data"]["ddl"] == ("CREATE TABLE `items` (`sku` VARCHAR(4) NOT NULL, `qty` INT "
                                   "NOT NULL, PRIMARY KEY (`sku`)) ENGINE=InnoDB DEFAULT "
                                   "CHARSET=utf8mb4")
    assert columns(sql, "items") == [("sku", "varchar(4)", "NO", "PRI", ""),
                                     ("qty", "int(11)", "NO", "", "")]
    assert sql("SELECT sku, qty FROM items ORDER BY sku") == (("A-1", 2), ("B-22", 3))


def test_duplicate_key_values_are_row_errors(client, sql, fresh):
    fresh("items")
    body = assert_envelope_success(upload(client, "sku,qty\nA,1\nB,2\nA,3\n", "items.csv",
                                          "?create=true&key=sku"), 207)
    assert body["data"]["errors"] == [
        {"row": 3, "error_code": "1062",
         "message": "Conflict with existing data: Duplicate entry 'A' for key 'PRIMARY'"}]
    assert sql("SELECT sku, qty FROM items ORDER BY sku") == (("A", 1), ("B", 2))


@pytest.mark.parametrize("data, query, message, details", [
    pytest.param("sku,qty\nA,1\n", "?create=true&key=nope", "The key column 'nope' is not in "
                 "the file", {"parameter": "key"}, id="key-not-in-file"),
    pytest.param("sku,qty\nA,1\n,2\n", "?create=true&key=sku", "The key column 'sku' is empty "
                 "in row 2", {"parameter": "key", "row": 2}, id="key-empty"),
    pytest.param(f"sku\n{'x' * 300}\n", "?create=true&key=sku", "The key column 'sku' holds "
                 "values too long for a key (over 255 characters)", {"parameter": "key"},
                 id="key-too-long"),
    pytest.param("Id,qty\n1,2\n", "?create=true", "The file has a column 'Id', the name of the "
                 "key tablegate adds: make it the key with ?key=Id", {"column": "Id"},
                 id="file-has-id"),
    pytest.param("a,A\n1,2\n", "?create=true", "Columns 'a' and 'A' would be the same column",
                 {"column": "A"}, id="case-twins"),
    pytest.param("", "?create=true", "The file is empty: its first line must name the columns",
                 None, id="empty-file"),
])
def test_refused_before_anything_is_created(client, sql, fresh, data, query, message, details):
    fresh("items")
    body = assert_envelope_error(upload(client, data, "items.csv", query), 400)
    assert body["message"] == message
    assert body["details"] == details
    assert not exists(sql, "items")


def test_key_without_create_is_400(client):
    body = assert_envelope_error(upload(client, "name\nx\n", "users.csv", "?key=name"), 400)
    assert body["details"] == {"parameter": "key"}


def test_truncated_json_creates_nothing(client, sql, fresh):
    """The file is read whole to infer the table before it is created."""
    fresh("cut")
    body = assert_envelope_error(upload(client, b'[{"a": 1}, {"a": 2}, {"a"', "cut.json",
                                        "?create=true"), 400)
    assert body["details"] == {"row": 3}
    assert not exists(sql, "cut")


def test_a_created_table_left_empty_by_a_failed_import_is_dropped(client, sql, fresh):
    fresh("items")
    body = assert_envelope_error(upload(client, "sku,qty\nA,1\nA,2\n", "items.csv",
                                        "?create=true&key=sku&atomic=true"), 422)
    assert body["message"] == "Nothing imported: 1 rows failed and the import was atomic"
    assert body["details"]["created"] is False
    assert body["details"]["ddl"].startswith("CREATE TABLE `items` (")
    assert not exists(sql, "items")
    assert_envelope_error(client.get("/api/items/query"), 404)


# --- names ----------------------------------------------------------------------------------

HOSTILE_COLUMNS = ["we`ird", "it's \"q\"", "x`; DROP TABLE users; --", "\u540d\u524d \u00e9",
                   "c" * 64]


def test_hostile_column_names_are_created_and_filled(client, sql, fresh):
    name = fresh("odd`; DROP TABLE users; --")
    row = {column: index for index, column in enumerate(HOSTILE_COLUMNS)}
    body = assert_envelope_success(send_json(client, [row], "x.json",
                                             "?create=true&table=" + name.replace(";", "%3B")))
    assert body["data"]["table"] == name
    assert [c[0] for c in columns(sql, name)] == ["id", *HOSTILE_COLUMNS]
    assert sql("SELECT * FROM `odd``; DROP TABLE users; --`") == ((1, 0, 1, 2, 3, 4),)
    assert exists(sql, "users")


@pytest.mark.parametrize("column, reason", [
    pytest.param("", "it is empty", id="empty"),
    pytest.param("c" * 65, "it is longer than 64 characters", id="too-long"),
    pytest.param("trailing ", "it ends with a space", id="trailing-space"),
    pytest.param("smile\U0001F600", "it holds a character names cannot hold", id="beyond-bmp"),
])
def test_column_names_mariadb_refuses_are_400(client, sql, fresh, column, reason):
    fresh("named")
    body = assert_envelope_error(send_json(client, [{"ok": 1, column: 2}], "named.json",
                                           "?create=true"), 400)
    assert reason in body["message"]
    assert set(body["details"]) == {"column"}
    assert not exists(sql, "named")


@pytest.mark.parametrize("name, reason", [
    pytest.param("t" * 65, "it is longer than 64 characters", id="too-long"),
    pytest.param("trailing ", "it ends with a space", id="trailing-space"),
])
def test_table_names_mariadb_refuses_are_400(client, sql, name, reason):
    body = assert_envelope_error(upload(client, "a\n1\n", "f.csv",
                                        f"?create=true&table={name}"), 400)
    assert reason in body["message"]
    assert set(body["details"]) == {"table"}
    assert not exists(sql, name)


def test_a_table_not_exposed_is_not_created(make_client, sql, fresh):
    fresh("secret")
    client = make_client(deny_tables=("secret",))
    assert_envelope_error(upload(client, "a\n1\n", "secret.csv", "?create=true"), 404)
    assert not exists(sql, "secret")


# --- dry runs -------------------------------------------------------------------------------

def test_dry_run_reports_every_row_error_and_writes_nothing(client, sql):
    sql("INSERT INTO users (name, email) VALUES ('Old', 'old@x.io')")
    data = "name,email,age\nok,ok@x.io,1\ndup,old@x.io,2\nbad,b@x.io,x\nok2,ok@x.io,4\n"
    body = assert_envelope_success(upload(client, data, "users.csv", "?dry_run=true"), 207)
    assert body["message"] == "Dry run of CSV: 3 rows would fail; nothing written"
    assert body["data"] == {
        "table": "users", "rows_total": 4, "rows_inserted": 1, "rows_skipped": 0,
        "rows_failed": 3, "created": False, "dry_run": True, "errors": [
            {"row": 2, "error_code": "1062", "message": "Conflict with existing data: "
                                                        "Duplicate entry 'old@x.io' for key "
                                                        "'email'"},
            {"row": 3, "error_code": "1366", "message": "Value rejected by the database: "
                                                        "Incorrect integer value: 'x' for "
                                                        "column `users`.`age`"},
            {"row": 4, "error_code": "1062", "message": "Conflict with existing data: "
                                                        "Duplicate entry 'ok@x.io' for key "
                                                        "'email'"}]}
    assert users(sql) == [(1, "Old", "old@x.io", None)]


def test_dry_run_of_good_rows(client, sql):
    body = assert_envelope_success(upload(client, "name\na\nb\n", "users.csv", "?dry_run=true"))
    assert body["message"] == "Dry run of CSV: every row would import; nothing written"
    assert body["data"]["rows_inserted"] == 2
    assert users(sql) == []


def test_dry_run_with_every_row_failing_is_422(client, sql):
    body = assert_envelope_error(upload(client, "age\nx\n", "users.ndjson", "?dry_run=true&"
                                        "format=csv"), 422)
    assert body["message"] == "Dry run of CSV: nothing would be imported: every row failed"
    assert body["details"]["dry_run"] is True
    assert users(sql) == []


def test_dry_run_upsert_changes_no_row(client, sql):
    sql("INSERT INTO users (id, name, email, age) VALUES (1, 'Old', 'a@x.io', 1)")
    body = assert_envelope_success(upload(client, "id,name,age\n1,New,2\n2,Added,3\n",
                                          "users.csv", "?mode=upsert&dry_run=true"))
    assert body["data"]["rows_inserted"] == 2
    assert users(sql) == [(1, "Old", "a@x.io", 1)]


def test_dry_run_create_shows_the_table_and_creates_nothing(client, sql, fresh):
    fresh("planned")
    tables_before = sql("SHOW TABLES")
    body = assert_envelope_success(send_json(client, [{"n": 1, "s": "abc"}, {"n": 2, "s": None}],
                                             "planned.json", "?create=true&dry_run=true"))
    assert body["message"] == "Dry run of JSON: every row would import; nothing written"
    data = body["data"]
    assert (data["created"], data["dry_run"], data["rows_inserted"]) == (False, True, 2)
    assert data["ddl"] == ("CREATE TABLE `planned` (`id` BIGINT NOT NULL AUTO_INCREMENT, `n` "
                           "INT NOT NULL, `s` VARCHAR(3) NULL, PRIMARY KEY (`id`)) "
                           "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    assert [c["type"] for c in data["columns"]] == ["bigint", "int", "varchar(3)"]
    assert not exists(sql, "planned")
    assert sql("SHOW TABLES") == tables_before
    assert_envelope_error(client.get("/api/planned/query"), 404)


def test_dry_run_create_finds_duplicate_keys_in_its_temporary_table(client, sql, fresh):
    fresh("planned")
    body = assert_envelope_success(upload(client, "sku,qty\nA,1\nB,2\nA,3\n", "planned.csv",
                                          "?create=true&key=sku&dry_run=true"), 207)
    assert [(e["row"], e["error_code"]) for e in body["data"]["errors"]] == [(3, "1062")]
    assert not exists(sql, "planned")


def test_dry_run_atomic_with_a_bad_row_is_422(client, sql):
    body = assert_envelope_error(upload(client, "name,age\na,1\nb,x\n", "users.csv",
                                        "?dry_run=true&atomic=true"), 422)
    assert body["message"] == ("Dry run of CSV: nothing would be imported: 1 rows failed and "
                               "the import is atomic")
    assert users(sql) == []


def test_dry_run_must_be_a_boolean(client):
    body = assert_envelope_error(upload(client, "name\na\n", "users.csv", "?dry_run=maybe"), 400)
    assert body["details"] == {"parameter": "dry_run"}
