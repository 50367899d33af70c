"""Issue 5: row routes by primary key, Location, return=representation, upsert, keyset
pagination, count=exact and `or` groups, against the real database."""
from __future__ import annotations

import pytest

from tests.conftest import assert_envelope_error, assert_envelope_success


@pytest.fixture
def pairs(sql):
    sql("DROP TABLE IF EXISTS pairs")
    sql("CREATE TABLE pairs (a INT, b VARCHAR(10), v INT, PRIMARY KEY (a, b))")
    sql("INSERT INTO pairs VALUES (1, 'x', 10), (1, 'y', 11), (2, 'x,y', 12), (3, 'é?', 13),"
        " (3, 'é/?', 14)")
    yield
    sql("DROP TABLE pairs")


@pytest.fixture
def keyless(sql):
    sql("DROP TABLE IF EXISTS keyless")
    sql("CREATE TABLE keyless (x INT)")
    sql("INSERT INTO keyless VALUES (1)")
    yield
    sql("DROP TABLE keyless")


def seed_users(client, n: int = 3) -> list[int]:
    rows = [{"name": f"u{i}", "email": f"u{i}@x", "age": 20 + i} for i in range(n)]
    body = client.post("/api/users?return=representation", json={"input": rows}).get_json()
    return [r["id"] for r in body["data"]["rows"]]


def test_get_row_by_key(client):
    first, *_ = seed_users(client)
    body = assert_envelope_success(client.get(f"/api/users/{first}"))
    assert body["data"] == {"id": first, "name": "u0", "email": "u0@x", "age": 20}


def test_composite_key_in_key_order_and_url_decoded(client, pairs):
    assert client.get("/api/pairs/1,y").get_json()["data"]["v"] == 11
    assert client.get("/api/pairs/3,%C3%A9%3F").get_json()["data"]["v"] == 13


@pytest.mark.parametrize("path, status", [
    pytest.param("/api/users/999999", 404, id="no-row"),
    pytest.param("/api/pairs/1", 400, id="too-few-key-values"),
    pytest.param("/api/pairs/1,x,z", 400, id="too-many-key-values"),
    pytest.param("/api/keyless/1", 400, id="no-primary-key"),
    pytest.param("/api/nosuch/1", 404, id="no-table"),
    pytest.param("/api/users/1%27%20OR%20%271%27=%271", 404, id="injection-in-key"),
])
def test_row_route_errors(client, pairs, keyless, path, status):
    for method in ("get", "delete"):
        assert_envelope_error(getattr(client, method)(path), status)
    column = {"users": "age", "pairs": "v", "keyless": "x"}.get(path.split("/")[2], "v")
    assert_envelope_error(client.patch(path, json={"input": {column: 1}}), status)


def test_patch_is_partial_and_returns_the_row(client, sql):
    first, *_ = seed_users(client)
    body = assert_envelope_success(client.patch(f"/api/users/{first}", json={"input": {"age": 99}}))
    assert body["data"] == {"id": first, "name": "u0", "email": "u0@x", "age": 99}
    assert sql("SELECT name, age FROM users WHERE id = %s", (first,)) == (("u0", 99),)


def test_patch_that_changes_the_key_returns_the_row_at_its_new_key(client, pairs, sql):
    body = assert_envelope_success(client.patch("/api/pairs/1,x", json={"input": {"b": "z"}}))
    assert body["data"] == {"a": 1, "b": "z", "v": 10}
    assert sql("SELECT COUNT(*) FROM pairs WHERE a = 1 AND b = 'x'") == ((0,),)


def test_patch_of_missing_row_changes_nothing(client, sql):
    seed_users(client)
    before = sql("SELECT * FROM users ORDER BY id")
    assert_envelope_error(client.patch("/api/users/999999", json={"input": {"id": 1}}), 404)
    assert sql("SELECT * FROM users ORDER BY id") == before


@pytest.mark.parametrize("body", [
    pytest.param({"input": {}}, id="empty-input"),
    pytest.param({"input": {"nosuch": 1}}, id="unknown-column"),
    pytest.param({"input": {"age": 1}, "extra": 1}, id="unknown-field"),
    pytest.param({"input": [{"age": 1}]}, id="array"),
])
def test_patch_bad_bodies(client, body):
    first, *_ = seed_users(client)
    assert_envelope_error(client.patch(f"/api/users/{first}", json=body), 400)


