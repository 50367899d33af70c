"""Every CRUD endpoint against the real MariaDB (CONTRACT.md "CRUD" and "Status codes"): the happy
paths with the rows they leave in the database, and every status CRUD can answer."""
from __future__ import annotations

import pytest

from tests.conftest import assert_envelope_error, assert_envelope_success

PEOPLE = [  # id, name, email, age
    (1, "Ann", "ann@example.com", 30),
    (2, "Bob", "bob@example.com", 25),
    (3, "Cid", None, None),
    (4, "Dee", "dee@example.com", 41),
    (5, "Jan", "jan@example.com", 30),
]


@pytest.fixture
def people(sql, seed_tables):
    sql("INSERT INTO users (id, name, email, age) VALUES " + ", ".join(["(%s, %s, %s, %s)"] * 5),
        [v for row in PEOPLE for v in row])


@pytest.fixture
def family(sql, seed_tables):
    """A parent/child pair joined by a foreign key, created here and dropped afterwards."""
    sql("DROP TABLE IF EXISTS child")
    sql("DROP TABLE IF EXISTS parent")
    sql("CREATE TABLE parent (id INT PRIMARY KEY) ENGINE=InnoDB")
    sql("CREATE TABLE child (id INT PRIMARY KEY, parent_id INT NOT NULL,"
        " FOREIGN KEY (parent_id) REFERENCES parent (id)) ENGINE=InnoDB")
    sql("INSERT INTO parent VALUES (1), (2)")
    sql("INSERT INTO child VALUES (10, 1)")
    yield
    sql("DROP TABLE child")
    sql("DROP TABLE parent")


def users(sql):
    return list(sql("SELECT id, name, email, age FROM users ORDER BY id"))


def ids(response) -> list[int]:
    return [row["id"] for row in assert_envelope_success(response)["data"]["rows"]]


# --- POST /api/{table} ----------------------------------------------------------------------

def test_insert_one_row(client, sql):
    response = client.post("/api/users", json={"input": {"name": "Ann", "email": "a@x.io",
                                                         "age": 30}})
    body = assert_envelope_success(response, 201)
    assert body["message"] == "Record inserted successfully"
    assert body["data"] == {"rows_affected": 1, "last_insert_id": 1}
    assert users(sql) == [(1, "Ann", "a@x.io", 30)]


def test_insert_second_row_reports_its_id(client, people, sql):
    body = assert_envelope_success(client.post("/api/users", json={"input": {"name": "Eve"}}), 201)
    assert body["data"] == {"rows_affected": 1, "last_insert_id": 6}
    assert users(sql)[-1] == (6, "Eve", None, None)


def test_insert_with_explicit_primary_key(client, sql):
    body = assert_envelope_success(
        client.post("/api/users", json={"input": {"id": 42, "name": "Zed"}}), 201)
    assert body["data"] == {"rows_affected": 1, "last_insert_id": 42}
    assert users(sql) == [(42, "Zed", None, None)]


def test_insert_empty_object_inserts_the_defaults(client, sql):
    body = assert_envelope_success(client.post("/api/users", json={"input": {}}), 201)
    assert body["data"] == {"rows_affected": 1, "last_insert_id": 1}
    assert users(sql) == [(1, None, None, None)]


def test_bulk_insert(client, sql):
    """``last_insert_id`` of a multi-row insert is MySQL's LAST_INSERT_ID(): the id of the first
    row of the batch; the batch's ids follow it consecutively."""
    response = client.post("/api/users", json={"input": [
        {"name": "Ann", "email": "ann@x.io", "age": 30},
        {"name": "Bob", "email": "bob@x.io", "age": 25},
        {"name": "Cid", "email": "cid@x.io", "age": 7},
    ]})
    body = assert_envelope_success(response, 201)
    assert body["message"] == "Records inserted successfully"
    assert body["data"] == {"rows_affected": 3, "last_insert_id": 1}
    assert users(sql) == [(1, "Ann", "ann@x.io", 30), (2, "Bob", "bob@x.io", 25),
                          (3, "Cid", "cid@x.io", 7)]


