"""Exposure: TABLEGATE_TABLES, TABLEGATE_DENY_TABLES and system schemas (issue 6, item 2). A
table that is not exposed answers exactly like one that does not exist, on every endpoint."""
from __future__ import annotations

import io
import json
from urllib.parse import quote

import pytest

from tests.conftest import assert_envelope_error, assert_envelope_success

SECRET_DDL = "CREATE TABLE secret (id INT PRIMARY KEY, name VARCHAR(20))"


@pytest.fixture
def make_client(make_app, sql):
    """Clients for apps with exposure settings, over a table worth hiding."""
    sql("DROP TABLE IF EXISTS secret")
    sql(SECRET_DDL)
    sql("INSERT INTO secret VALUES (1, 'crown jewels')")
    yield lambda **overrides: make_app(**overrides).test_client()
    sql("DROP TABLE IF EXISTS secret")


def every_endpoint(name: str) -> list[tuple[str, str, dict | None, str | None]]:
    """(method, path, json body, uploaded file name) naming the table ``name`` everywhere."""
    table = quote(name, safe="")
    return [
        ("GET", f"/api/{table}/query", None, None),
        ("GET", f"/api/{table}/query?id=1", None, None),
        ("POST", f"/api/{table}/query", {"input": {"id": 1}}, None),
        ("POST", f"/api/{table}", {"input": {"id": 2, "name": "x"}}, None),
        ("POST", f"/api/{table}", {"input": [{"id": 3}, {"id": 4}]}, None),
        ("PUT", f"/api/{table}", {"input": {"name": "x"}, "where": {"id": 1}}, None),
        ("DELETE", f"/api/{table}", {"input": {"id": 1}}, None),
        ("GET", f"/api/{table}/1", None, None),
        ("PATCH", f"/api/{table}/1", {"input": {"name": "x"}}, None),
        ("DELETE", f"/api/{table}/1", None, None),
        ("GET", f"/api/{table}/schema", None, None),
        ("GET", f"/api/{table}/export", None, None),
        ("GET", f"/api/batch/{table}/export", None, None),
        ("POST", f"/api/batch/import?table={table}", None, "data.csv"),
        ("POST", "/api/batch/import", None, f"{name}.csv"),
    ]


def send(client, method, path, body, upload):
    if upload is not None:
        data = {"file": (io.BytesIO(b"id,name\n9,x\n"), upload)}
        return client.open(path, method=method, data=data, content_type="multipart/form-data")
    return client.open(path, method=method, json=body)


def same_answer(client, name: str, missing: str) -> None:
    """Every endpoint answers for ``name`` exactly as for the missing table ``missing``."""
    for (method, path, body, upload), (_, other, _, other_upload) in zip(
            every_endpoint(name), every_endpoint(missing)):
        hidden = assert_envelope_error(send(client, method, path, body, upload), 404)
        absent = assert_envelope_error(send(client, method, other, body, other_upload), 404)
        assert hidden["message"] == absent["message"].replace(repr(missing), repr(name)), path
        assert hidden["details"] == absent["details"], path


def listed(client) -> list[str]:
    body = assert_envelope_success(client.get("/api/tables"))
    return [table["name"] for table in body["data"]["tables"]]


def openapi_text(client) -> str:
    response = client.get("/openapi.json")
    assert response.status_code == 200
    return json.dumps(response.get_json())


def test_a_denied_table_is_missing_everywhere(make_client, sql):
    client = make_client(deny_tables=("secret",))
    same_answer(client, "secret", "nosuch")
    assert "secret" not in listed(client) and "users" in listed(client)
    assert "secret" not in openapi_text(client) and "/api/users" in openapi_text(client)
    assert sql("SELECT id, name FROM secret") == ((1, "crown jewels"),)


def test_the_allow_list_exposes_only_its_tables(make_client, sql):
    client = make_client(tables=("users",))
    same_answer(client, "secret", "nosuch")
    same_answer(client, "kinds", "nosuch")
    assert listed(client) == ["users"]
    assert "kinds" not in openapi_text(client) and "secret" not in openapi_text(client)
    assert_envelope_success(client.get("/api/users/query"))
    assert sql("SELECT id, name FROM secret") == ((1, "crown jewels"),)


def test_deny_wins_over_allow(make_client):
    client = make_client(tables=("users", "secret"), deny_tables=("secret",))
    same_answer(client, "secret", "nosuch")
    assert listed(client) == ["users"]


def test_names_match_exactly(make_client):
    """`Secret` is not `secret`: the deny list cannot be dodged by case, nor the allow-list
    widened by it."""
    client = make_client(tables=("users",), deny_tables=("secret",))
    same_answer(client, "Secret", "nosuch")
    same_answer(client, "Users", "nosuch")


@pytest.mark.parametrize("name", ["mysql.user", "information_schema.tables",
                                  "performance_schema.threads", "INFORMATION_SCHEMA.TABLES",
                                  "`mysql`.`user`", "mysql`.`user", "TABLES", "user"])
def test_system_schemas_are_unreachable(make_client, sql, name):
    """Names are looked up in the configured database only (``DATABASE()``): a qualified or
    quoted name is just a name that no table there has."""
    client = make_client()
    same_answer(client, name, "nosuch")
    assert not any(table.startswith(("mysql", "information", "performance"))
                   for table in listed(client))
    assert "performance_schema" not in openapi_text(client)