def test_patch_bad_value_is_422_and_keeps_the_row(client, sql):
    first, *_ = seed_users(client)
    assert_envelope_error(client.patch(f"/api/users/{first}", json={"input": {"age": "x"}}), 422)
    assert sql("SELECT age FROM users WHERE id = %s", (first,)) == ((20,),)


def test_delete_row(client, pairs, sql):
    assert assert_envelope_success(client.delete("/api/pairs/3,%C3%A9%3F"))["data"] == {
        "rows_affected": 1}
    assert sql("SELECT COUNT(*) FROM pairs") == ((4,),)
    assert_envelope_error(client.delete("/api/pairs/3,%C3%A9%3F"), 404)


def test_key_value_with_a_comma_or_slash_is_not_addressable(client, pairs, sql):
    # %2C and %2F are decoded before routing (documented): three values for a two-column key,
    # and a key of two segments is no route.
    assert_envelope_error(client.delete("/api/pairs/2,x%2Cy"), 400)
    assert_envelope_error(client.delete("/api/pairs/3,%C3%A9%2F%3F"), 404)
    assert client.delete("/api/pairs/3,%C3%A9%2F%3F").get_json()["message"] == "Not found"
    assert sql("SELECT COUNT(*) FROM pairs") == ((5,),)


def test_words_of_the_table_routes_are_not_keys(client):
    assert_envelope_error(client.delete("/api/users/query"), 405)
    assert_envelope_error(client.patch("/api/users/schema", json={"input": {"age": 1}}), 405)
    body = assert_envelope_error(client.get("/api/users/nosuch"), 404)
    assert body["details"] == {"key": "nosuch"}
    assert_envelope_error(client.post("/api/users/nosuch", json={"input": {}}), 405)


def test_single_insert_has_location(client):
    response = client.post("/api/users", json={"input": {"name": "L", "email": "l@x"}})
    body = assert_envelope_success(response, 201)
    assert response.headers["Location"] == f"/api/users/{body['data']['last_insert_id']}"
    assert client.get(response.headers["Location"]).get_json()["data"]["name"] == "L"


def test_composite_insert_location_is_quoted(client, pairs):
    response = client.post("/api/pairs", json={"input": {"a": 9, "b": "a b?", "v": 1}})
    assert response.headers["Location"] == "/api/pairs/9,a%20b%3F"
    assert client.get(response.headers["Location"]).get_json()["data"]["v"] == 1


def test_bulk_insert_has_no_location(client):
    response = client.post("/api/users", json={"input": [{"name": "a"}, {"name": "b"}]})
    assert response.status_code == 201 and "Location" not in response.headers


def test_return_representation_reads_rows_back(client):
    response = client.post("/api/users?return=representation",
                           json={"input": [{"name": "a", "email": "ra@x"}, {"name": "b"}]})
    data = assert_envelope_success(response, 201)["data"]
    assert [(r["name"], r["email"], r["age"]) for r in data["rows"]] == [
        ("a", "ra@x", None), ("b", None, None)]
    assert data["rows"][1]["id"] == data["rows"][0]["id"] + 1
    assert data["last_insert_id"] == data["rows"][0]["id"]
    assert data["rows_affected"] == 2


def test_return_representation_needs_a_key(client, keyless, sql):
    assert_envelope_error(
        client.post("/api/keyless?return=representation", json={"input": {"x": 2}}), 400)
    assert sql("SELECT COUNT(*) FROM keyless") == ((1,),)


def test_return_representation_is_one_transaction(client, sql):
    response = client.post("/api/users?return=representation", json={
        "input": [{"name": "ok", "email": "dup@x"}, {"name": "bad", "email": "dup@x"}]})
    assert_envelope_error(response, 409)
    assert sql("SELECT COUNT(*) FROM users") == ((0,),)


