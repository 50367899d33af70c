"""The reflected schema follows the database without a restart (issue 2, item 3; postgrest-docs
#513): tables created, altered and dropped while the app runs, and names matched exactly."""
from __future__ import annotations

import time

import pytest
from conftest import assert_envelope_error, assert_envelope_success

from tablegate.db import schema


@pytest.fixture
def scratch(sql, seed_tables):
    """Tables a test creates; dropped afterwards whatever happened."""
    names: list[str] = []
    yield names.append
    for name in names:
        sql(f"DROP TABLE IF EXISTS `{name}`")


@pytest.fixture
def no_trust_interval(monkeypatch):
    """A cached reflection is trusted for COLUMN_MISS_REFRESH_S when a request names a column it
    lacks, so that such requests are refused without a connection (test_reject_before_borrow);
    tests about what happens after the interval need not sleep through it."""
    monkeypatch.setattr(schema, "COLUMN_MISS_REFRESH_S", 0.0)


def test_table_created_after_start_is_reachable(client, sql, scratch):
    assert_envelope_success(client.get("/api/users/query"))  # the app is up and has a cache
    scratch("late")
    assert_envelope_error(client.get("/api/late/query"), 404)
    sql("CREATE TABLE late (id INT AUTO_INCREMENT PRIMARY KEY, title VARCHAR(20))")
    body = assert_envelope_success(client.post("/api/late", json={"input": {"title": "hi"}}), 201)
    assert body["data"] == {"rows_affected": 1, "last_insert_id": 1}
    rows = assert_envelope_success(client.get("/api/late/query"))["data"]["rows"]
    assert rows == [{"id": 1, "title": "hi"}]
    assert sql("SELECT id, title FROM late") == ((1, "hi"),)


def test_column_added_after_caching_is_usable(client, sql):
    """With the default trust interval: a second after the table was read, a new column is
    found by the first request that names it."""
    assert_envelope_success(client.get("/api/users/query"))  # users is now cached
    sql("ALTER TABLE users ADD COLUMN nickname VARCHAR(20) NULL")
    time.sleep(schema.COLUMN_MISS_REFRESH_S + 0.05)
    body = assert_envelope_success(client.post("/api/users", json={
        "input": {"name": "Ann", "nickname": "annie"}}), 201)
    assert body["data"]["rows_affected"] == 1
    assert sql("SELECT name, nickname FROM users") == (("Ann", "annie"),)
    rows = assert_envelope_success(client.get("/api/users/query?nickname=annie"))["data"]["rows"]
    assert rows == [{"id": 1, "name": "Ann", "email": None, "age": None, "nickname": "annie"}]
    assert_envelope_success(client.put("/api/users", json={"input": {"nickname": "a"},
                                                           "where": {"nickname": "annie"}}))
    assert sql("SELECT nickname FROM users") == (("a",),)


@pytest.mark.parametrize("request_args", [
    pytest.param(("GET", "/api/users/query?columns=id,nickname", None), id="get-columns"),
    pytest.param(("GET", "/api/users/query?order_by=-nickname", None), id="get-order-by"),
    pytest.param(("POST", "/api/users/query", {"input": {"nickname": None}}), id="post-filter"),
    pytest.param(("PUT", "/api/users", {"input": {"age": 1}, "where": {"nickname": None}}),
                 id="update-where"),
    pytest.param(("DELETE", "/api/users", {"input": {"nickname": "x"}}), id="delete"),
])
def test_column_added_after_caching_is_usable_on_every_endpoint(client, sql, no_trust_interval,
                                                                request_args):
    sql("INSERT INTO users (name) VALUES ('Ann')")
    assert_envelope_success(client.get("/api/users/query"))
    sql("ALTER TABLE users ADD COLUMN nickname VARCHAR(20) NULL")
    method, path, payload = request_args
    assert_envelope_success(client.open(path, method=method, json=payload))
    # The table was read again: a plain select now returns the new column too.
    rows = assert_envelope_success(client.get("/api/users/query"))["data"]["rows"]
    assert set(rows[0]) == {"id", "name", "email", "age", "nickname"}


def test_column_named_before_it_exists_becomes_usable(client, sql, no_trust_interval):
    assert_envelope_error(client.post("/api/users", json={"input": {"nickname": "x"}}), 400)
    sql("ALTER TABLE users ADD COLUMN nickname VARCHAR(20) NULL")
    assert_envelope_success(client.post("/api/users", json={"input": {"nickname": "x"}}), 201)
    assert sql("SELECT nickname FROM users") == (("x",),)


