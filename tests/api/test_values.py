"""Values in and out of the ``kinds`` table as CONTRACT.md "CRUD" spells them: integers as
numbers, DECIMAL as exact strings, dates and datetimes in ISO 8601, binary as base64, JSON
documents as JSON text, NULL as null."""
from __future__ import annotations

import base64
import datetime
import decimal
import json

import pytest
from conftest import assert_envelope_error, assert_envelope_success

COLUMNS = ("price", "born", "seen_at", "notes", "doc", "blob_data", "flag", "label")


def insert(client, **values) -> int:
    body = assert_envelope_success(client.post("/api/kinds", json={"input": values}), 201)
    return body["data"]["last_insert_id"]


def fetch(client, row_id: int) -> dict:
    rows = assert_envelope_success(client.get(f"/api/kinds/query?id={row_id}"))["data"]["rows"]
    assert len(rows) == 1
    return rows[0]


def stored(sql, column: str, row_id: int):
    return sql(f"SELECT `{column}` FROM kinds WHERE id = %s", (row_id,))[0][0]


# --- DECIMAL --------------------------------------------------------------------------------

@pytest.mark.parametrize("sent, exact", [
    pytest.param("12345678.1234", "12345678.1234", id="largest-scale-as-string"),
    pytest.param("99999999.9999", "99999999.9999", id="max-value"),
    pytest.param("-0.0001", "-0.0001", id="smallest-negative"),
    pytest.param(0.1, "0.1000", id="float-0.1"),
    pytest.param(7, "7.0000", id="integer"),
    pytest.param("1.23456", "1.2346", id="rounded-to-scale-by-the-server"),
])
def test_decimal_comes_back_as_exact_string(client, sql, sent, exact):
    row_id = insert(client, price=sent)
    assert fetch(client, row_id)["price"] == exact
    assert stored(sql, "price", row_id) == decimal.Decimal(exact)


def test_decimal_keeps_digits_a_float_would_lose(client, sql):
    sql("INSERT INTO kinds (id, price) VALUES (1, 9999999.9999), (2, 0.0003)")
    rows = assert_envelope_success(client.get("/api/kinds/query?columns=price"))["data"]["rows"]
    assert rows == [{"price": "9999999.9999"}, {"price": "0.0003"}]
    assert '"price":"9999999.9999"' in client.get("/api/kinds/query?id=1").get_data(as_text=True)


def test_decimal_filters(client, sql):
    sql("INSERT INTO kinds (id, price) VALUES (1, 1.5), (2, 2.25), (3, NULL)")
    ids = lambda r: [row["id"] for row in assert_envelope_success(r)["data"]["rows"]]  # noqa
    assert ids(client.get("/api/kinds/query?price=2.2500")) == [2]
    assert ids(client.get("/api/kinds/query?price=gt.1.5")) == [2]
    assert ids(client.post("/api/kinds/query", json={"input": {"price": {"lte": "2.25"}}})) == [1, 2]


# --- DATE and DATETIME(6) -------------------------------------------------------------------

def test_date_in_iso_8601(client, sql):
    row_id = insert(client, born="2024-02-29")
    assert fetch(client, row_id)["born"] == "2024-02-29"
    assert stored(sql, "born", row_id) == datetime.date(2024, 2, 29)


@pytest.mark.parametrize("sent, iso", [
    pytest.param("2024-01-02 03:04:05.123456", "2024-01-02T03:04:05.123456", id="sql-form"),
    pytest.param("2024-01-02T03:04:05.123456", "2024-01-02T03:04:05.123456", id="iso-form"),
    pytest.param("2024-01-02T03:04:05", "2024-01-02T03:04:05", id="whole-seconds"),
    pytest.param("1999-12-31T23:59:59.000001", "1999-12-31T23:59:59.000001", id="one-micro"),
])
def test_datetime_in_iso_8601_with_microseconds(client, sql, sent, iso):
    row_id = insert(client, seen_at=sent)
    assert fetch(client, row_id)["seen_at"] == iso
    assert stored(sql, "seen_at", row_id) == datetime.datetime.fromisoformat(iso)