def test_on_conflict_update_and_ignore(client, sql):
    first, *_ = seed_users(client)
    response = client.post("/api/users?on_conflict=update&return=representation",
                           json={"input": {"name": "new", "email": "u0@x"}})
    data = assert_envelope_success(response, 201)["data"]
    assert data["rows"] == [{"id": first, "name": "new", "email": "u0@x", "age": 20}]
    response = client.post("/api/users?on_conflict=ignore",
                           json={"input": [{"name": "skip", "email": "u0@x"},
                                           {"name": "fresh", "email": "f@x"}]})
    assert assert_envelope_success(response, 201)["data"]["rows_affected"] == 1
    assert sql("SELECT name FROM users WHERE email = 'u0@x'") == (("new",),)
    assert sql("SELECT COUNT(*) FROM users") == ((4,),)


@pytest.mark.parametrize("row", [
    pytest.param({"name": "skip", "email": "u0@x"}, id="unique-key-auto-id"),
    pytest.param({"id": 999, "name": "skip", "email": "u0@x"}, id="unique-key-given-id"),
    pytest.param("first", id="primary-key"),
])
@pytest.mark.parametrize("representation", [False, True])
def test_on_conflict_ignore_skipped_row_is_a_200_without_location(client, sql, row,
                                                                   representation):
    """Issue 14 item 8: a skipped row was answered 201 "Record inserted" with a Location to a
    row that does not exist (``/api/users/999``); nothing was written, so 200, no Location."""
    first, *_ = seed_users(client)
    row = {"id": first, "name": "skip", "email": "other@x"} if row == "first" else row
    before = sql("SELECT * FROM users ORDER BY id")
    url = "/api/users?on_conflict=ignore" + ("&return=representation" if representation else "")
    response = client.post(url, json={"input": row})
    body = assert_envelope_success(response, 200)
    assert "Location" not in response.headers
    assert "left as it was" in body["message"] and "inserted successfully" not in body["message"]
    assert body["data"]["rows_affected"] == 0 and body["data"]["last_insert_id"] is None
    assert body["data"].get("rows", []) == []
    assert sql("SELECT * FROM users ORDER BY id") == before
    response = client.post(url, json={"input": [row, dict(row, id=first)]})
    assert assert_envelope_success(response, 200)["data"]["rows_affected"] == 0
    assert "Location" not in response.headers


def test_on_conflict_ignore_written_row_keeps_201_and_location(client, sql):
    seed_users(client)
    response = client.post("/api/users?on_conflict=ignore&return=representation",
                           json={"input": [{"name": "skip", "email": "u0@x"},
                                           {"name": "fresh", "email": "f@x"}]})
    data = assert_envelope_success(response, 201)["data"]
    assert data["rows_affected"] == 1 and [r["name"] for r in data["rows"]] == ["fresh"]
    response = client.post("/api/users?on_conflict=ignore", json={"input": {"name": "new",
                                                                          "email": "n@x"}})
    data = assert_envelope_success(response, 201)["data"]
    assert data["rows_affected"] == 1
    assert response.headers["Location"] == f"/api/users/{data['last_insert_id']}"
    assert client.get(response.headers["Location"]).get_json()["data"]["name"] == "new"


def test_on_conflict_ignore_still_rejects_bad_values(client, sql):
    # INSERT IGNORE would store 0 here with a warning; the no-op upsert keeps strict mode.
    assert_envelope_error(client.post("/api/users?on_conflict=ignore",
                                      json={"input": {"name": "x", "age": "abc"}}), 422)
    assert sql("SELECT COUNT(*) FROM users") == ((0,),)


@pytest.mark.parametrize("query", ["on_conflict=replace", "on_conflict=", "return=everything",
                                   "on_conflict=update%3B%20DROP%20TABLE%20users"])
def test_bad_insert_options(client, sql, query):
    assert_envelope_error(client.post(f"/api/users?{query}", json={"input": {"name": "x"}}), 400)
    assert sql("SELECT COUNT(*) FROM users") == ((0,),)


def test_keyset_pagination_walks_every_row_once(client, pairs):
    seen, after = [], None
    while True:
        url = "/api/pairs/query?limit=2" + (f"&after={after}" if after else "")
        rows = client.get(url).get_json()["data"]["rows"]
        if not rows:
            break
        seen += [(r["a"], r["b"]) for r in rows]
        after = f"{rows[-1]['a']},{rows[-1]['b']}"
    assert seen == [(1, "x"), (1, "y"), (2, "x,y"), (3, "é/?"), (3, "é?")]


