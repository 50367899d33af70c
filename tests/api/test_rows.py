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