def test_bulk_insert_rows_may_name_different_columns(client, sql):
    response = client.post("/api/kinds", json={"input": [{"label": "a", "notes": "n"},
                                                         {"flag": 1}]})
    assert assert_envelope_success(response, 201)["data"]["rows_affected"] == 2
    assert sql("SELECT label, notes, flag FROM kinds ORDER BY id") == (("a", "n", None),
                                                                      ("x", None, 1))


def test_bulk_insert_is_one_transaction(client, people, sql):
    """The third row collides: none of the batch lands."""
    response = client.post("/api/users", json={"input": [
        {"name": "New1", "email": "new1@x.io"},
        {"name": "New2", "email": "new2@x.io"},
        {"name": "Dup", "email": "ann@example.com"},
    ]})
    body = assert_envelope_error(response, 409)
    assert body["details"]["mysql_errno"] == 1062
    assert users(sql) == PEOPLE


def test_bulk_insert_over_max_bulk_rows_is_413(make_client, sql):
    client = make_client(max_bulk_rows=3)
    rows = [{"name": f"u{i}"} for i in range(4)]
    body = assert_envelope_error(client.post("/api/users", json={"input": rows}), 413)
    assert body["details"] == {"rows": 4, "max_rows": 3}
    assert users(sql) == []
    assert_envelope_success(client.post("/api/users", json={"input": rows[:3]}), 201)
    assert len(users(sql)) == 3


# --- GET and POST /api/{table}/query --------------------------------------------------------

def test_select_all(client, people):
    body = assert_envelope_success(client.get("/api/users/query"))
    assert body["message"] == "Records retrieved successfully"
    assert body["data"] == {
        "rows": [dict(zip(("id", "name", "email", "age"), row)) for row in PEOPLE],
        "count": 5, "limit": 100, "offset": 0,
    }


def test_select_all_with_post_and_no_conditions(client, people):
    body = assert_envelope_success(client.post("/api/users/query", json={}))
    assert [r["id"] for r in body["data"]["rows"]] == [1, 2, 3, 4, 5]
    assert body["data"]["count"] == 5


def test_select_from_empty_table(client):
    body = assert_envelope_success(client.get("/api/users/query"))
    assert body["data"] == {"rows": [], "count": 0, "limit": 100, "offset": 0}


def test_equality_in_query_string(client, people):
    body = assert_envelope_success(client.get("/api/users/query?name=Bob"))
    assert body["data"]["rows"] == [{"id": 2, "name": "Bob", "email": "bob@example.com",
                                     "age": 25}]


def test_equality_in_body(client, people):
    assert ids(client.post("/api/users/query", json={"input": {"age": 30}})) == [1, 5]


def test_conditions_are_anded(client, people):
    assert ids(client.get("/api/users/query?age=30&name=Jan")) == [5]
    assert ids(client.post("/api/users/query", json={"input": {"age": 30, "name": "Jan"}})) == [5]
    assert ids(client.get("/api/users/query?age=gte.25&age=lt.30")) == [2]


def test_null_means_is_null(client, people):
    assert ids(client.post("/api/users/query", json={"input": {"age": None}})) == [3]
    assert ids(client.post("/api/users/query", json={"input": {"email": {"eq": None}}})) == [3]
    assert ids(client.post("/api/users/query",
                           json={"input": {"email": {"ne": None}}})) == [1, 2, 4, 5]