def test_keyset_in_body_and_with_filters(client):
    ids = seed_users(client, 5)
    body = client.post("/api/users/query", json={"after": ids[1], "input": {"age": {"lt": 24}},
                                                 "limit": 10}).get_json()
    assert [r["id"] for r in body["data"]["rows"]] == ids[2:4]


@pytest.mark.parametrize("url", [
    "/api/users/query?after=1&order_by=name",
    "/api/keyless/query?after=1",
    "/api/pairs/query?after=1",
])
def test_keyset_errors(client, pairs, keyless, url):
    assert_envelope_error(client.get(url), 400)


@pytest.fixture
def typed_keys(sql):
    """One table per key type, each holding two rows: the cursor's check follows the type."""
    types = {"k_int": ("INT", [1, 2]), "k_tiny": ("TINYINT UNSIGNED", [1, 2]),
             "k_dec": ("DECIMAL(5,2)", ["1.50", "2.25"]), "k_dbl": ("DOUBLE", [1.5, 2.5]),
             "k_date": ("DATE", ["2024-01-01", "2024-02-01"]),
             "k_dt": ("DATETIME(3)", ["2024-01-01 10:00:00", "2024-01-01 11:00:00.5"]),
             "k_time": ("TIME", ["-01:00:00", "100:00:00"]), "k_year": ("YEAR", [2001, 2002]),
             "k_str": ("VARCHAR(3)", ["a", "b"]), "k_enum": ("ENUM('x','y')", ["x", "y"]),
             "k_bin": ("VARBINARY(2)", [b"\x01", b"\x02"]),
             "k_uuid": ("UUID", ["00000000-0000-0000-0000-000000000001",
                                 "00000000-0000-0000-0000-000000000002"])}
    for table, (column_type, values) in types.items():
        sql(f"DROP TABLE IF EXISTS {table}")
        sql(f"CREATE TABLE {table} (k {column_type} PRIMARY KEY)")
        sql(f"INSERT INTO {table} VALUES (%s), (%s)", values)
    yield
    for table in types:
        sql(f"DROP TABLE {table}")


@pytest.mark.parametrize("table, bad", [
    ("k_int", "abc"), ("k_int", "1.5"), ("k_int", "2147483648"), ("k_int", ""), ("k_int", "1e3"),
    ("k_int", True), ("k_int", 2.5), ("k_tiny", "-1"), ("k_tiny", "256"),
    ("k_dec", "abc"), ("k_dec", "1.234"), ("k_dec", "1000"), ("k_dec", "1e2"),
    ("k_dbl", "abc"), ("k_dbl", "nan"), ("k_dbl", "inf"),
    ("k_date", "abc"), ("k_date", "2024-02-30"), ("k_date", "20240101"), ("k_date", 20240101),
    ("k_dt", "2024-01-01T25:00:00"), ("k_dt", "2024-01-01T10:00:00+02:00"), ("k_dt", "x"),
    ("k_time", "abc"), ("k_time", "839:00:00"), ("k_time", "10:60:00"),
    ("k_year", "abc"), ("k_year", "1900"), ("k_year", "2156"),
    ("k_str", "abcd"), ("k_str", False), ("k_enum", "z"), ("k_enum", 1),
    ("k_bin", "not base64!"), ("k_bin", "AQIDBA=="),
    ("k_uuid", "abc"), ("k_uuid", 1),
])
def test_keyset_value_the_key_column_cannot_hold_is_a_400(client, typed_keys, table, bad):
    """Issue 14 item 9: the server would cast the value (``'abc'`` to 0 for an INT) and answer
    rows as if it were another; the cursor's value is checked against the column's type."""
    if isinstance(bad, str):
        body = assert_envelope_error(client.get(f"/api/{table}/query",
                                                query_string={"after": bad}), 400)
        assert body["details"]["parameter"] == "after" and "'after'" in body["message"]
        assert bad == "" or body["details"]["column"] == "k"  # "": refused as a list first
    body = assert_envelope_error(client.post(f"/api/{table}/query", json={"after": bad}), 400)
    assert body["details"] == {"parameter": "after", "column": "k", "value": bad,
                               "expected": body["details"]["expected"]}


