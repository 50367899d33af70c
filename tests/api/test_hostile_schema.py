"""Every endpoint on every object of a schema as real databases have them (issue 13, the
``hostile_schema`` fixture: triggers, CHECK constraints, generated and invisible columns, a
foreign key, an aggregate view, a CHECK OPTION view): not one response is a 500, and each is
the status the contract gives it."""
from __future__ import annotations

from decimal import Decimal

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from openapi_spec_validator import validate
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (content_type_conformance,
                                               response_schema_conformance,
                                               status_code_conformance)

from tablegate.api.crud import ROUTE_WORDS
from tests.conftest import assert_envelope_error, assert_envelope_success
from tests.helpers import upload


@pytest.fixture
def client(hostile_schema, app):
    return app.test_client()


#: Per object: a row the object takes, one it refuses, a change, and a row's key.
OBJECTS = {
    "customers": {"good": {"id": 3, "name": "Cid"}, "bad": {"id": 4},
                  "change": {"dept": "ops"}, "key": "1", "spare_key": "3",
                  "rows": "id,name\n10,Dee\n11,\n12,Eve\n"},
    "orders": {"good": {"customer_id": 1, "qty": 3}, "bad": {"customer_id": 1, "qty": 0},
               "change": {"note": "changed"}, "key": "1", "spare_key": "3",
               "rows": "customer_id,qty,note\n1,5,a\n1,0,b\n2,6,c\n"},
    "order_counts": {"good": {"customer_id": 1, "n": 1}, "bad": {"n": 0},
                     "change": {"n": 5}, "key": "1", "spare_key": "1",
                     "rows": "customer_id,n\n1,1\n"},
    "big_orders": {"good": {"customer_id": 1, "qty": 20}, "bad": {"customer_id": 1, "qty": 5},
                   "change": {"note": "changed"}, "key": "2", "spare_key": "2",
                   "rows": "customer_id,qty,note\n1,10,a\n1,9,b\n2,11,c\n"},
}

#: The status of every request below, per object. A view has no primary key (its row routes
#: are 400) and the aggregate view takes no write at all (405, before any statement).
EXPECTED = {
    "customers": {
        "tables": 200, "schema": 200, "query": 200, "query-body": 200, "row": 200,
        "insert": 201, "insert-refused": 422, "bulk-insert-refused": 422, "update": 200,
        "patch": 200, "delete-row": 200, "delete-referenced": 409, "export": 200,
        "batch-export": 200, "import-own-export": 200, "import-rows": 207, "openapi": 200},
    "orders": {
        "tables": 200, "schema": 200, "query": 200, "query-body": 200, "row": 200,
        "insert": 201, "insert-refused": 422, "bulk-insert-refused": 422, "update": 200,
        "patch": 200, "delete-row": 200, "delete-referenced": 200, "export": 200,
        "batch-export": 200, "import-own-export": 200, "import-rows": 207, "openapi": 200},
    "order_counts": {
        "tables": 200, "schema": 200, "query": 200, "query-body": 200, "row": 400,
        "insert": 405, "insert-refused": 405, "bulk-insert-refused": 405, "update": 405,
        "patch": 405, "delete-row": 405, "delete-referenced": 405, "export": 200,
        "batch-export": 200, "import-own-export": 405, "import-rows": 405, "openapi": 200},
    "big_orders": {
        "tables": 200, "schema": 200, "query": 200, "query-body": 200, "row": 400,
        "insert": 201, "insert-refused": 422, "bulk-insert-refused": 422, "update": 200,
        "patch": 400, "delete-row": 400, "delete-referenced": 200, "export": 200,
        "batch-export": 200, "import-own-export": 200, "import-rows": 207, "openapi": 200},
}


