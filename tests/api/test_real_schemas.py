"""Issue 13, "Real schemas, part 1": each case the issue saw answered with a 500 (or an import
that lost its good rows), with the issue's own schemas, now answered as the contract says.
The routes of its item 5 are tests/api/test_routing.py's."""
from __future__ import annotations

import logging

import pytest

from tests.conftest import assert_envelope_error, assert_envelope_success
from tests.helpers import upload

SCHEMA = [
    "CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, qty INT NOT NULL)",
    *(f"""CREATE TRIGGER orders_{event} BEFORE {event} ON orders FOR EACH ROW
        IF NEW.qty <= 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'qty must be positive';
        END IF""" for event in ("insert", "update")),
    "INSERT INTO orders (id, qty) VALUES (1, 5)",
    "CREATE TABLE people (id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(20), "
    "dept VARCHAR(10))",
    "INSERT INTO people (name, dept) VALUES ('Ann', 'dev'), ('Bob', 'ops')",
    "CREATE VIEW dept_counts AS SELECT dept, COUNT(*) n FROM people GROUP BY dept",
    "CREATE VIEW devs AS SELECT id, name, dept FROM people WHERE dept = 'dev' WITH CHECK OPTION",
    "CREATE TABLE items (id INT PRIMARY KEY, price DECIMAL(10,2), qty INT, "
    "total DECIMAL(10,2) AS (price*qty) STORED, dbl INT AS (qty*2) VIRTUAL)",
    "INSERT INTO items (id, price, qty) VALUES (1, 2.50, 4), (2, 10.00, 1)",
]
DROPS = ["VIEW devs", "VIEW dept_counts", "TABLE people", "TABLE orders", "TABLE items"]


@pytest.fixture
def schema(sql):
    def drop() -> None:
        for kind_and_name in DROPS:
            kind, name = kind_and_name.split()
            sql(f"DROP {kind} IF EXISTS {name}")

    drop()
    for statement in SCHEMA:
        sql(statement)
    yield
    drop()


def signal(response) -> None:
    body = assert_envelope_error(response, 422)
    assert body["message"] == "qty must be positive"
    assert body["details"] == {"mysql_errno": 1644, "sqlstate": "45000"}


# --- 1. trigger refusal ---------------------------------------------------------------------

def test_a_trigger_refusing_an_insert_an_update_or_a_bulk_insert_is_a_422(client, schema, sql):
    signal(client.post("/api/orders", json={"input": {"qty": 0}}))
    signal(client.patch("/api/orders/1", json={"input": {"qty": -1}}))
    signal(client.post("/api/orders", json={"input": [{"qty": 7}, {"qty": 0}]}))
    assert sql("SELECT id, qty FROM orders") == ((1, 5),)  # the bulk is one transaction


def test_an_import_keeps_every_good_row_around_a_refused_one(client, schema, sql):
    data = assert_envelope_success(upload(client, "qty\n3\n0\n4\n", "orders"), 207)["data"]
    assert (data["rows_inserted"], data["rows_failed"]) == (2, 1)
    assert data["errors"] == [{"row": 2, "error_code": "1644",
                               "message": "qty must be positive"}]
    assert sql("SELECT qty FROM orders ORDER BY id") == ((5,), (3,), (4,))


# --- 2. views that cannot take the write ----------------------------------------------------

@pytest.mark.parametrize("method, body", [
    pytest.param("POST", {"input": {"dept": "qa", "n": 1}}, id="insert"),
    pytest.param("PUT", {"input": {"n": 1}, "where": {"dept": "dev"}}, id="update"),
    pytest.param("DELETE", {"input": {"dept": "dev"}}, id="delete"),
])
def test_an_aggregate_view_refuses_writes_with_405(client, schema, sql, method, body):
    response = client.open("/api/dept_counts", method=method, json=body)
    assert assert_envelope_error(response, 405)["details"]["updatable"] is False
    assert response.headers["Allow"] == "OPTIONS"
    assert sql("SELECT COUNT(*) FROM people") == ((2,),)


