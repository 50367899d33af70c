"""The live OpenAPI document: valid OpenAPI 3.1, and the service keeps its promises.

schemathesis generates requests from the document against the real test database (positive
data, bounded examples) and checks that nothing answers 5xx and that every response's status,
content type and body are the ones the document declares.
"""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from tablegate.api.openapi import column_schema
from tablegate.db.schema import Column


def test_document_is_valid_openapi_31(client):
    document = client.get("/openapi.json").get_json()
    validate(document)
    assert document["openapi"] == "3.1.0"
    assert {"/api/users", "/api/users/query", "/api/users/schema", "/api/kinds"} <= set(
        document["paths"])
    users = document["components"]["schemas"]["table.users"]["properties"]
    assert users["email"] == {"type": ["string", "null"], "maxLength": 100,
                              "description": "varchar(100)"}
    assert users["id"]["type"] == ["integer"]


def test_every_route_is_in_the_document(client):
    """Issue 12: the CSV exports, readiness and metrics too, besides CRUD, jobs and imports."""
    paths = client.get("/openapi.json").get_json()["paths"]
    for path in ("/api/users/export", "/api/batch/users/export", "/api/kinds/export",
                 "/api/batch/kinds/export", "/health", "/ready", "/metrics", "/openapi.json",
                 "/api/tables", "/api/batch/import", "/api/batch/jobs/{job_id}",
                 "/api/users/{key}"):
        assert "get" in paths[path] or "post" in paths[path], path
    for path in ("/api/users/export", "/api/batch/users/export"):
        export = paths[path]["get"]
        assert list(export["responses"]["200"]["content"]) == ["text/csv"]
        names = {p["name"] for p in export["parameters"]}
        assert {"limit", "offset", "columns", "order_by", "name", "email"} <= names
    assert list(paths["/metrics"]["get"]["responses"]["200"]["content"]) == ["text/plain"]
    assert "503" in paths["/ready"]["get"]["responses"]


@pytest.mark.parametrize("path", ["/api/users/query", "/api/users/export",
                                  "/api/batch/users/export"])
def test_columns_and_order_by_are_comma_separated_arrays(client, path):
    parameters = {p["name"]: p for p in client.get("/openapi.json").get_json()["paths"][path][
        "get"]["parameters"]}
    assert parameters["columns"]["schema"] == {
        "type": "array", "items": {"enum": ["id", "name", "email", "age"]}}
    assert parameters["order_by"]["schema"]["type"] == "array"
    assert parameters["order_by"]["schema"]["items"]["enum"][:2] == ["id", "-id"]
    for name in ("columns", "order_by"):
        assert (parameters[name]["style"], parameters[name]["explode"]) == ("form", False)


def test_the_arrays_serialised_as_documented_are_understood(client, sql):
    sql("INSERT INTO users (name, email, age) VALUES ('Ann', 'a@x', 30), ('Bob', 'b@x', 40)")
    rows = client.get("/api/users/query?columns=name,age&order_by=-age,name").get_json()[
        "data"]["rows"]
    assert rows == [{"name": "Bob", "age": 40}, {"name": "Ann", "age": 30}]
    export = client.get("/api/users/export?columns=name,age&order_by=-age")
    assert export.mimetype == "text/csv"
    assert export.get_data(as_text=True).splitlines() == ["name,age", "Bob,40", "Ann,30"]


def test_a_column_with_a_comma_is_not_offered_in_a_list(client, sql):
    sql("CREATE TABLE commas (id INT PRIMARY KEY, `a,b` INT)")
    try:
        document = client.get("/openapi.json").get_json()
        validate(document)
        parameters = {p["name"]: p for p in document["paths"]["/api/commas/query"]["get"][
            "parameters"]}
        assert parameters["columns"]["schema"]["items"]["enum"] == ["id"]
        assert "a,b" in parameters  # still a filter
    finally:
        sql("DROP TABLE commas")


def test_document_follows_the_live_schema(client, sql):
    sql("CREATE TABLE late_arrival (id INT PRIMARY KEY, `odd name ✓` VARCHAR(5))")
    try:
        document = client.get("/openapi.json").get_json()
        validate(document)
        assert "/api/late_arrival/query" in document["paths"]
        assert "odd name ✓" in document["components"]["schemas"]["table.late_arrival"][
            "properties"]
    finally:
        sql("DROP TABLE late_arrival")


@pytest.mark.parametrize("column_type, data_type, nullable, expected", [
    pytest.param("int(11)", "int", False, ["integer"], id="int"),
    pytest.param("bigint(20)", "bigint", True, ["integer", "null"], id="bigint-null"),
    pytest.param("tinyint(1)", "tinyint", False, ["integer", "boolean"], id="bool"),
    pytest.param("decimal(12,4)", "decimal", False, ["string", "number"], id="decimal"),
    pytest.param("double", "double", False, ["number"], id="double"),
    pytest.param("date", "date", True, ["string", "null"], id="date"),
    pytest.param("blob", "blob", False, ["string"], id="blob"),
])
def test_column_types(column_type, data_type, nullable, expected):
    column = Column(name="c", data_type=data_type, column_type=column_type, nullable=nullable,
                    default=None, key="", auto_increment=False, max_length=None)
    assert column_schema(column)["type"] == expected


def test_api_keeps_the_document(app):
    # Driven through strategies rather than schemathesis' pytest plugin, which does not run
    # under pytest 9.
    api = schemathesis.openapi.from_wsgi("/openapi.json", app)
    operations = [result.ok() for result in api.get_all_operations()]
    assert len(operations) >= 12
    for operation in operations:

        # The document excludes the route words as keys ("not"); schemathesis draws them anyway
        # from the constants it collects from the document, and they reach other routes.
        @given(case=operation.as_strategy().filter(_not_a_route_word))
        @settings(max_examples=25, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                           content_type_conformance,
                                           response_schema_conformance])

        check()


def _not_a_route_word(case) -> bool:
    return (case.path_parameters or {}).get("key") not in ("query", "schema", "export")