def requests(name: str) -> dict:
    """Each request as (method, path, JSON body or an upload)."""
    o = OBJECTS[name]
    return {
        "tables": ("GET", "/api/tables", None),
        "schema": ("GET", f"/api/{name}/schema", None),
        "query": ("GET", f"/api/{name}/query", None),
        "query-body": ("POST", f"/api/{name}/query", {"input": {}}),
        "row": ("GET", f"/api/{name}/{o['key']}", None),
        "insert": ("POST", f"/api/{name}", {"input": o["good"]}),
        "insert-refused": ("POST", f"/api/{name}", {"input": o["bad"]}),
        "bulk-insert-refused": ("POST", f"/api/{name}", {"input": [o["bad"], o["good"]]}),
        "update": ("PUT", f"/api/{name}", {"input": o["change"], "where": {"customer_id": 1}
                                           if name != "customers" else {"id": 1}}),
        "patch": ("PATCH", f"/api/{name}/{o['key']}", {"input": o["change"]}),
        "delete-row": ("DELETE", f"/api/{name}/{o['spare_key']}", None),
        "delete-referenced": ("DELETE", f"/api/{name}", {"input": {"id": 2}}
                              if name != "order_counts" else {"input": {"n": 1}}),
        "export": ("GET", f"/api/{name}/export", None),
        "batch-export": ("GET", f"/api/batch/{name}/export", None),
        "import-own-export": ("IMPORT", name, "own-export"),
        "import-rows": ("IMPORT", name, o["rows"]),
        "openapi": ("GET", "/openapi.json", None),
    }


def send(client, name: str, method: str, path: str, body):
    if method != "IMPORT":
        return client.open(path, method=method, json=body)
    if body == "own-export":  # as it is, generated columns and all; upsert: the rows exist
        exported = client.get(f"/api/{name}/export").get_data()
        return upload(client, exported, name, "&mode=upsert")
    return upload(client, body, name)


@pytest.mark.parametrize("name", list(OBJECTS))
def test_every_endpoint_on_every_object(client, name):
    statuses = {}
    for label, (method, path, body) in requests(name).items():
        response = send(client, name, method, path, body)
        response.get_data()  # a streamed export to its end
        statuses[label] = response.status_code
        if response.status_code >= 400:
            assert_envelope_error(response, response.status_code)
        elif response.is_json and path != "/openapi.json":
            assert_envelope_success(response, response.status_code)
    assert 500 not in statuses.values(), statuses
    assert statuses == EXPECTED[name]


# --- what the schema says, and what follows from it -----------------------------------------

def test_discovery_says_what_each_object_takes(client):
    tables = {t["name"]: t for t in assert_envelope_success(client.get("/api/tables"))["data"][
        "tables"]}
    assert {name: {k: v for k, v in t.items() if k in ("type", "insertable", "updatable")}
            for name, t in tables.items() if name in OBJECTS} == {
        "customers": {"type": "table"},
        "orders": {"type": "table"},
        "order_counts": {"type": "view", "insertable": False, "updatable": False},
        "big_orders": {"type": "view", "insertable": True, "updatable": True},
    }
    schema = assert_envelope_success(client.get("/api/orders/schema"))["data"]
    columns = {c["name"]: (c["generated"], c["invisible"]) for c in schema["columns"]}
    assert columns == {"id": (None, False), "customer_id": (None, False),
                       "price": (None, False), "qty": (None, False),
                       "total": ("stored", False), "dbl": ("virtual", False),
                       "note": (None, False), "secret": (None, True)}