# (query string, body conditions, expected ids): every operator in both forms.
OPERATORS = [
    pytest.param("age=eq.30", {"age": {"eq": 30}}, [1, 5], id="eq"),
    pytest.param("age=ne.30", {"age": {"ne": 30}}, [2, 4], id="ne"),
    pytest.param("age=gt.30", {"age": {"gt": 30}}, [4], id="gt"),
    pytest.param("age=gte.30", {"age": {"gte": 30}}, [1, 4, 5], id="gte"),
    pytest.param("age=lt.30", {"age": {"lt": 30}}, [2], id="lt"),
    pytest.param("age=lte.30", {"age": {"lte": 30}}, [1, 2, 5], id="lte"),
    pytest.param("name=like.J%25", {"name": {"like": "J%"}}, [5], id="like"),
    pytest.param("name=like.%25e%25", {"name": {"like": "%e%"}}, [4], id="like-infix"),
    pytest.param("id=in.1,3,5", {"id": {"in": [1, 3, 5]}}, [1, 3, 5], id="in"),
    pytest.param("id=in.", {"id": {"in": []}}, [], id="in-empty"),
    pytest.param("age=is.null", {"age": {"is": None}}, [3], id="is-null"),
    pytest.param("age=is.null", {"age": {"is": "null"}}, [3], id="is-null-as-text"),
    pytest.param("age=not.is.null", {"age": {"not.is": None}}, [1, 2, 4, 5], id="not-is-null"),
    pytest.param("age=not.eq.30", {"age": {"not.eq": 30}}, [2, 4], id="not-eq"),
    pytest.param("age=not.gt.29", {"age": {"not.gt": 29}}, [2], id="not-gt"),
    pytest.param("id=not.in.1,2", {"id": {"not.in": [1, 2]}}, [3, 4, 5], id="not-in"),
    pytest.param("name=not.like.%25n", {"name": {"not.like": "%n"}}, [2, 3, 4], id="not-like"),
    pytest.param("age=gte.25&age=lte.30", {"age": {"gte": 25, "lte": 30}}, [1, 2, 5],
                 id="two-operators-one-column"),
    pytest.param("age=30", {"age": 30}, [1, 5], id="bare-value-is-eq"),
    pytest.param("email=dee.example", {"email": "dee.example"}, [], id="dotted-value-is-eq"),
]


@pytest.mark.parametrize("query, conditions, expected", OPERATORS)
def test_operator_in_query_string(client, people, query, conditions, expected):
    assert ids(client.get(f"/api/users/query?{query}")) == expected


@pytest.mark.parametrize("query, conditions, expected", OPERATORS)
def test_operator_in_body(client, people, query, conditions, expected):
    assert ids(client.post("/api/users/query", json={"input": conditions})) == expected


def test_is_true_and_false(client, sql):
    sql("INSERT INTO kinds (id, flag) VALUES (1, 1), (2, 0), (3, NULL)")
    assert ids(client.get("/api/kinds/query?flag=is.true")) == [1]
    assert ids(client.get("/api/kinds/query?flag=is.false")) == [2]
    assert ids(client.post("/api/kinds/query", json={"input": {"flag": {"is": True}}})) == [1]
    assert ids(client.post("/api/kinds/query",
                           json={"input": {"flag": {"not.is": False}}})) == [1, 3]


def test_columns(client, people):
    body = assert_envelope_success(client.get("/api/users/query?columns=name,age&id=2"))
    assert body["data"]["rows"] == [{"name": "Bob", "age": 25}]
    body = assert_envelope_success(client.post("/api/users/query", json={
        "input": {"id": 2}, "columns": ["email"]}))
    assert body["data"]["rows"] == [{"email": "bob@example.com"}]


def test_order_by(client, people):
    assert ids(client.get("/api/users/query?order_by=-age,name&age=not.is.null")) == [4, 1, 5, 2]
    assert ids(client.get("/api/users/query?order_by=age,-id&age=not.is.null")) == [2, 5, 1, 4]
    assert ids(client.post("/api/users/query", json={
        "order_by": ["-name"]})) == [5, 4, 3, 2, 1]


def test_limit_and_offset(client, people):
    body = assert_envelope_success(client.get("/api/users/query?limit=2&offset=1"))
    assert [r["id"] for r in body["data"]["rows"]] == [2, 3]
    assert (body["data"]["count"], body["data"]["limit"], body["data"]["offset"]) == (2, 2, 1)
    body = assert_envelope_success(client.post("/api/users/query", json={
        "limit": 2, "offset": 4, "order_by": ["id"]}))
    assert [r["id"] for r in body["data"]["rows"]] == [5]
    assert (body["data"]["count"], body["data"]["limit"], body["data"]["offset"]) == (1, 2, 4)
    assert ids(client.get("/api/users/query?limit=0")) == []
    assert ids(client.get("/api/users/query?offset=99")) == []


def test_limit_defaults_to_100(client, sql):
    sql("INSERT INTO users (name) VALUES " + ", ".join(["(%s)"] * 150),
        [f"u{i}" for i in range(150)])
    body = assert_envelope_success(client.get("/api/users/query"))
    assert body["data"]["count"] == 100 and body["data"]["limit"] == 100
    assert [r["id"] for r in body["data"]["rows"]] == list(range(1, 101))
    body = assert_envelope_success(client.post("/api/users/query", json={"offset": 100}))
    assert [r["id"] for r in body["data"]["rows"]] == list(range(101, 151))


