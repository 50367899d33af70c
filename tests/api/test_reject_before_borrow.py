"""Reject before borrowing (STYLE 4, after PostgREST's
test_no_pool_connection_required_on_bad_http_logic): once the schema cache is warm, requests
that are wrong on their face are answered without taking a connection from the pool."""
from __future__ import annotations

import pytest
from conftest import assert_envelope_error, assert_envelope_success, make_config

from tablegate import create_app
from tablegate.db import schema


@pytest.fixture
def small_app(database_name, seed_tables):
    """Limits small enough that an oversized body or bulk is cheap to send."""
    app = create_app(make_config(database_name, max_body_bytes=512, max_bulk_rows=5))
    yield app
    app.extensions["tablegate"].executor.close()
    app.extensions["tablegate"].pool.close()


def borrowed(app) -> int:
    return app.extensions["tablegate"].pool.borrowed


def warm(client, app) -> int:
    """One good request on `users`: the table is reflected and cached, and it used the pool."""
    before = borrowed(app)
    assert_envelope_success(client.get("/api/users/query"))
    assert borrowed(app) > before
    return borrowed(app)


UNKNOWN_COLUMNS = [
    pytest.param("POST", "/api/users", {"input": {"nosuch": 1}}, id="insert"),
    pytest.param("POST", "/api/users", {"input": [{"name": "a"}, {"nosuch": 1}]}, id="bulk"),
    pytest.param("GET", "/api/users/query?nosuch=1", None, id="get-filter"),
    pytest.param("GET", "/api/users/query?columns=nosuch", None, id="get-columns"),
    pytest.param("GET", "/api/users/query?order_by=-nosuch", None, id="get-order-by"),
    pytest.param("POST", "/api/users/query", {"input": {"nosuch": {"gte": 1}}}, id="post-filter"),
    pytest.param("POST", "/api/users/query", {"columns": ["id", "nosuch"]}, id="post-columns"),
    pytest.param("PUT", "/api/users", {"input": {"nosuch": 1}, "where": {"id": 1}}, id="set"),
    pytest.param("PUT", "/api/users", {"input": {"age": 1}, "where": {"nosuch": 1}}, id="where"),
    pytest.param("DELETE", "/api/users", {"input": {"nosuch": 1}}, id="delete"),
    pytest.param("DELETE", "/api/users", {"input": {"id`; DROP TABLE users; --": 1}},
                 id="delete-hostile"),
]


@pytest.mark.parametrize("method, path, payload", UNKNOWN_COLUMNS)
def test_unknown_columns_do_not_borrow(small_app, method, path, payload):
    client = small_app.test_client()
    count = warm(client, small_app)
    body = assert_envelope_error(client.open(path, method=method, json=payload), 400)
    assert "column" in body["details"]
    assert borrowed(small_app) == count


BAD_BODIES = [
    pytest.param("POST", "/api/users", '{"input": ', "application/json", 400, id="malformed"),
    pytest.param("POST", "/api/users/query", "[1, 2]", "application/json", 400, id="array"),
    pytest.param("PUT", "/api/users", '{"input": {"age": NaN}}', "application/json", 400,
                 id="nan"),
    pytest.param("DELETE", "/api/users", "", "application/json", 400, id="empty-body"),
    pytest.param("POST", "/api/users", '{"input": {}, "extra": 1}', "application/json", 400,
                 id="unknown-field"),
    pytest.param("POST", "/api/users", '{"input": "users"}', "application/json", 400,
                 id="input-wrong-type"),
    pytest.param("POST", "/api/users/query", '{"input": {"age": {"between": 1}}}',
                 "application/json", 400, id="bad-operator"),
    pytest.param("PUT", "/api/users", '{"input": {"age": 1}}', "application/json", 400,
                 id="update-no-where"),
    pytest.param("PUT", "/api/users", '{"input": {"age": 1}, "where": {}}', "application/json",
                 400, id="update-empty-where"),
    pytest.param("PUT", "/api/users", '{"input": {}, "where": {"id": 1}}', "application/json",
                 400, id="update-nothing-to-set"),
    pytest.param("DELETE", "/api/users", '{"input": {}}', "application/json", 400,
                 id="delete-empty-where"),
    pytest.param("DELETE", "/api/users", '{"input": {"id": 1}}', "text/plain", 415,
                 id="wrong-content-type"),
    pytest.param("POST", "/api/users", '{"input": {"name": "%s"}}' % ("x" * 600),
                 "application/json", 413, id="oversized-body"),
    pytest.param("PUT", "/api/users", '{"input": {"name": "%s"}, "where": {"id": 1}}' % (
        "x" * 600), "application/json", 413, id="oversized-update"),
    pytest.param("POST", "/api/users", '{"input": [%s]}' % ", ".join(['{}'] * 6),
                 "application/json", 413, id="too-many-bulk-rows"),
]


@pytest.mark.parametrize("method, path, data, content_type, status", BAD_BODIES)
def test_bad_bodies_do_not_borrow(small_app, method, path, data, content_type, status):
    client = small_app.test_client()
    count = warm(client, small_app)
    assert_envelope_error(client.open(path, method=method, data=data,
                                      content_type=content_type), status)
    assert borrowed(small_app) == count


@pytest.mark.parametrize("query", ["limit=ten", "offset=-1", "age=not.foo.1", "age=is.maybe"])
def test_bad_query_strings_do_not_borrow(small_app, query):
    client = small_app.test_client()
    count = warm(client, small_app)
    assert_envelope_error(client.get(f"/api/users/query?{query}"), 400)
    assert borrowed(small_app) == count


def test_routing_errors_do_not_borrow(small_app):
    client = small_app.test_client()
    count = warm(client, small_app)
    assert_envelope_error(client.get("/api/users"), 405)
    assert_envelope_error(client.get("/no/such/route"), 404)
    assert_envelope_error(client.get("/api/" + "x" * 65 + "/query"), 404)  # cannot be a table
    assert_envelope_error(client.get("/api/users%00/query"), 404)
    assert borrowed(small_app) == count


def test_a_whole_stream_of_bad_requests_borrows_nothing(small_app, monkeypatch):
    """Repeated unknown columns on a warm cache cost no connections either: the cached
    reflection is not read again for each of them. (The trust interval is lengthened so that
    a slow machine cannot outlast it mid-stream.)"""
    monkeypatch.setattr(schema, "COLUMN_MISS_REFRESH_S", 60.0)
    client = small_app.test_client()
    count = warm(client, small_app)
    for _ in range(20):
        assert_envelope_error(client.post("/api/users/query", json={"input": {"nosuch": 1}}), 400)
        assert_envelope_error(client.delete("/api/users", json={"input": {}}), 400)
        assert_envelope_error(client.post("/api/users", data="{", content_type="application/json"),
                              400)
    assert borrowed(small_app) == count
    assert_envelope_success(client.get("/api/users/query"))  # good requests still work
    assert borrowed(small_app) == count + 1
