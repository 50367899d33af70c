"""The console's guard without a server (issue 19): what passes, what runs, and why the rest
is refused."""
from __future__ import annotations

import pytest

from tablegate.console.guard import Refused, check
from tablegate.console.providers import extract_sql


def guarded(sql: str, max_rows: int = 100):
    return check(sql, database="shop", exposed=lambda name: name in {"users", "orders"},
                 max_rows=max_rows)


@pytest.mark.parametrize("sql, runs, tables", [
    pytest.param("SELECT * FROM users", "SELECT * FROM users LIMIT 101", ("users",), id="cap"),
    pytest.param("SELECT * FROM users LIMIT 5", "SELECT * FROM users LIMIT 5", ("users",),
                 id="own-smaller-limit"),
    pytest.param("SELECT * FROM users LIMIT 10, 5000", "SELECT * FROM users LIMIT 101 OFFSET 10",
                 ("users",), id="larger-limit-capped-offset-kept"),
    pytest.param("WITH o AS (SELECT user_id FROM orders) SELECT * FROM users JOIN o "
                 "ON o.user_id = users.id",
                 "WITH o AS (SELECT user_id FROM orders) SELECT * FROM users JOIN o "
                 "ON o.user_id = users.id LIMIT 101", ("users", "orders"), id="cte"),
    pytest.param("SELECT id FROM users UNION SELECT user_id FROM orders",
                 "SELECT id FROM users UNION SELECT user_id FROM orders LIMIT 101",
                 ("users", "orders"), id="union"),
    pytest.param("SELECT * FROM shop.users;", "SELECT * FROM shop.users LIMIT 101", ("users",),
                 id="own-database-named"),
    pytest.param("/*! DROP TABLE users */ SELECT 1", "SELECT 1 LIMIT 101", (),
                 id="executable-comment-dropped"),
])
def test_what_passes_and_what_runs(sql, runs, tables):
    checked = guarded(sql)
    assert checked.sql == runs
    assert checked.tables == tables


@pytest.mark.parametrize("sql, reason", [
    pytest.param("DROP TABLE users", "not a SELECT but DROP", id="drop"),
    pytest.param("SELECT 1; SELECT 2", "2 statements", id="two-selects"),
    pytest.param("SELECT * FROM users INTO OUTFILE '/tmp/x'", "writes a file", id="outfile"),
    pytest.param("SELECT 1 INTO @x", "SELECT ... INTO", id="into-variable"),
    pytest.param("SELECT * FROM users FOR UPDATE", "locks", id="for-update"),
    pytest.param("SELECT * FROM users LOCK IN SHARE MODE", "locks", id="share-mode"),
    pytest.param("SELECT sleep(1)", "SLEEP()", id="sleep-lower-case"),
    pytest.param("SELECT * FROM users WHERE id = (SELECT BENCHMARK(1e9, 1))", "BENCHMARK()",
                 id="benchmark-nested"),
    pytest.param("SELECT CURRENT_USER", "CURRENT_USER()", id="current-user"),
    pytest.param("SELECT DATABASE()", "()", id="database"),
    pytest.param("SELECT @@hostname", "variables", id="system-variable"),
    pytest.param("SELECT * FROM mysql.user", "another database (mysql)", id="mysql-user"),
    pytest.param("SELECT * FROM other.users", "another database (other)", id="other-database"),
    pytest.param("SELECT * FROM Users", "'Users'", id="case-differs"),
    pytest.param("SELECT * FROM secrets", "'secrets'", id="not-exposed"),
    pytest.param("SELECT * FROM JSON_TABLE('[1]', '$[*]' COLUMNS (x INT PATH '$')) AS t",
                 "not from a table", id="json-table"),
    pytest.param("SHOW TABLES", "not a SELECT", id="show"),
    pytest.param("", "no SQL", id="empty"),
    pytest.param("Sorry, I can't.", "parse", id="prose"),
])
def test_refusals_say_why(sql, reason):
    with pytest.raises(Refused) as refused:
        guarded(sql)
    assert reason in refused.value.reason
    assert refused.value.message == f"Refused: {refused.value.reason}"


def test_the_answer_may_come_fenced():
    assert extract_sql("Here you go:\n```sql\nSELECT 1\n```\nEnjoy.") == "SELECT 1"
    assert extract_sql("  SELECT 2 ") == "SELECT 2"