def test_dates_round_trip_what_the_api_returned(client, sql):
    row_id = insert(client, born="2001-09-09", seen_at="2001-09-09 01:46:40.5")
    row = fetch(client, row_id)
    assert (row["born"], row["seen_at"]) == ("2001-09-09", "2001-09-09T01:46:40.500000")
    copy_id = insert(client, born=row["born"], seen_at=row["seen_at"])
    assert fetch(client, copy_id)["seen_at"] == row["seen_at"]
    assert stored(sql, "seen_at", copy_id) == stored(sql, "seen_at", row_id)
    found = assert_envelope_success(client.post("/api/kinds/query", json={
        "input": {"seen_at": row["seen_at"]}, "columns": ["id"]}))["data"]["rows"]
    assert found == [{"id": row_id}, {"id": copy_id}]


def test_date_filters(client, sql):
    sql("INSERT INTO kinds (id, born) VALUES (1, '2020-01-01'), (2, '2024-06-30'), (3, NULL)")
    rows = assert_envelope_success(client.get("/api/kinds/query?born=gte.2021-01-01"))
    assert [r["id"] for r in rows["data"]["rows"]] == [2]
    rows = assert_envelope_success(client.get("/api/kinds/query?born=is.null"))
    assert [r["id"] for r in rows["data"]["rows"]] == [3]


@pytest.mark.parametrize("column, value", [
    pytest.param("born", "2023-02-29", id="not-a-leap-year"),
    pytest.param("born", "29/02/2024", id="not-iso"),
    pytest.param("seen_at", "2024-01-02 25:00:00", id="hour-25"),
    pytest.param("seen_at", "tomorrow", id="words"),
    pytest.param("born", "0000-00-00", id="zero-date"),
])
def test_bad_dates_are_422(client, sql, column, value):
    body = assert_envelope_error(client.post("/api/kinds", json={"input": {column: value}}), 422)
    assert body["details"] == {"mysql_errno": 1292, "sqlstate": "22007"}
    assert sql("SELECT COUNT(*) FROM kinds") == ((0,),)


# --- TEXT -----------------------------------------------------------------------------------

@pytest.mark.parametrize("text", [
    pytest.param("plain", id="plain"),
    pytest.param("line one\nline two\r\n\ttabbed", id="control-characters"),
    pytest.param("it's \"quoted\" \\ back`tick`; DROP TABLE kinds; --", id="quotes"),
    pytest.param("ユーザー 😀 مرحبا \u202eRTL", id="unicode-and-emoji"),
    pytest.param("", id="empty"),
    pytest.param("x" * 65535, id="largest-text"),
])
def test_text_round_trip(client, sql, text):
    row_id = insert(client, notes=text)
    assert fetch(client, row_id)["notes"] == text
    assert stored(sql, "notes", row_id) == text


def test_text_too_long_is_422(client, sql):
    body = assert_envelope_error(client.post("/api/kinds", json={"input": {"notes": "x" * 65536}}),
                                 422)
    assert body["details"] == {"mysql_errno": 1406, "sqlstate": "22001"}
    assert sql("SELECT COUNT(*) FROM kinds") == ((0,),)


# --- JSON -----------------------------------------------------------------------------------

@pytest.mark.parametrize("document", [
    pytest.param({"a": [1, 2.5, "ü"], "b": None, "c": {"d": True}}, id="object"),
    pytest.param([1, {"x": "y"}, []], id="array"),
    pytest.param({}, id="empty-object"),
])
def test_json_documents_are_stored_as_json_text(client, sql, document):
    row_id = insert(client, doc=document)
    text = stored(sql, "doc", row_id)
    assert isinstance(text, str)
    assert json.loads(text) == document
    returned = fetch(client, row_id)["doc"]
    assert isinstance(returned, str)
    assert json.loads(returned) == document


def test_json_text_is_stored_as_sent(client, sql):
    row_id = insert(client, doc='{"already": "text"}')
    assert stored(sql, "doc", row_id) == '{"already": "text"}'
    assert fetch(client, row_id)["doc"] == '{"already": "text"}'


def test_json_update_with_an_object(client, sql):
    row_id = insert(client, doc={"v": 1})
    assert_envelope_success(client.put("/api/kinds", json={"input": {"doc": {"v": 2}},
                                                           "where": {"id": row_id}}))
    assert json.loads(stored(sql, "doc", row_id)) == {"v": 2}


def test_invalid_json_text_is_422(client, sql):
    body = assert_envelope_error(client.post("/api/kinds", json={"input": {"doc": "{not json"}}),
                                 422)
    assert body["details"]["mysql_errno"] in (4025, 3140)
    assert sql("SELECT COUNT(*) FROM kinds") == ((0,),)


