"""The only door to PyMySQL.

DBUtils keeps the connections; callers get the raw PyMySQL connection, never DBUtils' "tough"
wrappers. Those wrappers re-run a failed statement on a fresh connection by themselves, which
would be a second, invisible retry underneath the executor and could write a row twice; the
executor (``tablegate.resiliency``) is the only place that decides to retry.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import pymysql
from dbutils.pooled_db import PooledDB

from tablegate.config import Config

# Strict mode on every connection: a bad value is an error (422), never a silent truncation.
SQL_MODE = ("STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
            "NO_ENGINE_SUBSTITUTION")


def connect_args(config: Config) -> dict:
    """PyMySQL arguments shared by pooled connections and the side connections that kill
    timed-out statements and stream exports.

    The socket timeouts are a backstop only: the executor gives up on an attempt long before, but
    a worker thread stuck reading from a stalled network must come back eventually.
    """
    backstop = max(config.retry_timeouts_ms) / 1000 * 2 + 1
    args = dict(
        user=config.db_user,
        password=config.db_password,
        database=config.db_name,
        charset="utf8mb4",
        autocommit=False,
        connect_timeout=backstop,
        read_timeout=backstop,
        write_timeout=backstop,
        init_command=f"SET SESSION sql_mode='{SQL_MODE}', time_zone='+00:00'",
    )
    if config.db_socket:
        args["unix_socket"] = config.db_socket
    else:
        args.update(host=config.db_host, port=config.db_port)
    return args


class Pool:
    def __init__(self, config: Config) -> None:
        # mincached=0: nothing connects at start-up, so the service starts while the database is
        # down and recovers by itself. ping=1 checks a connection when it is taken from the pool,
        # so a connection the server closed meanwhile is replaced instead of failing a request.
        self._pooled = PooledDB(
            creator=pymysql, mincached=0, maxcached=config.pool_size,
            maxconnections=config.pool_size, blocking=True, ping=1, reset=True,
            **connect_args(config),
        )
        self._lock = threading.Lock()
        self.in_use = 0
        self.borrowed = 0

    @contextlib.contextmanager
    def connection(self) -> Iterator[Lease]:
        """Borrow a connection; whatever happens it is rolled back and returned, or closed when
        its state is unknown (``lease.discard = True``)."""
        pooled = self._pooled.connection(shareable=False)
        with self._lock:
            self.in_use += 1
            self.borrowed += 1
        lease = Lease(pooled.dbapi_connection)
        try:
            yield lease
        except BaseException:
            lease.rollback()
            raise
        finally:
            if lease.discard:
                with contextlib.suppress(Exception):
                    lease.raw.close()
            pooled.close()  # DBUtils rolls back (reset=True) and keeps it, or reconnects later
            with self._lock:
                self.in_use -= 1

    def close(self) -> None:
        self._pooled.close()


class Lease:
    __slots__ = ("raw", "discard")

    def __init__(self, raw: pymysql.connections.Connection) -> None:
        self.raw = raw
        self.discard = False

    def rollback(self) -> None:
        try:
            self.raw.rollback()
        except Exception:
            self.discard = True


def side_connection(config: Config, timeout_s: float,
                    **overrides) -> pymysql.connections.Connection:
    """A short-lived connection outside the pool (to KILL a statement, or to stream an export);
    ``overrides`` are PyMySQL arguments, e.g. ``conv`` for an export that wants text."""
    args = connect_args(config)
    args.update(connect_timeout=timeout_s, read_timeout=timeout_s, write_timeout=timeout_s,
                **overrides)
    return pymysql.connect(**args)
