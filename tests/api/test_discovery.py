"""Discovery: /api/tables and /api/{table}/schema show the database as it is now."""
from __future__ import annotations

import pytest

from tests.conftest import assert_envelope_error, assert_envelope_success


def test_tables_lists_every_table_with_its_key(client, sql):
    sql("CREATE TABLE pairs (a INT, b VARCHAR(3), PRIMARY KEY (b, a))")
    sql("CREATE TABLE keyless (x INT)")
    try:
        body = assert_envelope_success(client.get("/api/tables"))
        tables = {t["name"]: t for t in body["data"]["tables"]}
        assert body["data"]["count"] == len(tables)
        assert tables["users"]["primary_key"] == ["id"]
        assert tables["pairs"]["primary_key"] == ["b", "a"]  # key order, not column order
        assert tables["keyless"]["primary_key"] == []
        assert {t["type"] for t in tables.values()} == {"table"}
        assert all(isinstance(t["estimated_rows"], int) for t in tables.values())
    finally:
        sql("DROP TABLE pairs")
        sql("DROP TABLE keyless")


def test_schema_describes_columns(client):
    body = assert_envelope_success(client.get("/api/kinds/schema"))
    columns = {c["name"]: c for c in body["data"]["columns"]}
    assert body["data"]["type"] == "table"
    assert body["data"]["primary_key"] == ["id"]
    assert list(columns)[:3] == ["id", "price", "born"]  # table order
    assert columns["id"] == {"name": "id", "data_type": "int", "column_type": "int(11)",
                             "nullable": False, "default": None, "key": "PRI",
                             "auto_increment": True, "max_length": None,
                             "generated": None, "invisible": False}
    assert columns["price"]["column_type"] == "decimal(12,4)"
    assert columns["label"]["default"] == "x"  # MariaDB reports 'x'; the value is x
    assert columns["label"]["nullable"] is False
    assert columns["notes"]["default"] is None


def test_schema_sees_an_alter_at_once(client, sql):
    client.get("/api/users/schema")
    sql("ALTER TABLE users ADD COLUMN nickname VARCHAR(20) DEFAULT 'it''s me'")
    columns = {c["name"]: c for c in client.get("/api/users/schema").get_json()["data"][
        "columns"]}
    assert columns["nickname"]["default"] == "it's me"


@pytest.mark.parametrize("name", [
    pytest.param("nosuch", id="missing"),
    pytest.param("USERS", id="case-differs"),
    pytest.param("users`; DROP TABLE users; --", id="injection"),
    pytest.param("x" * 300, id="300-chars"),
])
def test_schema_of_unknown_table_is_404(client, sql, name):
    assert_envelope_error(client.get(f"/api/{name}/schema"), 404)
    assert sql("SHOW TABLES LIKE %s", ("users",)) == (("users",),)
