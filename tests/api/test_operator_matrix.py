"""Issue 5: every operator on every MySQL type family, through both the body and the query
string form, against the real database."""
from __future__ import annotations

import json
from urllib.parse import quote

import pytest

ROWS = [
    (1, 1, "1.50", "apple", "alpha", "2026-01-01", "2026-01-01 10:00:00", '{"a": 1}', 1, None),
    (2, 2, "2.25", "banana", "beta", "2026-02-01", "2026-02-01 11:00:00", "[1, 2]", 0, 5),
    (3, 3, "10.00", "cherry", "gamma", "2026-03-01", "2026-03-01 12:00:00", '"x"', 1, None),
]

CASES = [
    # int
    ("i", "eq", 2, [2]), ("i", "ne", 2, [1, 3]), ("i", "gt", 1, [2, 3]), ("i", "gte", 2, [2, 3]),
    ("i", "lt", 3, [1, 2]), ("i", "lte", 1, [1]), ("i", "like", "1%", [1]),
    ("i", "in", [1, 3], [1, 3]), ("i", "is", None, []), ("i", "not.eq", 2, [1, 3]),
    # decimal: compared as numbers, exact
    ("d", "eq", "2.25", [2]), ("d", "gt", "2", [2, 3]), ("d", "lt", "2.25", [1]),
    ("d", "lte", "1.5", [1]), ("d", "in", ["1.50", "10.00"], [1, 3]), ("d", "like", "1%", [1, 3]),
    ("d", "not.gte", "2.25", [1]),
    # varchar
    ("v", "eq", "banana", [2]), ("v", "ne", "banana", [1, 3]), ("v", "gt", "b", [2, 3]),
    ("v", "lt", "banana", [1]), ("v", "like", "%an%", [2]), ("v", "in", ["apple", "cherry"], [1, 3]),
    ("v", "not.like", "a%", [2, 3]),
    # text
    ("t", "eq", "beta", [2]), ("t", "gte", "beta", [2, 3]), ("t", "like", "%a", [1, 2, 3]),
    ("t", "in", ["gamma"], [3]), ("t", "not.in", ["gamma"], [1, 2]),
    # date
    ("dt", "eq", "2026-02-01", [2]), ("dt", "gt", "2026-01-15", [2, 3]),
    ("dt", "lte", "2026-02-01", [1, 2]), ("dt", "in", ["2026-01-01", "2026-03-01"], [1, 3]),
    ("dt", "like", "2026-0%", [1, 2, 3]), ("dt", "ne", "2026-01-01", [2, 3]),
    # datetime, both separators of ISO 8601
    ("ts", "gte", "2026-02-01 11:00:00", [2, 3]), ("ts", "lt", "2026-02-01", [1]),
    ("ts", "eq", "2026-03-01T12:00:00", [3]), ("ts", "in", ["2026-01-01 10:00:00"], [1]),
    # json (text in MariaDB)
    ("j", "eq", "[1, 2]", [2]), ("j", "like", "%a%", [1]), ("j", "is", None, []),
    ("j", "not.is", None, [1, 2, 3]),
    # tinyint(1)
    ("b", "eq", True, [1, 3]), ("b", "is", True, [1, 3]), ("b", "is", False, [2]),
    ("b", "ne", 1, [2]), ("b", "in", [0], [2]),
    # NULL
    ("n", "is", None, [1, 3]), ("n", "not.is", None, [2]), ("n", "eq", None, [1, 3]),
    ("n", "ne", None, [2]), ("n", "gt", 1, [2]), ("n", "in", [5], [2]),
]


@pytest.fixture
def typed(sql):
    sql("DROP TABLE IF EXISTS typed")
    sql("""CREATE TABLE typed (id INT PRIMARY KEY, i INT, d DECIMAL(8, 2), v VARCHAR(20),
           t TEXT, dt DATE, ts DATETIME, j JSON, b TINYINT(1), n INT NULL)""")
    sql("INSERT INTO typed VALUES " + ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"] * 3),
        [v for row in ROWS for v in row])
    yield
    sql("DROP TABLE typed")


def ids(response) -> list[int]:
    assert response.status_code == 200, response.get_data(as_text=True)
    return [row["id"] for row in response.get_json()["data"]["rows"]]


def query_string(column: str, op: str, value) -> str:
    negate, _, bare = op.rpartition(".")
    if bare == "in":
        text = ",".join(str(v) for v in value)
    elif value is None or isinstance(value, bool):
        text = json.dumps(value)
    else:
        text = str(value)
    if bare == "eq" and value is None:
        bare, text = "is", "null"
    if bare == "ne" and value is None:
        negate, bare, text = "not", "is", "null"
    prefix = "not." if negate else ""
    return f"{quote(column)}={quote(prefix + bare + '.' + text, safe='.,')}"


@pytest.mark.parametrize("column, op, value, expected", [
    pytest.param(*case, id=f"{case[0]}-{case[1]}-{case[2]}") for case in CASES])
def test_operator_in_body_and_query_string(client, typed, column, op, value, expected):
    assert ids(client.post("/api/typed/query", json={"input": {column: {op: value}}})) == expected
    assert ids(client.get("/api/typed/query?" + query_string(column, op, value))) == expected