def test_limit_is_capped_by_config(make_client, people):
    client = make_client(default_limit=2, max_limit=3)
    body = assert_envelope_success(client.get("/api/users/query"))
    assert (body["data"]["count"], body["data"]["limit"]) == (2, 2)
    body = assert_envelope_success(client.get("/api/users/query?limit=1000"))
    assert [r["id"] for r in body["data"]["rows"]] == [1, 2, 3]
    assert body["data"]["limit"] == 3
    body = assert_envelope_success(client.post("/api/users/query", json={"limit": 10**12}))
    assert (body["data"]["count"], body["data"]["limit"]) == (3, 3)


def test_limit_is_capped_at_10000_by_default(client, people):
    body = assert_envelope_success(client.get(f"/api/users/query?limit={10**12}"))
    assert body["data"]["limit"] == 10000 and body["data"]["count"] == 5


# --- PUT /api/{table} -----------------------------------------------------------------------

def test_update(client, people, sql):
    response = client.put("/api/users", json={"input": {"age": 31, "name": "Ann B."},
                                               "where": {"id": 1}})
    body = assert_envelope_success(response)
    assert body["message"] == "Records updated successfully"
    assert body["data"] == {"rows_affected": 1}
    assert users(sql)[0] == (1, "Ann B.", "ann@example.com", 31)
    assert users(sql)[1:] == PEOPLE[1:]


def test_update_many_with_operator_and_null(client, people, sql):
    body = assert_envelope_success(client.put("/api/users", json={
        "input": {"email": None}, "where": {"age": {"gte": 30}}}))
    assert body["data"] == {"rows_affected": 3}
    assert [row[2] for row in users(sql)] == [None, "bob@example.com", None, None, None]
    body = assert_envelope_success(client.put("/api/users", json={
        "input": {"age": 0}, "where": {"age": None}}))
    assert body["data"] == {"rows_affected": 1}
    assert users(sql)[2] == (3, "Cid", None, 0)


def test_update_matching_nothing(client, people, sql):
    body = assert_envelope_success(client.put("/api/users", json={
        "input": {"age": 1}, "where": {"id": 99}}))
    assert body["data"] == {"rows_affected": 0}
    assert users(sql) == PEOPLE


# --- DELETE /api/{table} --------------------------------------------------------------------

def test_delete(client, people, sql):
    body = assert_envelope_success(client.delete("/api/users", json={"input": {"id": 2}}))
    assert body["message"] == "Records deleted successfully"
    assert body["data"] == {"rows_affected": 1}
    assert users(sql) == [p for p in PEOPLE if p[0] != 2]


def test_delete_many_with_operators(client, people, sql):
    body = assert_envelope_success(client.delete("/api/users", json={
        "input": {"age": {"in": [30, 41]}, "name": {"not.eq": "Jan"}}}))
    assert body["data"] == {"rows_affected": 2}
    assert [row[0] for row in users(sql)] == [2, 3, 5]


def test_delete_with_null_condition(client, people, sql):
    body = assert_envelope_success(client.delete("/api/users", json={"input": {"email": None}}))
    assert body["data"] == {"rows_affected": 1}
    assert [row[0] for row in users(sql)] == [1, 2, 4, 5]


def test_delete_matching_nothing(client, people, sql):
    body = assert_envelope_success(client.delete("/api/users", json={"input": {"id": 99}}))
    assert body["data"] == {"rows_affected": 0}
    assert users(sql) == PEOPLE


# --- 400 ------------------------------------------------------------------------------------

BODY_ENDPOINTS = [
    pytest.param("post", "/api/users", id="insert"),
    pytest.param("post", "/api/users/query", id="query"),
    pytest.param("put", "/api/users", id="update"),
    pytest.param("delete", "/api/users", id="delete"),
]


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
def test_malformed_json_is_400(client, people, sql, method, path):
    response = client.open(path, method=method.upper(), data='{"input": {"id": 1',
                           content_type="application/json")
    body = assert_envelope_error(response, 400)
    assert body["message"] == "Malformed JSON in request body"
    assert users(sql) == PEOPLE


