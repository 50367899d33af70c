"""The console: a question to the model with the schema, its answer through the guard, the SQL
run read-only and bounded.

A checked SELECT runs on a pool and an executor of the console's own, so that:

- its one attempt may last the statement time (``TABLEGATE_CONSOLE_STATEMENT_MS``) plus a
  margin, where the service's schedule gives a request 200 ms at first, and it is not retried:
  a query that ran out of time would only run out of time again;
- it may log in as another database user (``TABLEGATE_CONSOLE_DB_USER``, SELECT only);
- the server stops it: ``SET STATEMENT max_statement_time=... FOR`` inside ``START
  TRANSACTION READ ONLY``, and the executor kills it should the server not.

The prompt carries the exposed tables' reflected schema (columns, types, keys, foreign keys)
and, only when ``TABLEGATE_CONSOLE_SAMPLE_ROWS`` asks for it, a few rows of each.
"""
from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pymysql

from tablegate.config import Config
from tablegate.console import guard, providers
from tablegate.console.providers import Provider
from tablegate.db import schema
from tablegate.db.pool import Pool
from tablegate.db.sql import quote_identifier
from tablegate.errors import GatewayTimeout, Unprocessable, errno
from tablegate.executor import Executor, Session, is_transient
from tablegate.gateway import Gateway

#: Time the executor gives a console attempt beyond the statement time: connecting, the
#: transaction's statements, fetching the capped rows.
MARGIN_MS = 2000
#: max_statement_time exceeded (MariaDB), and the same for MySQL's max_execution_time.
STATEMENT_TIMEOUT_ERRNOS = frozenset({1969, 3024})

SYSTEM_PROMPT = """You translate questions about a MariaDB database into SQL.
Answer with exactly one MariaDB SELECT statement (WITH ... SELECT is fine) and nothing else:
no explanation, no comments, no other statement. Use only these tables and columns:

{schema}
If the question cannot be answered from these tables, answer SELECT 'cannot answer' AS answer."""


@dataclass(frozen=True)
class Answer:
    sql: str
    columns: list[str]
    rows: list[list[Any]]
    truncated: bool
    seconds: float

    def data(self) -> dict:
        """The answer as the endpoint and ``--json`` give it."""
        return {"sql": self.sql, "columns": self.columns, "rows": self.rows,
                "truncated": self.truncated}


class Console:
    def __init__(self, gateway: Gateway, provider: Provider) -> None:
        self.gateway = gateway
        self.provider = provider
        config = gateway.config
        self.config = config
        own = dataclasses.replace(
            config, retry_timeouts_ms=(config.console_statement_ms + MARGIN_MS,),
            retry_waits_ms=(), pool_size=min(config.pool_size, 4),
            db_user=config.console_db_user or config.db_user,
            db_password=(config.console_db_password if config.console_db_user
                         else config.db_password))
        self.pool = Pool(own)
        self.executor = Executor(own, self.pool)

    def close(self) -> None:
        self.executor.close()
        self.pool.close()

    def prompt(self, visible: Callable[[dict], dict] = lambda tables: tables) -> str:
        """The system prompt: the schema of every exposed table that ``visible`` keeps (the
        API key's tables), never rows unless asked."""
        tables = visible(self.gateway.catalog.all())
        keys = [fk for fk in self.gateway.run(schema.foreign_keys)
                if fk[0] in tables and fk[2] in tables]
        samples = self._samples(tables) if self.config.console_sample_rows else {}
        return SYSTEM_PROMPT.format(schema=describe(tables, keys, samples))

    def write(self, question: str,
              visible: Callable[[dict], dict] = lambda tables: tables) -> guard.Checked:
        """Ask the model and check its SQL; raises ``guard.Refused`` with the reason."""
        answer = self.provider.complete(self.prompt(visible), question)
        return guard.check(providers.extract_sql(answer), database=self.config.db_name,
                           exposed=self.gateway.catalog.exposed,
                           max_rows=self.config.console_max_rows)

    def run(self, checked: guard.Checked) -> Answer:
        cap, seconds = self.config.console_max_rows, self.config.console_statement_ms / 1000
        started = time.monotonic()
        columns, rows = self.executor.run(lambda session: _read_only(session, checked.sql,
                                                                      seconds, cap))
        return Answer(checked.sql, columns, rows[:cap], len(rows) > cap,
                      time.monotonic() - started)

    def ask(self, question: str) -> Answer:
        return self.run(self.write(question))

    def _samples(self, tables: dict[str, schema.Table]) -> dict[str, list[tuple]]:
        n = self.config.console_sample_rows
        return {name: self.gateway.run(lambda session, name=name: session.execute(
                    f"SELECT * FROM {quote_identifier(name)} LIMIT %s", (n,)).fetchall())
                for name in tables}


def _read_only(session: Session, sql: str, seconds: float, cap: int) -> tuple[list, list]:
    """The checked SELECT in a read-only transaction, stopped by the server after ``seconds``;
    at most ``cap`` + 1 rows are fetched (the guard put that LIMIT in the SQL too)."""
    try:
        session.execute("START TRANSACTION READ ONLY")
        try:
            cursor = session.execute(
                f"SET STATEMENT max_statement_time={seconds:.3f} FOR {sql}")
            columns = [d[0] for d in cursor.description or ()]
            rows = [list(row) for row in cursor.fetchmany(cap + 1)]
        finally:
            session.execute("ROLLBACK")
    except pymysql.MySQLError as exc:
        if errno(exc) in STATEMENT_TIMEOUT_ERRNOS:
            raise GatewayTimeout(f"The query ran longer than {seconds:g} s and was stopped",
                                 {"sql": sql}) from None
        if is_transient(exc) or not isinstance(exc, (pymysql.ProgrammingError,
                                                     pymysql.OperationalError,
                                                     pymysql.InternalError,
                                                     pymysql.DataError)):
            raise
        raise Unprocessable(f"The database refused the query: {_server_text(exc)}",
                            {"sql": sql, "mysql_errno": errno(exc)}) from None
    return columns, rows


def _server_text(exc: BaseException) -> str:
    return str(exc.args[1]) if len(exc.args) > 1 else type(exc).__name__


def describe(tables: dict[str, schema.Table], keys: list[tuple], samples: dict) -> str:
    """The schema as the prompt shows it: one block per table."""
    blocks = []
    for name, table in sorted(tables.items()):
        lines = [f"TABLE {name}"]
        for column in table.columns.values():
            notes = [column.column_type, "NULL" if column.nullable else "NOT NULL"]
            if column.name in table.primary_key:
                notes.append("PRIMARY KEY")
            elif column.key == "UNI":
                notes.append("UNIQUE")
            elif column.key == "MUL":
                notes.append("INDEXED")
            lines.append(f"  {column.name} {' '.join(notes)}")
        for table_name, column_name, target, target_column in keys:
            if table_name == name:
                lines.append(f"  FOREIGN KEY ({column_name}) REFERENCES "
                             f"{target}({target_column})")
        for row in samples.get(name, ()):
            lines.append(f"  example row: {tuple(row)!r}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n"


def config_problem(config: Config) -> str | None:
    return providers.problem(config)
