"""The two envelopes and the X-Request-ID header on every kind of response (CONTRACT.md
"Envelopes"), including the ones Flask and Werkzeug produce themselves."""
from __future__ import annotations

import datetime
import re

import pytest
from conftest import assert_envelope_error, assert_envelope_success

TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z")
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


@pytest.fixture
def people(sql, seed_tables):
    sql("INSERT INTO users (id, name, email, age) VALUES (1, 'Ann', 'ann@example.com', 30)")


# One request of each kind: (method, path, kwargs, status).
RESPONSES = [
    pytest.param("GET", "/health", {}, 200, id="health"),
    pytest.param("GET", "/api/users/query", {}, 200, id="select"),
    pytest.param("POST", "/api/users/query", {"json": {}}, 200, id="select-post"),
    pytest.param("POST", "/api/users", {"json": {"input": {"name": "Bob"}}}, 201, id="insert"),
    pytest.param("PUT", "/api/users", {"json": {"input": {"age": 3}, "where": {"id": 1}}}, 200,
                 id="update"),
    pytest.param("DELETE", "/api/users", {"json": {"input": {"id": 1}}}, 200, id="delete"),
    pytest.param("POST", "/api/users", {"data": "{", "content_type": "application/json"}, 400,
                 id="malformed"),
    pytest.param("GET", "/api/nosuch/query", {}, 404, id="no-table"),
    pytest.param("GET", "/no/such/route", {}, 404, id="no-route"),
    pytest.param("GET", "/api/users", {}, 405, id="wrong-method"),
    pytest.param("POST", "/api/users", {"json": {"input": {"email": "ann@example.com"}}}, 409,
                 id="conflict"),
    pytest.param("POST", "/api/users", {"data": "x" * (1024 * 1024 + 1),
                                        "content_type": "application/json"}, 413, id="too-large"),
    pytest.param("POST", "/api/users", {"data": "{}", "content_type": "text/plain"}, 415,
                 id="content-type"),
    pytest.param("POST", "/api/users", {"json": {"input": {"age": "x"}}}, 422, id="bad-value"),
]


@pytest.mark.parametrize("method, path, kwargs, status", RESPONSES)
def test_every_response_has_the_envelope_and_a_request_id(client, people, method, path, kwargs,
                                                          status):
    response = client.open(path, method=method, **kwargs)
    assert response.mimetype == "application/json"
    if status < 400:
        body = assert_envelope_success(response, status)
    else:
        body = assert_envelope_error(response, status)
    assert TIMESTAMP.fullmatch(body["timestamp"])
    sent = datetime.datetime.strptime(body["timestamp"], "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=datetime.timezone.utc)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - sent) < datetime.timedelta(
        seconds=30)
    assert GENERATED_ID.fullmatch(response.headers["X-Request-ID"])


@pytest.mark.parametrize("method, path, kwargs, status", RESPONSES)
def test_a_sane_request_id_is_echoed(client, people, method, path, kwargs, status):
    response = client.open(path, method=method, headers={"X-Request-ID": "client-42.a_b:c"},
                           **kwargs)
    assert response.status_code == status
    assert response.headers["X-Request-ID"] == "client-42.a_b:c"


@pytest.mark.parametrize("request_id", [
    pytest.param("a", id="one-character"),
    pytest.param("7f3c9a5e-1b2d-4c8e-9f00-0123456789ab", id="uuid"),
    pytest.param("x" * 128, id="128-characters"),
])
def test_sane_request_ids(client, request_id):
    response = client.get("/health", headers={"X-Request-ID": request_id})
    assert response.headers["X-Request-ID"] == request_id