@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
def test_body_not_an_object_is_400(client, people, sql, method, path):
    response = client.open(path, method=method.upper(), json=[{"input": {"id": 1}}])
    body = assert_envelope_error(response, 400)
    assert body["message"] == "Request body must be a JSON object, not an array"
    assert users(sql) == PEOPLE


@pytest.mark.parametrize("method, path", [p for p in BODY_ENDPOINTS if p.id != "query"])
def test_missing_input_is_400(client, people, sql, method, path):
    body = assert_envelope_error(client.open(path, method=method.upper(), json={}), 400)
    assert "input" in body["details"]["fields"]
    assert users(sql) == PEOPLE


@pytest.mark.parametrize("method, path, payload", [
    pytest.param("post", "/api/users", {"input": {"nosuch": 1}}, id="insert"),
    pytest.param("post", "/api/users", {"input": [{"name": "a"}, {"nosuch": 1}]},
                 id="insert-bulk-second-row"),
    pytest.param("post", "/api/users/query", {"input": {"nosuch": 1}}, id="query-filter"),
    pytest.param("post", "/api/users/query", {"columns": ["nosuch"]}, id="query-columns"),
    pytest.param("post", "/api/users/query", {"order_by": ["-nosuch"]}, id="query-order-by"),
    pytest.param("put", "/api/users", {"input": {"nosuch": 1}, "where": {"id": 1}},
                 id="update-set"),
    pytest.param("put", "/api/users", {"input": {"age": 1}, "where": {"nosuch": 1}},
                 id="update-where"),
    pytest.param("delete", "/api/users", {"input": {"nosuch": 1}}, id="delete"),
])
def test_unknown_column_is_400(client, people, sql, method, path, payload):
    body = assert_envelope_error(client.open(path, method=method.upper(), json=payload), 400)
    assert body["details"]["column"] == "nosuch"
    assert users(sql) == PEOPLE


@pytest.mark.parametrize("query", [
    pytest.param("nosuch=1", id="filter"),
    pytest.param("columns=id,nosuch", id="columns"),
    pytest.param("order_by=-nosuch", id="order-by"),
])
def test_unknown_column_in_query_string_is_400(client, people, query):
    body = assert_envelope_error(client.get(f"/api/users/query?{query}"), 400)
    assert body["details"]["column"] == "nosuch"


@pytest.mark.parametrize("method, payload", [
    pytest.param("put", {"input": {"age": 1}}, id="update-without-where"),
    pytest.param("put", {"input": {"age": 1}, "where": {}}, id="update-empty-where"),
    pytest.param("put", {"input": {"age": 1}, "where": None}, id="update-null-where"),
    pytest.param("delete", {"input": {}}, id="delete-empty-input"),
    pytest.param("delete", {"input": None}, id="delete-null-input"),
])
def test_no_bulk_change_without_where(client, people, sql, method, payload):
    assert_envelope_error(client.open("/api/users", method=method.upper(), json=payload), 400)
    assert users(sql) == PEOPLE


def test_update_with_nothing_to_set_is_400(client, people, sql):
    assert_envelope_error(client.put("/api/users", json={"input": {}, "where": {"id": 1}}), 400)
    assert users(sql) == PEOPLE


@pytest.mark.parametrize("query, operator", [
    pytest.param("age=between.1", None, id="unknown-prefix-is-a-value"),
    pytest.param("age=not.between.1", "between", id="unknown-negated"),
    pytest.param("age=not.30", "30", id="not-without-operator"),
    pytest.param("age=is.maybe", "is", id="is-bad-value"),
])
def test_bad_operator_in_query_string(client, people, query, operator):
    response = client.get(f"/api/users/query?{query}")
    if operator is None:  # a value that merely contains a dot is compared as a value
        assert ids(response) == []
        return
    body = assert_envelope_error(response, 400)
    assert body["details"] == {"column": "age", "operator": operator}