# --- BLOB -----------------------------------------------------------------------------------

@pytest.mark.parametrize("raw", [
    pytest.param(b"\x00\x01\x02\xff\xfe binary \x00", id="bytes-with-nul"),
    pytest.param(bytes(range(256)), id="every-byte"),
    pytest.param(b"", id="empty"),
])
def test_blob_round_trip_as_base64(client, sql, raw):
    encoded = base64.b64encode(raw).decode("ascii")
    row_id = insert(client, blob_data=encoded)
    assert stored(sql, "blob_data", row_id) == raw
    assert fetch(client, row_id)["blob_data"] == encoded


def test_blob_written_by_sql_is_read_as_base64(client, sql):
    sql("INSERT INTO kinds (id, blob_data) VALUES (1, UNHEX('DEADBEEF00'))")
    assert fetch(client, 1)["blob_data"] == base64.b64encode(b"\xde\xad\xbe\xef\x00").decode()


def test_blob_filters_take_base64_as_inserts_do(client, sql):
    first = insert(client, blob_data=base64.b64encode(b"\x00one").decode())
    insert(client, blob_data=base64.b64encode(b"\x00two").decode())
    wanted = base64.b64encode(b"\x00one").decode()
    rows = assert_envelope_success(client.get(f"/api/kinds/query?blob_data={wanted}"))
    assert [r["id"] for r in rows["data"]["rows"]] == [first]
    rows = assert_envelope_success(client.post("/api/kinds/query", json={
        "input": {"blob_data": {"in": [wanted, "AAAA"]}}}))
    assert [r["id"] for r in rows["data"]["rows"]] == [first]
    assert_envelope_success(client.delete("/api/kinds", json={"input": {"blob_data": wanted}}))
    assert sql("SELECT blob_data FROM kinds") == ((b"\x00two",),)


@pytest.mark.parametrize("value", [
    pytest.param("not base64!", id="punctuation"),
    pytest.param("QUJ=D", id="data-after-padding"),
    pytest.param("QUJ", id="truncated"),
    pytest.param("ÄÖÜ", id="non-ascii"),
])
def test_invalid_base64_is_422(client, sql, value):
    body = assert_envelope_error(client.post("/api/kinds", json={"input": {"blob_data": value}}),
                                 422)
    assert body["details"] == {"column": "blob_data"}
    assert_envelope_error(client.get(f"/api/kinds/query?blob_data={value}"), 422)
    assert_envelope_error(client.put("/api/kinds", json={"input": {"blob_data": value},
                                                         "where": {"id": 1}}), 422)
    assert sql("SELECT COUNT(*) FROM kinds") == ((0,),)


# --- TINYINT(1), NULL -----------------------------------------------------------------------

@pytest.mark.parametrize("sent, kept", [
    pytest.param(True, 1, id="true"), pytest.param(False, 0, id="false"),
    pytest.param(1, 1, id="one"), pytest.param(0, 0, id="zero"), pytest.param(-5, -5, id="-5"),
])
def test_tinyint_1_comes_back_as_a_number(client, sql, sent, kept):
    row_id = insert(client, flag=sent)
    value = fetch(client, row_id)["flag"]
    assert value == kept and type(value) is int
    assert stored(sql, "flag", row_id) == kept


def test_nulls_in_and_out(client, sql):
    row_id = insert(client, **{c: None for c in COLUMNS if c != "label"})
    row = fetch(client, row_id)
    assert row == {"id": row_id, **{c: None for c in COLUMNS if c != "label"}, "label": "x"}
    assert sql("SELECT price, born, seen_at, notes, doc, blob_data, flag FROM kinds") == (
        (None,) * 7,)


def test_a_whole_row_and_its_raw_json(client, sql):
    row_id = insert(client, price="3.1400", born="2020-02-02", seen_at="2020-02-02 20:20:20.202020",
                    notes="n", doc={"k": "v"}, blob_data="AAEC", flag=True, label="ok")
    raw = client.get(f"/api/kinds/query?id={row_id}").get_data(as_text=True)
    row = json.loads(raw)["data"]["rows"][0]
    assert row == {"id": row_id, "price": "3.1400", "born": "2020-02-02",
                   "seen_at": "2020-02-02T20:20:20.202020", "notes": "n", "doc": '{"k": "v"}',
                   "blob_data": "AAEC", "flag": 1, "label": "ok"}
    assert list(row) == ["id", *COLUMNS]  # the table's column order
