"""Deadlines the server enforces by itself (CONTRACT.md "Resiliency", issue 20).

The executor gives up on an attempt at its timeout and KILLs its connection from a side
connection, but that KILL travels through the same network as the statement: when the network
is what stalled, it does not arrive, and the statement would run on, holding its locks. So the
deadline travels with the work, in the statement itself, at no extra round trip:

- ``max_statement_time`` (MariaDB 10.1.1+, seconds with microsecond precision; 0 is no limit):
  the server stops the statement (error 1969) once it has run that long, lock waits included.
  https://mariadb.com/kb/en/server-system-variables/#max_statement_time and
  https://mariadb.com/kb/en/aborting-statements/
- ``innodb_lock_wait_timeout`` (MariaDB and MySQL, whole seconds, at least 1): a row lock wait
  gives up (error 1205, retried). Per statement it can never be shorter than the statement's
  own deadline, so it matters where ``max_statement_time`` does not exist: MySQL, which gets it
  for the whole session (``session_settings``).
  https://mariadb.com/kb/en/innodb-system-variables/#innodb_lock_wait_timeout
- ``idle_transaction_timeout`` and its two refinements (MariaDB 10.3+, whole seconds; the write
  and read-only ones take precedence over the general one, so all three are set): a transaction
  left idle that long is rolled back and its connection dropped, which frees the locks of an
  attempt whose client side stalled between two statements or before its COMMIT.
  https://mariadb.com/kb/en/transaction-timeouts/

The MariaDB ones are sent inside its executable comments (``/*M!100102 ... */`` runs on MariaDB
10.1.2 and later, which has ``SET STATEMENT``; ``/*M!100300`` on 10.3 and later): MySQL reads
them as comments, so the gateway still speaks to MySQL, with the KILL as its only stop.
https://mariadb.com/kb/en/comment-syntax/ and https://mariadb.com/kb/en/set-statement/
"""
from __future__ import annotations

import math
import re

# SET STATEMENT at the head of a statement already: an outer SET STATEMENT would be dropped by
# the inner one (measured on 10.11: the outer max_statement_time no longer applies), so the
# deadline joins the statement's own list instead, first, so that the statement's own settings
# still win over it.
_SET_STATEMENT = re.compile(r"\s*SET\s+STATEMENT\s", re.IGNORECASE)


def lock_wait_s(seconds: float) -> int:
    """``innodb_lock_wait_timeout`` for work that has ``seconds`` left: whole seconds, rounded
    up, at least 1 (the variable's minimum)."""
    return max(1, math.ceil(seconds))


def bounded(statement: str, seconds: float) -> str:
    """``statement`` with a server-side deadline ``seconds`` from when it starts on the server.

    At least a millisecond: 0 would mean no limit at all, and a statement sent by an attempt that
    is out of time must stop at once, not run for ever.
    """
    seconds = max(1, math.ceil(seconds * 1000)) / 1000
    settings = (f"max_statement_time={seconds:.3f}, "
                f"innodb_lock_wait_timeout={lock_wait_s(seconds)}")
    head = _SET_STATEMENT.match(statement)
    if head:
        return f"SET STATEMENT {settings}, {statement[head.end():]}"
    return f"/*M!100102 SET STATEMENT {settings} FOR */ {statement}"


def session_settings(longest_attempt_s: float, idle_transaction_s: int) -> str:
    """The deadline settings of a whole session, for the ``SET SESSION`` a connection runs once
    when it connects: the lock wait of the longest attempt (MySQL's only bound on a write, as
    MySQL has neither ``max_statement_time`` nor idle transaction timeouts), and the idle
    transaction timeouts (MariaDB 10.3+; 0 turns them off)."""
    idle = int(idle_transaction_s)
    return (f"innodb_lock_wait_timeout={lock_wait_s(longest_attempt_s)}"
            f" /*M!100300 , idle_transaction_timeout={idle},"
            f" idle_write_transaction_timeout={idle},"
            f" idle_readonly_transaction_timeout={idle} */")