@pytest.mark.parametrize("method, payload", [
    pytest.param("post", {"input": {"age": {"between": [1, 2]}}}, id="query-unknown"),
    pytest.param("post", {"input": {"age": {"not.between": 1}}}, id="query-unknown-negated"),
    pytest.param("post", {"input": {"age": {"gt": None}}}, id="query-gt-null"),
    pytest.param("post", {"input": {"age": {"in": 3}}}, id="query-in-scalar"),
    pytest.param("post", {"input": {"age": {"is": 3}}}, id="query-is-number"),
    pytest.param("post", {"input": {"age": {}}}, id="query-empty-operators"),
    pytest.param("put", {"input": {"age": 1}, "where": {"age": {"EQ": 30}}}, id="update-uppercase"),
    pytest.param("delete", {"input": {"age": {"lte ": 30}}}, id="delete-trailing-space"),
])
def test_bad_operator_in_body(client, people, sql, method, payload):
    path = "/api/users/query" if method == "post" else "/api/users"
    body = assert_envelope_error(client.open(path, method=method.upper(), json=payload), 400)
    assert body["details"]["column"] == "age"
    assert users(sql) == PEOPLE


@pytest.mark.parametrize("query", ["limit=-1", "limit=ten", "offset=1.5", "limit=", "offset=-0",
                                   "limit=%EF%BC%91"])
def test_bad_limit_or_offset_in_query_string(client, people, query):
    body = assert_envelope_error(client.get(f"/api/users/query?{query}"), 400)
    assert body["details"]["parameter"] in ("limit", "offset")


@pytest.mark.parametrize("path", ["/api/users/query", "/api/users/export"])
@pytest.mark.parametrize("query, parameter", [
    ("columns=", "columns"), ("columns=name,,age", "columns"), ("order_by=age,", "order_by"),
    ("order_by=", "order_by")])
def test_an_empty_name_in_a_list_is_400(client, people, path, query, parameter):
    # Issue 12: empty parts were skipped, so ?columns= meant every column, which the OpenAPI
    # document (an array of column names) does not allow.
    body = assert_envelope_error(client.get(f"{path}?{query}"), 400)
    assert body["details"] == {"parameter": parameter}


@pytest.mark.parametrize("payload", [
    {"limit": -1}, {"limit": "10"}, {"limit": 1.5}, {"limit": True}, {"offset": -1},
    {"offset": None}, {"columns": "name"}, {"order_by": "name"}, {"columns": [1]},
])
def test_bad_query_body_fields(client, people, payload):
    body = assert_envelope_error(client.post("/api/users/query", json=payload), 400)
    assert set(body["details"]["fields"]) == set(payload)


def test_offset_beyond_what_mysql_can_take_is_400(client, people):
    assert_envelope_error(client.get(f"/api/users/query?offset={2**63}"), 400)
    body = assert_envelope_error(client.post("/api/users/query", json={"offset": 10**30}), 400)
    assert set(body["details"]["fields"]) == {"offset"}
    assert ids(client.get(f"/api/users/query?offset={2**63 - 1}")) == []
    assert ids(client.post("/api/users/query", json={"offset": 2**63 - 1})) == []


# --- 404, 405 -------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path, payload", [
    pytest.param("post", "/api/nosuch", {"input": {"id": 1}}, id="insert"),
    pytest.param("get", "/api/nosuch/query", None, id="query-get"),
    pytest.param("post", "/api/nosuch/query", {"input": {"id": 1}}, id="query-post"),
    pytest.param("put", "/api/nosuch", {"input": {"id": 1}, "where": {"id": 1}}, id="update"),
    pytest.param("delete", "/api/nosuch", {"input": {"id": 1}}, id="delete"),
])
def test_unknown_table_is_404(client, method, path, payload):
    body = assert_envelope_error(client.open(path, method=method.upper(), json=payload), 404)
    assert body["message"] == "Table 'nosuch' not found"


@pytest.mark.parametrize("method, path, allowed", [
    pytest.param("get", "/api/users", {"POST", "PUT", "DELETE"}, id="get-table"),
    pytest.param("patch", "/api/users", {"POST", "PUT", "DELETE"}, id="patch-table"),
    pytest.param("put", "/api/users/query", {"GET", "POST"}, id="put-query"),
    pytest.param("delete", "/api/users/query", {"GET", "POST"}, id="delete-query"),
])
def test_wrong_method_is_405(client, people, sql, method, path, allowed):
    response = client.open(path, method=method.upper(), json={"input": {"id": 1}})
    assert_envelope_error(response, 405)
    assert allowed <= {m.strip() for m in response.headers["Allow"].split(",")}
    assert users(sql) == PEOPLE