@pytest.mark.parametrize("table, good, rest", [
    ("k_int", "1", [2]), ("k_int", "+1", [2]), ("k_int", "-5", [1, 2]), ("k_tiny", "1", [2]),
    ("k_dec", "1.5", ["2.25"]), ("k_dec", "-999.99", ["1.50", "2.25"]), ("k_dbl", "1.5", [2.5]),
    ("k_dbl", "1e0", [1.5, 2.5]), ("k_date", "2024-01-01", ["2024-02-01"]),
    ("k_dt", "2024-01-01T10:00:00", ["2024-01-01T11:00:00.500000"]),
    ("k_dt", "2024-01-01", ["2024-01-01T10:00:00", "2024-01-01T11:00:00.500000"]),
    ("k_time", "-01:00:00", ["100:00:00"]), ("k_year", "2001", [2002]),
    ("k_str", "a", ["b"]), ("k_enum", "x", ["y"]), ("k_bin", "AQ==", ["Ag=="]),
    ("k_uuid", "00000000-0000-0000-0000-000000000001", ["00000000-0000-0000-0000-000000000002"]),
])
def test_keyset_value_of_the_key_type_pages_on(client, typed_keys, table, good, rest):
    body = assert_envelope_success(client.get(f"/api/{table}/query", query_string={"after": good}))
    assert [r["k"] for r in body["data"]["rows"]] == rest


def test_keyset_in_body_takes_json_numbers_and_booleans_for_boolean_keys(client, sql):
    ids = seed_users(client, 3)
    body = client.post("/api/users/query", json={"after": float(ids[0])}).get_json()
    assert [r["id"] for r in body["data"]["rows"]] == ids[1:]
    sql("DROP TABLE IF EXISTS k_bool")
    sql("CREATE TABLE k_bool (k BOOLEAN PRIMARY KEY)")
    sql("INSERT INTO k_bool VALUES (0), (1)")
    try:
        for after in (False, "false", 0):
            body = client.post("/api/k_bool/query", json={"after": after}).get_json()
            assert [r["k"] for r in body["data"]["rows"]] == [1], after
        assert_envelope_error(client.get("/api/k_bool/query?after=maybe"), 400)
    finally:
        sql("DROP TABLE k_bool")


def test_count_exact(client):
    seed_users(client, 5)
    data = client.get("/api/users/query?age=gte.22&limit=1&count=exact").get_json()["data"]
    assert (data["count"], data["total"]) == (1, 3)
    assert "total" not in client.get("/api/users/query").get_json()["data"]
    assert_envelope_error(client.get("/api/users/query?count=estimated"), 400)
    data = client.post("/api/users/query", json={"count": "exact", "limit": 0}).get_json()["data"]
    assert (data["count"], data["total"]) == (0, 5)


def test_or_groups(client):
    seed_users(client, 5)
    body = client.post("/api/users/query", json={"input": {
        "or": [{"name": "u0"}, {"age": {"gte": 23}, "name": {"ne": "u4"}}]}}).get_json()
    assert [r["name"] for r in body["data"]["rows"]] == ["u0", "u3"]
    body = client.post("/api/users/query", json={"input": {
        "age": {"lt": 24}, "or": [{"name": "u1"}, {"or": [{"name": "u2"}, {"name": "u4"}]}]}})
    assert [r["name"] for r in body.get_json()["data"]["rows"]] == ["u1", "u2"]


@pytest.mark.parametrize("spec", [
    pytest.param([], id="empty"),
    pytest.param([{}], id="empty-branch"),
    pytest.param([1, 2], id="not-objects"),
    pytest.param([{"nosuch": 1}], id="unknown-column"),
    pytest.param([{"age": {"between": 1}}], id="bad-operator"),
])
def test_or_errors(client, spec):
    assert_envelope_error(client.post("/api/users/query", json={"input": {"or": spec}}), 400)