def test_the_document_leaves_out_the_writes_a_view_cannot_take(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert "/api/order_counts" not in paths  # no insert, update or delete left
    assert set(paths["/api/order_counts/{key}"]) - {"parameters"} == {"get"}
    assert set(paths["/api/big_orders"]) == {"post", "put", "delete"}
    assert set(paths["/api/orders/{key}"]) - {"parameters"} == {"get", "patch", "delete"}
    tables = paths["/api/batch/import"]["post"]["parameters"]
    assert "order_counts" not in next(p for p in tables if p["name"] == "table")["schema"][
        "enum"]
    rows = client.get("/openapi.json").get_json()["components"]["schemas"]["table.orders"]
    assert rows["properties"]["total"]["readOnly"] is True
    assert "readOnly" not in rows["properties"]["qty"]


def test_a_view_refuses_a_write_before_any_statement(app, client):
    """405 and the envelope, with Allow naming what the path still takes; the pool is not
    even borrowed once the view is read."""
    client.get("/api/order_counts/schema")
    pool = app.extensions["tablegate"].pool
    borrowed = pool.borrowed
    for method, path, body in (
            ("POST", "/api/order_counts", {"input": {"n": 1}}),
            ("PUT", "/api/order_counts", {"input": {"n": 1}, "where": {"n": 2}}),
            ("DELETE", "/api/order_counts", {"input": {"n": 1}}),
            ("PATCH", "/api/order_counts/1", {"input": {"n": 1}}),
            ("DELETE", "/api/order_counts/1", None)):
        response = client.open(path, method=method, json=body)
        details = assert_envelope_error(response, 405)["details"]
        assert details == {"table": "order_counts", "type": "view", "insertable": False,
                           "updatable": False}
        assert method not in response.headers["Allow"]
    assert pool.borrowed == borrowed
    assert client.get("/api/order_counts/1").status_code == 400  # no key, but a read


def test_a_generated_column_in_a_write_is_a_400_that_names_it(app, client, sql):
    client.get("/api/orders/schema")
    pool = app.extensions["tablegate"].pool
    borrowed = pool.borrowed
    for method, path, body in (
            ("POST", "/api/orders", {"input": {"qty": 1, "total": 9}}),
            ("PUT", "/api/orders", {"input": {"dbl": 9}, "where": {"id": 1}}),
            ("PATCH", "/api/orders/1", {"input": {"total": 9}})):
        body = assert_envelope_error(client.open(path, method=method, json=body), 400)
        assert body["details"]["column"] in ("total", "dbl")
        assert body["details"]["generated"] in ("stored", "virtual")
        assert repr(body["details"]["column"]) in body["message"]
    assert pool.borrowed == borrowed
    assert sql("SELECT id, total, dbl FROM orders ORDER BY id") == (
        (1, Decimal("10.00"), 8), (2, Decimal("12.00"), 24))


def test_an_export_imports_back_generated_columns_and_all(client, sql):
    exported = client.get("/api/orders/export").get_data(as_text=True)
    assert exported.splitlines()[0] == "id,customer_id,price,qty,total,dbl,note"  # no secret
    sql("DELETE FROM orders")
    data = assert_envelope_success(upload(client, exported, "orders"))["data"]
    assert data["columns_skipped"] == ["total", "dbl"]
    assert (data["rows_inserted"], data["rows_failed"]) == (2, 0)
    assert client.get("/api/orders/export").get_data(as_text=True) == exported


def test_invisible_columns_behave_as_select_star_does(client, sql):
    rows = assert_envelope_success(client.get("/api/orders/1"))["data"]
    assert "secret" not in rows
    named = assert_envelope_success(client.get("/api/orders/query?columns=id,secret"))["data"]
    assert named["rows"] == [{"id": 1, "secret": "s1"}, {"id": 2, "secret": "s2"}]
    assert_envelope_success(client.post("/api/orders", json={"input": {
        "id": 3, "qty": 1, "secret": "mine"}}), 201)
    assert sql("SELECT secret FROM orders WHERE id = 3") == (("mine",),)
    assert client.get("/api/orders/export?columns=id,secret").get_data(as_text=True) == (
        "id,secret\r\n1,s1\r\n2,s2\r\n3,mine\r\n")


def test_the_document_holds_over_the_hostile_schema(app, client):
    """schemathesis drives every operation of the document with generated requests: none is
    a 500, and each status and body is one the document declares (a few examples each)."""
    document = client.get("/openapi.json").get_json()
    validate(document)
    api = schemathesis.openapi.from_wsgi("/openapi.json", app)
    for operation in [result.ok() for result in api.get_all_operations()]:
        if not any(name in operation.path for name in OBJECTS):
            continue

        @given(case=operation.as_strategy().filter(
            lambda case: (case.path_parameters or {}).get("key") not in ROUTE_WORDS))
        @settings(max_examples=8, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate(checks=[not_a_server_error, status_code_conformance,
                                           content_type_conformance,
                                           response_schema_conformance])

        check()