# --- 409 ------------------------------------------------------------------------------------

def test_duplicate_key_on_insert_is_409(client, people, sql):
    body = assert_envelope_error(client.post("/api/users", json={
        "input": {"name": "Other Ann", "email": "ann@example.com"}}), 409)
    assert body["details"] == {"mysql_errno": 1062, "sqlstate": "23000"}
    assert users(sql) == PEOPLE


def test_duplicate_primary_key_is_409(client, people, sql):
    assert_envelope_error(client.post("/api/users", json={"input": {"id": 1}}), 409)
    assert users(sql) == PEOPLE


def test_duplicate_key_on_update_is_409(client, people, sql):
    body = assert_envelope_error(client.put("/api/users", json={
        "input": {"email": "ann@example.com"}, "where": {"id": 2}}), 409)
    assert body["details"] == {"mysql_errno": 1062, "sqlstate": "23000"}
    assert users(sql) == PEOPLE


def test_foreign_key_violations_are_409(client, family, sql):
    body = assert_envelope_error(
        client.post("/api/child", json={"input": {"id": 11, "parent_id": 99}}), 409)
    assert body["details"] == {"mysql_errno": 1452, "sqlstate": "23000"}
    body = assert_envelope_error(
        client.put("/api/child", json={"input": {"parent_id": 99}, "where": {"id": 10}}), 409)
    assert body["details"] == {"mysql_errno": 1452, "sqlstate": "23000"}
    body = assert_envelope_error(client.delete("/api/parent", json={"input": {"id": 1}}), 409)
    assert body["details"] == {"mysql_errno": 1451, "sqlstate": "23000"}
    assert sql("SELECT id, parent_id FROM child") == ((10, 1),)
    assert sql("SELECT id FROM parent ORDER BY id") == ((1,), (2,))
    # The same tables accept what the keys allow.
    assert_envelope_success(client.post("/api/child", json={"input": {"id": 11, "parent_id": 2}}),
                            201)
    assert_envelope_success(client.delete("/api/parent", json={"input": {"id": {"gt": 5}}}))
    assert sql("SELECT id, parent_id FROM child ORDER BY id") == ((10, 1), (11, 2))


# --- 413 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
def test_body_over_max_body_bytes_is_413(make_client, people, sql, method, path):
    client = make_client(max_body_bytes=200)
    payload = {"input": {"name": "x" * 300}, "where": {"id": 1}}
    if method == "delete":
        payload = {"input": {"name": "x" * 300}}
    if path.endswith("/query"):
        payload = {"input": {"name": "x" * 300}}
    body = assert_envelope_error(client.open(path, method=method.upper(), json=payload), 413)
    assert body["message"] == "Request body too large"
    assert users(sql) == PEOPLE


def test_body_just_under_max_body_bytes_is_accepted(make_client, sql):
    client = make_client(max_body_bytes=200)
    payload = '{"input": {"name": "%s"}}' % ("x" * 90)
    assert len(payload) < 200
    response = client.post("/api/users", data=payload, content_type="application/json")
    assert_envelope_success(response, 201)
    assert users(sql) == [(1, "x" * 90, None, None)]


def test_default_body_limit_is_one_mebibyte(client, sql):
    payload = '{"input": {"name": "%s"}}' % ("x" * (1024 * 1024))
    response = client.post("/api/users", data=payload, content_type="application/json")
    assert_envelope_error(response, 413)
    assert users(sql) == []


# --- 415 ------------------------------------------------------------------------------------

@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded",
                                          "multipart/form-data; boundary=x", None])
@pytest.mark.parametrize("method, path", BODY_ENDPOINTS)
def test_wrong_content_type_is_415(client, people, sql, method, path, content_type):
    response = client.open(path, method=method.upper(), data='{"input": {"id": 1}}',
                           content_type=content_type)
    body = assert_envelope_error(response, 415)
    assert body["message"] == "Content-Type must be application/json"
    assert users(sql) == PEOPLE


# --- 422 ------------------------------------------------------------------------------------

#: The SQLSTATE MariaDB sends with each error number below (issue 13: every envelope has both).
SQLSTATES = {1366: "22007", 1292: "22007", 1048: "23000", 1406: "22001", 1264: "22003"}


