"""The console's guard: a model's answer runs only if it is one plain SELECT over exposed tables.

Safety must not depend on the model (issue 19), so the answer is parsed with sqlglot in the
MySQL dialect and checked as a tree, never by pattern on the text. What runs is the SQL that
sqlglot writes back from the checked tree, without comments: MariaDB executes ``/*! ... */``
comments, so a comment the parser skipped must not reach the server. The row cap is put into
that tree as the outer LIMIT, so a huge join stops at the cap on the server.

This is the second line; the first is the read-only transaction and the statement time limit
of ``runner``, and the strongest is a database user with SELECT only
(``TABLEGATE_CONSOLE_DB_USER``).
"""
from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from tablegate.errors import Unprocessable

#: Functions that wait, lock, read files, write sequences, run commands or tell about the
#: server rather than the data. Compared in upper case.
DENIED_FUNCTIONS = frozenset({
    "SLEEP", "BENCHMARK", "LOAD_FILE", "GET_LOCK", "RELEASE_LOCK", "RELEASE_ALL_LOCKS",
    "IS_FREE_LOCK", "IS_USED_LOCK", "MASTER_POS_WAIT", "MASTER_GTID_WAIT", "SOURCE_POS_WAIT",
    "WAIT_FOR_EXECUTED_GTID_SET", "NEXTVAL", "SETVAL", "LASTVAL", "LAST_INSERT_ID", "SYS_EXEC",
    "SYS_EVAL", "USER", "CURRENT_USER", "SESSION_USER", "SYSTEM_USER", "CURRENT_ROLE",
    "DATABASE", "SCHEMA", "CURRENT_SCHEMA", "VERSION", "CURRENT_VERSION", "CONNECTION_ID",
    "FOUND_ROWS", "ROW_COUNT", "UUID_SHORT", "COLUMN_CREATE", "PASSWORD", "ENCRYPT",
})
#: sqlglot parses some of them into classes of their own.
DENIED_NODES = (exp.CurrentUser, exp.CurrentSchema, exp.CurrentVersion)

_WRITES_FILE = re.compile(r"\bINTO\s+(?:OUTFILE|DUMPFILE)\b", re.I)


class Refused(Unprocessable):
    """The model's SQL was not run; the message says why in plain words."""

    def __init__(self, reason: str, sql: str) -> None:
        super().__init__(f"Refused: {reason}", {"reason": reason, "sql": sql})
        self.reason = reason
        self.sql = sql


@dataclass(frozen=True)
class Checked:
    """SQL that passed the guard: the text to run (the row cap in it) and the tables it reads."""
    sql: str
    tables: tuple[str, ...]


def check(sql: str, *, database: str, exposed: Callable[[str], bool], max_rows: int) -> Checked:
    """Accept exactly one SELECT (CTEs and set operations allowed) that reads only tables
    ``exposed`` says yes to, in ``database``; raise ``Refused`` with the reason otherwise."""
    def refuse(reason: str):
        raise Refused(reason, sql)

    if not sql.strip():
        refuse("the model gave no SQL")
    if _WRITES_FILE.search(sql):
        refuse("it writes a file (INTO OUTFILE or INTO DUMPFILE)")
    try:
        statements = [s for s in sqlglot.parse(sql, read="mysql") if s is not None]
    except SqlglotError as exc:
        refuse(f"it is not SQL that parses as MariaDB ({_first_line(exc)})")
    if len(statements) != 1:
        refuse(f"it is {len(statements)} statements; only one SELECT is run"
               if statements else "the model gave no SQL")
    tree = statements[0]
    if not isinstance(tree, exp.Query) or isinstance(tree, exp.Subquery):
        refuse(f"it is not a SELECT but {tree.key.upper()}")
    ctes = {cte.alias_or_name for cte in tree.find_all(exp.CTE)}
    tables: list[str] = []
    for node in tree.walk():
        if isinstance(node, (exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Create,
                             exp.Drop, exp.Alter, exp.Command, exp.TruncateTable)):
            refuse(f"it contains {node.key.upper()}, which writes or changes the schema")
        elif isinstance(node, exp.Into):
            refuse("it stores the result (SELECT ... INTO)")
        elif isinstance(node, exp.Lock):
            refuse("it takes locks (FOR UPDATE, FOR SHARE or LOCK IN SHARE MODE)")
        elif isinstance(node, (exp.Parameter, exp.SessionParameter, exp.Placeholder)):
            refuse("it reads or sets variables (@ or @@)")
        elif isinstance(node, DENIED_NODES) or (
                isinstance(node, exp.Func) and _function_name(node) in DENIED_FUNCTIONS):
            refuse(f"it calls {_function_name(node)}(), which is not allowed in the console")
        elif isinstance(node, exp.Table):
            tables.append(_table(node, database, exposed, ctes, refuse))
    _cap(tree, max_rows)
    return Checked(tree.sql(dialect="mysql", comments=False), tuple(dict.fromkeys(
        t for t in tables if t)))


def _table(node: exp.Table, database: str, exposed: Callable[[str], bool], ctes: set[str],
           refuse: Callable[[str], None]) -> str:
    """The exposed table a table reference reads, or '' for a CTE's name."""
    if not isinstance(node.this, exp.Identifier):
        refuse(f"it reads from {node.this.key.upper()}, not from a table")
    if node.args.get("catalog") is not None:
        refuse(f"it names {node.sql(dialect='mysql')}, outside the database")
    schema = node.text("db")
    if schema and schema != database:
        refuse(f"it reads from another database ({schema})")
    if not schema and node.name in ctes:
        return ""
    if not exposed(node.name):
        refuse(f"it reads {node.name!r}, which is not a table the console may read")
    return node.name


def _function_name(node: exp.Expression) -> str:
    if isinstance(node, exp.Anonymous):
        return node.name.upper()
    return node.sql_name().upper() if isinstance(node, exp.Func) else node.key.upper()


def _cap(tree: exp.Query, max_rows: int) -> None:
    """An outer LIMIT of one row more than the cap, so the runner can tell a cut-off answer; the
    answer's own LIMIT stays when it is smaller (its offset stays in any case)."""
    limit = tree.args.get("limit")
    count = limit.expression if isinstance(limit, exp.Limit) else None
    if isinstance(count, exp.Literal) and count.is_int and int(count.this) <= max_rows:
        return
    if limit is not None and not (isinstance(count, exp.Literal) and count.is_int):
        raise Refused("its LIMIT is not a plain number", tree.sql(dialect="mysql"))
    if limit is None:
        limit = exp.Limit()
        tree.set("limit", limit)
    limit.set("expression", exp.Literal.number(max_rows + 1))


def _first_line(exc: Exception) -> str:
    return str(exc).splitlines()[0][:200] if str(exc) else type(exc).__name__
