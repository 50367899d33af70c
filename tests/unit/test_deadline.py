"""The deadline a statement carries to the server, as text (issue 20); what the server does with
it is proved in ``tests/faults/test_deadlines.py``."""
from __future__ import annotations

import pytest

from tablegate.db.deadline import bounded, lock_wait_s, session_settings


@pytest.mark.parametrize("seconds, expected", [
    pytest.param(0.2, "/*M!100102 SET STATEMENT max_statement_time=0.200, "
                      "innodb_lock_wait_timeout=1 FOR */ SELECT 1", id="first-attempt"),
    pytest.param(1.2345, "/*M!100102 SET STATEMENT max_statement_time=1.235, "
                         "innodb_lock_wait_timeout=2 FOR */ SELECT 1", id="rounded-up"),
    pytest.param(0.0, "/*M!100102 SET STATEMENT max_statement_time=0.001, "
                      "innodb_lock_wait_timeout=1 FOR */ SELECT 1", id="no-time-left-is-not-0"),
    pytest.param(-3.0, "/*M!100102 SET STATEMENT max_statement_time=0.001, "
                       "innodb_lock_wait_timeout=1 FOR */ SELECT 1", id="past-the-deadline"),
])
def test_statement_carries_the_time_left(seconds, expected):
    assert bounded("SELECT 1", seconds) == expected


@pytest.mark.parametrize("statement, expected", [
    pytest.param("SET STATEMENT innodb_lock_wait_timeout = 1 FOR UPDATE t SET n = 1",
                 "SET STATEMENT max_statement_time=0.500, innodb_lock_wait_timeout=1, "
                 "innodb_lock_wait_timeout = 1 FOR UPDATE t SET n = 1", id="upper-case"),
    pytest.param("  set\tstatement sql_mode='' FOR SELECT 1",
                 "SET STATEMENT max_statement_time=0.500, innodb_lock_wait_timeout=1, "
                 "sql_mode='' FOR SELECT 1", id="lower-case-and-spaces"),
])
def test_a_set_statement_of_its_own_takes_the_deadline_into_its_list(statement, expected):
    """Nested, the inner SET STATEMENT would drop the outer one's deadline; joined, the
    statement's own settings come last, and win."""
    assert bounded(statement, 0.5) == expected


def test_a_name_that_merely_starts_like_set_statement_is_prefixed():
    assert bounded("SET STATEMENTS = 1", 0.5).startswith("/*M!100102 SET STATEMENT ")


@pytest.mark.parametrize("seconds, expected", [(0.001, 1), (0.2, 1), (1.0, 1), (1.001, 2),
                                               (1.6, 2), (8.0, 8)])
def test_lock_wait_is_whole_seconds_at_least_one(seconds, expected):
    assert lock_wait_s(seconds) == expected


def test_session_settings_hide_mariadb_variables_from_mysql():
    assert session_settings(1.6, 4) == (
        "innodb_lock_wait_timeout=2 /*M!100300 , idle_transaction_timeout=4,"
        " idle_write_transaction_timeout=4, idle_readonly_transaction_timeout=4 */")