@pytest.mark.parametrize("table, row, errno", [
    pytest.param("users", {"age": "thirty"}, 1366, id="wrong-type-text-for-int"),
    pytest.param("users", {"age": [1, 2]}, 1366, id="wrong-type-array-for-int"),
    pytest.param("kinds", {"born": "yesterday"}, 1292, id="wrong-type-date"),
    pytest.param("kinds", {"born": "2024-02-30"}, 1292, id="impossible-date"),
    pytest.param("kinds", {"price": "cheap"}, 1366, id="wrong-type-decimal"),
    pytest.param("kinds", {"label": None}, 1048, id="not-null"),
    pytest.param("users", {"name": "x" * 101}, 1406, id="too-long"),
    pytest.param("kinds", {"label": "ünïcödé!!!!"}, 1406, id="too-long-in-characters"),
    pytest.param("users", {"age": 2**31}, 1264, id="out-of-range-int"),
    pytest.param("users", {"age": -(2**31) - 1}, 1264, id="out-of-range-negative"),
    pytest.param("kinds", {"price": "123456789.5"}, 1264, id="out-of-range-decimal"),
    pytest.param("kinds", {"flag": 1000}, 1264, id="out-of-range-tinyint"),
])
def test_rejected_value_on_insert_is_422(client, sql, table, row, errno):
    body = assert_envelope_error(client.post(f"/api/{table}", json={"input": row}), 422)
    assert body["details"] == {"mysql_errno": errno, "sqlstate": SQLSTATES[errno]}
    assert sql(f"SELECT COUNT(*) FROM {table}") == ((0,),)


def test_rejected_value_on_update_is_422(client, people, sql):
    for values, errno in (({"age": "old"}, 1366), ({"name": "y" * 101}, 1406),
                          ({"age": 2**40}, 1264)):
        body = assert_envelope_error(client.put("/api/users", json={
            "input": values, "where": {"id": 1}}), 422)
        assert body["details"] == {"mysql_errno": errno, "sqlstate": SQLSTATES[errno]}
    sql("INSERT INTO kinds (id) VALUES (1)")
    body = assert_envelope_error(client.put("/api/kinds", json={
        "input": {"label": None}, "where": {"id": 1}}), 422)
    assert body["details"] == {"mysql_errno": 1048, "sqlstate": "23000"}
    assert users(sql) == PEOPLE
    assert sql("SELECT label FROM kinds") == (("x",),)


def test_rejected_row_in_bulk_insert_is_422_and_nothing_lands(client, sql):
    body = assert_envelope_error(client.post("/api/users", json={"input": [
        {"name": "fine"}, {"name": "z" * 200}]}), 422)
    assert body["details"] == {"mysql_errno": 1406, "sqlstate": "22001"}
    assert users(sql) == []


def test_in_list_quoting_reaches_values_with_commas_quotes_and_backslashes(client, sql):
    """Issue 14 item 7: ``in.Smith, J,Doe`` matched ``Smith`` and missed ``Smith, J``;
    PostgREST's quoting in parentheses reaches it, in queries and exports alike."""
    names = ["Smith, J", "Smith", " J", "Doe", 'Say "hi"', "back\\slash"]
    sql("INSERT INTO users (id, name) VALUES " + ", ".join(["(%s, %s)"] * len(names)),
        [v for pair in enumerate(names, 1) for v in pair])
    for value, expected in [('in.("Smith, J",Doe)', [1, 4]),
                            (r'in.("Say \"hi\"","back\\slash")', [5, 6]),
                            ("in.(Smith,Doe)", [2, 4]), ("in.Smith,Doe", [2, 4]),
                            ('not.in.("Smith, J",Smith," J",Doe)', [5, 6])]:
        assert ids(client.get("/api/users/query", query_string={"name": value})) == expected
        text = client.get("/api/users/export", query_string={"name": value, "columns": "id"})
        assert text.get_data(as_text=True).split()[1:] == [str(i) for i in expected], value
    for value in ('in.("Smith, J)', 'in.("Smith" J)'):
        body = assert_envelope_error(client.get("/api/users/query",
                                                query_string={"name": value}), 400)
        assert body["details"] == {"column": "name", "operator": "in"}