@pytest.mark.parametrize("request_id", [
    pytest.param("abc\ndef", id="newline"),
    pytest.param("abc\r\nSet-Cookie: x=1", id="header-injection"),
    pytest.param("x" * 1000, id="1000-characters"),
    pytest.param("x" * 129, id="129-characters"),
    pytest.param("a b", id="space"),
    pytest.param("<script>alert(1)</script>", id="markup"),
    pytest.param("id\"; DROP TABLE users; --", id="sql"),
    pytest.param("ユーザー", id="unicode"),
    pytest.param("abc\x00", id="nul"),
    pytest.param("", id="empty"),
])
def test_a_hostile_request_id_is_replaced(client, people, sql, request_id):
    for method, path, kwargs in [("GET", "/health", {}), ("GET", "/api/users/query", {}),
                                 ("POST", "/api/users", {"data": "{",
                                                         "content_type": "application/json"}),
                                 ("GET", "/no/such/route", {})]:
        # Through the WSGI environ: the test client itself refuses to send a newline header.
        response = client.open(path, method=method,
                               environ_base={"HTTP_X_REQUEST_ID": request_id}, **kwargs)
        echoed = response.headers["X-Request-ID"]
        assert GENERATED_ID.fullmatch(echoed), echoed
    assert sql("SELECT COUNT(*) FROM users") == ((1,),)


def test_generated_request_ids_differ(client):
    ids = {client.get("/health").headers["X-Request-ID"] for _ in range(5)}
    assert len(ids) == 5


@pytest.mark.parametrize("path", [
    pytest.param("/nosuch", id="top-level"),
    pytest.param("/api", id="api-root"),
    pytest.param("/api/", id="api-slash"),
    pytest.param("/api/users/query/extra", id="too-deep"),
    pytest.param("/api//users/query", id="doubled-slash"),
    pytest.param("/api/users/query/", id="trailing-slash"),
])
def test_unknown_route_is_404_in_the_envelope(client, path):
    for method in ("GET", "POST", "PUT", "DELETE"):
        response = client.open(path, method=method)
        body = assert_envelope_error(response, 404)
        assert body["message"] == "Not found"
        assert body["details"] is None


@pytest.mark.parametrize("method, path, allowed", [
    pytest.param("GET", "/api/users", {"POST", "PUT", "DELETE"}, id="get-table"),
    pytest.param("PATCH", "/api/users", {"POST", "PUT", "DELETE"}, id="patch-table"),
    pytest.param("PUT", "/api/users/query", {"GET", "POST"}, id="put-query"),
    pytest.param("DELETE", "/api/users/query", {"GET", "POST"}, id="delete-query"),
    pytest.param("PATCH", "/api/users/query", {"GET", "POST"}, id="patch-query"),
    pytest.param("POST", "/health", {"GET"}, id="post-health"),
])
def test_wrong_method_is_405_with_allow(client, people, sql, method, path, allowed):
    response = client.open(path, method=method, json={"input": {"id": 1}})
    body = assert_envelope_error(response, 405)
    assert body["message"] == "Method not allowed"
    listed = {m.strip() for m in response.headers["Allow"].split(",")}
    assert allowed <= listed
    assert listed <= allowed | {"HEAD", "OPTIONS"}
    assert sql("SELECT id, name FROM users") == ((1, "Ann"),)


def test_unexpected_errors_are_a_bare_500(app):
    """Anything unexpected is answered in the envelope with nothing internal in it."""
    def boom():
        raise RuntimeError("secret detail: password=hunter2 at db.internal:3306")

    app.add_url_rule("/test-boom", "test_boom", boom)
    response = app.test_client().get("/test-boom", headers={"X-Request-ID": "trace-me"})
    body = assert_envelope_error(response, 500)
    assert body["message"] == "Internal server error"
    assert body["details"] is None
    text = response.get_data(as_text=True)
    assert "hunter2" not in text and "RuntimeError" not in text and "db.internal" not in text
    assert response.headers["X-Request-ID"] == "trace-me"


def test_success_keys_are_exactly_the_contract(client, people):
    body = client.post("/api/users", json={"input": {"name": "Bob"}}).get_json()
    assert list(body) == ["timestamp", "message", "data", "retry_count"]
    body = client.get("/api/nosuch/query").get_json()
    assert list(body) == ["timestamp", "error_code", "message", "retry_count", "details"]
