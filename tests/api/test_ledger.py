"""The import ledger (issue 7, item 3): every import recorded, a byte-identical file refused
with 409 unless forced, ``?dedupe=key``, and the ledger itself never served."""
from __future__ import annotations

import hashlib
import io
import json

import pytest

from tablegate.config import Config
from tests.api.test_exposure import same_answer
from tests.conftest import assert_envelope_error, assert_envelope_success

LEDGER = Config().ledger_table
USERS_CSV = b"name,email,age\nAlice,alice@x.io,30\nBob,bob@x.io,25\n"


def upload(client, data: bytes, filename: str = "users.csv", query: str = ""):
    return client.post(f"/api/batch/import{query}", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data")


def ledger_rows(sql) -> list[dict]:
    rows = sql(f"SELECT id, sha256, table_name, format, mode, background, state, size_bytes, "
               f"rows_total, rows_inserted, rows_skipped, rows_failed, errors, status_code, "
               f"message, result, started_at IS NOT NULL, finished_at IS NOT NULL "
               f"FROM {LEDGER} ORDER BY id")
    names = ("id", "sha256", "table", "format", "mode", "background", "state", "bytes",
             "total", "inserted", "skipped", "failed", "errors", "status", "message", "result",
             "started", "finished")
    return [dict(zip(names, row)) for row in rows]


def user_names(sql) -> list[str]:
    return [name for (name,) in sql("SELECT name FROM users ORDER BY id")]


# --- what is recorded -------------------------------------------------------------------

def test_each_import_is_recorded_with_its_hash_counts_and_answer(client, sql):
    data = b"name,email,age\nAlice,alice@x.io,30\nBad,bad@x.io,old\n"
    body = assert_envelope_success(upload(client, data), 207)
    [row] = ledger_rows(sql)
    assert row | {"id": None, "result": None, "errors": None} == {
        "id": None, "sha256": hashlib.sha256(data).hexdigest(), "table": "users",
        "format": "csv", "mode": "insert", "background": 0, "state": "done",
        "bytes": len(data), "total": 2, "inserted": 1, "skipped": 0, "failed": 1,
        "errors": None, "status": 207, "message": "CSV partly imported: 1 rows failed",
        "result": None, "started": 1, "finished": 1}
    assert json.loads(row["result"]) == body["data"]
    assert json.loads(row["errors"]) == body["data"]["errors"]


def test_a_refused_request_is_not_recorded(client, sql):
    """A missing table, a bad parameter or a missing file is answered before the ledger."""
    assert_envelope_error(upload(client, USERS_CSV, "nosuch.csv"), 404)
    assert_envelope_error(upload(client, USERS_CSV, query="?force=maybe"), 400)
    assert_envelope_error(client.post("/api/batch/import", data={},
                                      content_type="multipart/form-data"), 400)
    assert sql(f"SHOW TABLES LIKE '{LEDGER}'") == ()


def test_an_import_that_fails_is_recorded_as_failed(client, sql):
    body = assert_envelope_error(upload(client, b"name,nickname\nKim,K\n"), 400)
    [row] = ledger_rows(sql)
    assert (row["state"], row["status"], row["message"]) == ("failed", 400, body["message"])
    assert json.loads(row["result"]) == body["details"]


# --- the ledger is not a table of the API -----------------------------------------------

def test_the_ledger_is_missing_everywhere_like_a_table_that_does_not_exist(client, sql):
    assert_envelope_success(upload(client, USERS_CSV))
    assert sql(f"SELECT COUNT(*) FROM {LEDGER}") == ((1,),)
    same_answer(client, LEDGER, "nosuch")
    tables = assert_envelope_success(client.get("/api/tables"))["data"]["tables"]
    assert LEDGER not in [table["name"] for table in tables]
    assert LEDGER not in client.get("/openapi.json").get_data(as_text=True)
    assert sql(f"SELECT COUNT(*) FROM {LEDGER}") == ((1,),)  # nothing reached it


def test_the_ledger_stays_hidden_even_when_the_allow_list_names_it(make_client, sql):
    client = make_client(tables=("users", LEDGER))
    assert_envelope_success(upload(client, USERS_CSV))
    same_answer(client, LEDGER, "nosuch")
    assert [t["name"] for t in client.get("/api/tables").get_json()["data"]["tables"]] == [
        "users"]


def test_a_configured_ledger_name_is_hidden_and_used(make_client, sql):
    sql("DROP TABLE IF EXISTS import_log")
    try:
        client = make_client(ledger_table="import_log")
        assert_envelope_success(upload(client, USERS_CSV))
        assert sql("SELECT table_name, state FROM import_log") == (("users", "done"),)
        assert_envelope_error(client.get("/api/import_log/query"), 404)
        assert sql(f"SHOW TABLES LIKE '{LEDGER}'") == ()
    finally:
        sql("DROP TABLE IF EXISTS import_log")


# --- the same file twice ----------------------------------------------------------------

def test_the_same_file_again_is_a_409_naming_the_earlier_import(client, sql):
    assert_envelope_success(upload(client, USERS_CSV))
    [first] = ledger_rows(sql)
    body = assert_envelope_error(upload(client, USERS_CSV, "renamed.csv", "?table=users"), 409)
    assert body["details"]["import_id"] == first["id"]
    assert body["details"]["state"] == "done"
    assert body["details"]["imported_at"].endswith("Z")
    assert f"import {first['id']} at {body['details']['imported_at']}" in body["message"]
    assert "?force=true" in body["message"]
    assert user_names(sql) == ["Alice", "Bob"]
    assert len(ledger_rows(sql)) == 1  # the refusal is not an import


def test_force_imports_the_same_file_again(client, sql):
    data = b"name,age\nAnn,1\nBen,2\n"
    assert_envelope_success(upload(client, data))
    body = assert_envelope_success(upload(client, data, query="?force=true"))
    assert body["data"]["rows_inserted"] == 2
    assert user_names(sql) == ["Ann", "Ben", "Ann", "Ben"]
    assert [row["state"] for row in ledger_rows(sql)] == ["done", "done"]
    # The forced import is on record too: a third upload names it.
    body = assert_envelope_error(upload(client, data), 409)
    assert body["details"]["import_id"] == ledger_rows(sql)[1]["id"]


def test_another_file_or_another_table_is_not_blocked(client, sql):
    data = b"notes\nfirst\n"
    assert_envelope_success(upload(client, data, "kinds.csv"))
    sql("CREATE TABLE notes (id INT AUTO_INCREMENT PRIMARY KEY, notes TEXT)")
    try:
        assert_envelope_success(upload(client, data, "notes.csv"))
        assert_envelope_success(upload(client, data + b"second\n", "kinds.csv"))
        assert sql("SELECT notes FROM notes") == (("first",),)
    finally:
        sql("DROP TABLE notes")
    assert sql("SELECT notes FROM kinds ORDER BY id") == (("first",), ("first",), ("second",))


def test_a_partly_failed_import_blocks_the_same_file(client, sql):
    """207: rows were written, so the same file again is a duplicate submission."""
    data = b"name,email,age\nok,ok@x.io,1\nbad,bad@x.io,x\n"
    assert_envelope_success(upload(client, data), 207)
    assert_envelope_error(upload(client, data), 409)


def test_a_failed_import_does_not_block_a_retry(client, sql):
    sql("INSERT INTO users (id, name) VALUES (1, 'Old'), (2, 'Older')")
    data = b"id,name\n1,Ann\n2,Ben\n"
    body = assert_envelope_error(upload(client, data), 422)  # every row is a duplicate
    assert body["details"]["rows_failed"] == 2
    sql("DELETE FROM users")
    assert_envelope_success(upload(client, data))
    assert user_names(sql) == ["Ann", "Ben"]
    assert [row["state"] for row in ledger_rows(sql)] == ["failed", "done"]


def test_an_atomic_import_with_a_bad_row_does_not_block_a_retry(client, sql):
    data = b"name,age\nAnn,1\nBen,x\n"
    assert_envelope_error(upload(client, data, query="?atomic=true"), 422)
    assert_envelope_success(upload(client, data), 207)
    assert user_names(sql) == ["Ann"]


# --- ?dedupe=key ------------------------------------------------------------------------

DEDUPE_CSV = (b"id,name,email\n"
              b"1,New,new@x.io\n"       # primary key exists in the table: skipped
              b"2,B,old@x.io\n"         # unique email exists in the table: skipped
              b"3,C,c@x.io\n"
              b"3,C2,c2@x.io\n"         # primary key earlier in the file: skipped
              b"4,D,c@x.io\n"           # unique email earlier in the file: skipped
              b"5,E,e@x.io\n")


@pytest.mark.parametrize("query", ["?dedupe=key", "?dedupe=key&mode=ignore"])
def test_dedupe_skips_rows_whose_key_exists_in_the_table_or_earlier_in_the_file(
        make_client, sql, query):
    client = make_client(import_chunk_rows=2)  # in-file duplicates across chunks too
    sql("INSERT INTO users (id, name, email) VALUES (1, 'Old', 'old@x.io')")
    body = assert_envelope_success(upload(client, DEDUPE_CSV, query=query))
    assert body["data"] == {"table": "users", "rows_total": 6, "rows_inserted": 2,
                            "rows_skipped": 4, "rows_failed": 0, "errors": []}
    assert sql("SELECT id, name, email FROM users ORDER BY id") == (
        (1, "Old", "old@x.io"), (3, "C", "c@x.io"), (5, "E", "e@x.io"))
    assert ledger_rows(sql)[0]["mode"] == "ignore"


def test_dedupe_still_fails_bad_values(client, sql):
    body = assert_envelope_success(upload(client, b"id,age\n1,1\n1,2\n2,x\n",
                                          query="?dedupe=key"), 207)
    data = body["data"]
    assert (data["rows_inserted"], data["rows_skipped"], data["rows_failed"]) == (1, 1, 1)
    assert [(e["row"], e["error_code"]) for e in data["errors"]] == [(3, "1366")]


@pytest.mark.parametrize("query, parameter", [
    pytest.param("?dedupe=key&mode=insert", "dedupe", id="insert-contradicts"),
    pytest.param("?dedupe=key&mode=upsert", "dedupe", id="upsert-contradicts"),
    pytest.param("?dedupe=rows", "dedupe", id="unknown-dedupe"),
    pytest.param("?dedupe=", "dedupe", id="empty-dedupe"),
    pytest.param("?force=yes please", "force", id="bad-force"),
])
def test_bad_duplicate_parameters_are_400_before_anything_is_written(client, sql, query,
                                                                     parameter):
    body = assert_envelope_error(upload(client, DEDUPE_CSV, query=query), 400)
    assert body["details"] == {"parameter": parameter}
    assert user_names(sql) == []
    assert sql(f"SHOW TABLES LIKE '{LEDGER}'") == ()


# --- dry runs and other formats ---------------------------------------------------------

def test_a_dry_run_is_neither_recorded_nor_refused(client, sql):
    body = assert_envelope_success(upload(client, USERS_CSV, query="?dry_run=true"))
    assert body["data"]["dry_run"] is True
    assert sql(f"SHOW TABLES LIKE '{LEDGER}'") == ()
    assert_envelope_success(upload(client, USERS_CSV))
    # Not a 409: the dry run says what importing the file again would do.
    body = assert_envelope_error(upload(client, USERS_CSV, query="?dry_run=true"), 422)
    assert [e["error_code"] for e in body["details"]["errors"]] == ["1062", "1062"]
    assert [row["state"] for row in ledger_rows(sql)] == ["done"]
    assert user_names(sql) == ["Alice", "Bob"]


def test_the_format_is_recorded(client, sql):
    data = b'[{"name": "Ann", "age": 3}]'
    assert_envelope_success(upload(client, data, "users.json"))
    assert [(row["format"], row["state"]) for row in ledger_rows(sql)] == [("json", "done")]
    assert_envelope_error(upload(client, data, "users.json"), 409)



def test_a_table_created_from_the_file_is_recorded(client, sql):
    try:
        assert_envelope_success(upload(client, b"code,label\n1,a\n", "fresh.csv",
                                       "?create=true"))
        assert [(row["table"], row["state"]) for row in ledger_rows(sql)] == [
            ("fresh", "done")]
    finally:
        sql("DROP TABLE IF EXISTS fresh")