@pytest.mark.parametrize("method, path, payload", [
    pytest.param("GET", "/api/users/query", None, id="select-all"),
    pytest.param("POST", "/api/users/query", {"order_by": ["-age"]}, id="order-by-gone"),
    pytest.param("PUT", "/api/users", {"input": {"name": "B"}, "where": {"age": 30}},
                 id="update-where-gone"),
])
def test_column_dropped_after_caching(client, sql, method, path, payload):
    """The cached reflection still lists the column, so the server's 'unknown column' answers
    the first request (400, not 500) and makes the table be read again: the next one works."""
    sql("INSERT INTO users (name, age) VALUES ('Ann', 30)")
    assert_envelope_success(client.get("/api/users/query"))
    sql("ALTER TABLE users DROP COLUMN age")
    body = assert_envelope_error(client.open(path, method=method, json=payload), 400)
    assert body["details"] == {"mysql_errno": 1054, "sqlstate": "42S22"}
    assert body["message"].startswith("The table changed since it was read")
    rows = assert_envelope_success(client.get("/api/users/query"))["data"]["rows"]
    assert rows == [{"id": 1, "name": "Ann", "email": None}]
    body = assert_envelope_error(client.post("/api/users", json={"input": {"age": 1}}), 400)
    assert body["details"]["column"] == "age"
    assert sql("SELECT COUNT(*) FROM users") == ((1,),)


@pytest.mark.parametrize("method, path, payload", [
    pytest.param("POST", "/api/doomed", {"input": {"id": 1}}, id="insert"),
    pytest.param("GET", "/api/doomed/query", None, id="query-get"),
    pytest.param("POST", "/api/doomed/query", {"input": {"id": 1}}, id="query-post"),
    pytest.param("PUT", "/api/doomed", {"input": {"id": 2}, "where": {"id": 1}}, id="update"),
    pytest.param("DELETE", "/api/doomed", {"input": {"id": 1}}, id="delete"),
])
def test_table_dropped_after_caching_is_404(client, sql, scratch, method, path, payload):
    scratch("doomed")
    sql("CREATE TABLE doomed (id INT PRIMARY KEY)")
    assert_envelope_success(client.get("/api/doomed/query"))  # cached
    sql("DROP TABLE doomed")
    body = assert_envelope_error(client.open(path, method=method, json=payload), 404)
    assert body["message"] == "Table 'doomed' not found"
    # ... and stays a 404 (read again, not served from a stale cache) until it comes back.
    assert_envelope_error(client.get("/api/doomed/query"), 404)
    sql("CREATE TABLE doomed (id INT PRIMARY KEY, note TEXT)")
    assert_envelope_success(client.post("/api/doomed", json={"input": {"id": 1, "note": "back"}}),
                            201)
    rows = assert_envelope_success(client.get("/api/doomed/query"))["data"]["rows"]
    assert rows == [{"id": 1, "note": "back"}]


@pytest.mark.parametrize("name", [
    pytest.param("Users", id="capitalised"),
    pytest.param("USERS", id="upper"),
    pytest.param("uSeRs", id="mixed"),
    pytest.param("users ", id="trailing-space"),
    pytest.param("üsers", id="accent-folding"),
    pytest.param("ｕｓｅｒｓ", id="fullwidth"),
])
def test_table_names_match_exactly(client, sql, name):
    sql("INSERT INTO users (name) VALUES ('Ann')")
    assert_envelope_success(client.get("/api/users/query"))  # users is cached
    for method, path, payload in [
        ("GET", f"/api/{name}/query", None),
        ("POST", f"/api/{name}/query", {"input": {}}),
        ("POST", f"/api/{name}", {"input": {"name": "Bob"}}),
        ("PUT", f"/api/{name}", {"input": {"name": "Bob"}, "where": {"id": 1}}),
        ("DELETE", f"/api/{name}", {"input": {"id": 1}}),
    ]:
        body = assert_envelope_error(client.open(path, method=method, json=payload), 404)
        assert body["message"] == f"Table {name!r} not found"
    assert sql("SELECT id, name FROM users") == ((1, "Ann"),)


def test_tables_differing_only_in_case_are_kept_apart(client, sql, scratch):
    """Where the server keeps table names case-sensitive (lower_case_table_names=0), `Users`
    and `users` are two tables and each name reaches its own."""
    if sql("SELECT @@lower_case_table_names")[0][0] != 0:
        pytest.skip("this server folds table names to lower case")
    scratch("Users")
    sql("CREATE TABLE `Users` (id INT PRIMARY KEY, shout VARCHAR(10))")
    sql("INSERT INTO `Users` VALUES (1, 'HELLO')")
    sql("INSERT INTO users (id, name) VALUES (1, 'hello')")
    upper = assert_envelope_success(client.get("/api/Users/query"))["data"]["rows"]
    lower = assert_envelope_success(client.get("/api/users/query"))["data"]["rows"]
    assert upper == [{"id": 1, "shout": "HELLO"}]
    assert lower == [{"id": 1, "name": "hello", "email": None, "age": None}]
    assert_envelope_success(client.delete("/api/Users", json={"input": {"id": 1}}))
    assert sql("SELECT COUNT(*) FROM `Users`") == ((0,),)
    assert sql("SELECT COUNT(*) FROM users") == ((1,),)