def test_a_check_option_violation_is_a_422(client, schema, sql):
    body = assert_envelope_error(
        client.post("/api/devs", json={"input": {"name": "Cid", "dept": "ops"}}), 422)
    assert body["details"] == {"mysql_errno": 1369, "sqlstate": "44000"}
    assert_envelope_success(client.post("/api/devs", json={"input": {"name": "Cid",
                                                                     "dept": "dev"}}), 201)
    assert sql("SELECT name FROM people ORDER BY id") == (("Ann",), ("Bob",), ("Cid",))


def test_views_are_read_and_exported_as_tables_are(client, schema):
    rows = assert_envelope_success(client.get("/api/dept_counts/query?order_by=dept"))
    assert rows["data"]["rows"] == [{"dept": "dev", "n": 1}, {"dept": "ops", "n": 1}]
    assert client.get("/api/dept_counts/export").get_data(as_text=True) == (
        "dept,n\r\ndev,1\r\nops,1\r\n")


# --- 3. generated columns -------------------------------------------------------------------

def test_the_export_of_a_table_with_generated_columns_imports_back(client, schema, sql):
    exported = client.get("/api/items/export").get_data(as_text=True)
    assert exported == "id,price,qty,total,dbl\r\n1,2.50,4,10.00,8\r\n2,10.00,1,10.00,2\r\n"
    sql("DELETE FROM items")
    data = assert_envelope_success(upload(client, exported, "items"))["data"]
    assert data["columns_skipped"] == ["total", "dbl"]
    assert (data["rows_inserted"], data["rows_failed"]) == (2, 0)
    assert client.get("/api/items/export").get_data(as_text=True) == exported


def test_a_write_naming_a_generated_column_is_a_400_naming_it(client, schema, sql):
    body = assert_envelope_error(client.post("/api/items", json={"input": {
        "id": 3, "price": 1, "qty": 1, "total": 1}}), 400)
    assert body["details"] == {"column": "total", "generated": "stored"}
    assert sql("SELECT COUNT(*) FROM items") == ((2,),)


def test_the_schema_says_which_columns_are_generated(client, schema):
    columns = assert_envelope_success(client.get("/api/items/schema"))["data"]["columns"]
    assert {c["name"]: c["generated"] for c in columns} == {
        "id": None, "price": None, "qty": None, "total": "stored", "dbl": "virtual"}


# --- 4. misconfiguration --------------------------------------------------------------------

UNKNOWN_DATABASE = "Database misconfigured: the database named by TABLEGATE_DB_NAME does not exist"


def test_an_unknown_database_is_a_503_that_says_so(make_app, caplog):
    with caplog.at_level(logging.INFO):
        app = make_app(db_name="tablegate_no_such_database")
        app.extensions["tablegate.importer"].close()  # start-up's connection has been tried
        client = app.test_client()
        for path in ("/api/users/query", "/api/tables", "/ready"):
            body = assert_envelope_error(client.get(path), 503)
            assert body["message"] == UNKNOWN_DATABASE
            assert body["details"]["problem"] == "unknown_database"
    logged = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert [r.getMessage() for r in logged] == [f"{UNKNOWN_DATABASE} (MySQL error 1049)"]
    assert not any(r.exc_info for r in caplog.records)  # no traceback, ever


def test_a_refused_login_is_a_503_that_names_neither_host_nor_password(make_client):
    client = make_client(db_user="tablegate_no_such_user", db_password="s3cret-pw")
    for path in ("/api/users/query", "/ready"):
        response = client.get(path)
        body = assert_envelope_error(response, 503)
        assert body["details"]["problem"] == "login_refused"
        assert body["details"]["mysql_errno"] in (1045, 1698)
        text = response.get_data(as_text=True)
        assert "s3cret-pw" not in text and "127.0.0.1" not in text and "@" not in text
