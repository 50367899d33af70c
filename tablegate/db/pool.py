"""The only door to PyMySQL.

DBUtils keeps the connections; callers get the raw PyMySQL connection, never DBUtils' "tough"
wrappers. Those wrappers re-run a failed statement on a fresh connection by themselves, which
would be a second, invisible retry underneath the executor and could write a row twice; the
executor (``tablegate.resiliency``) is the only place that decides to retry.
"""
from __future__ import annotations

import contextlib
import ssl
import threading
from collections.abc import Iterator
from typing import Any, ClassVar

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


class _Connection(pymysql.connections.Connection):
    """A PyMySQL connection that shares one TLS context with every other.

    Given no TLS options, PyMySQL 1.2 prefers TLS and builds a new ``ssl.SSLContext`` for each
    connection, loading the system CA store every time: about 50 ms of CPU per connect, spent
    before it even learns whether the server speaks TLS. That is a quarter of the first
    attempt's 200 ms whenever the pool has to connect (after an outage, after a kill) and it is
    paid again by every KILL connection, so the context of that mode, which never varies, is
    built once. Explicit TLS options still get their own context.
    """

    _preferred_tls: ClassVar[ssl.SSLContext | None] = None

    def _create_ssl_ctx(self, sslp: Any) -> ssl.SSLContext:
        if sslp:
            return super()._create_ssl_ctx(sslp)
        if _Connection._preferred_tls is None:  # a race builds it twice, harmlessly
            _Connection._preferred_tls = super()._create_ssl_ctx(sslp)
        return _Connection._preferred_tls


def _connect(**kwargs: Any) -> pymysql.connections.Connection:
    """DBUtils' creator; it finds the DB-API module (PyMySQL) through the connection."""
    return _Connection(**kwargs)


class Pool:
    def __init__(self, config: Config) -> None:
        # mincached=0: nothing connects at start-up, so the service starts while the database is
        # down and recovers by itself. ping=1 checks a connection when it is taken from the pool,
        # so a connection the server closed meanwhile is replaced instead of failing a request.
        # reset=False: ``connection()`` rolls back itself, outside DBUtils' lock.
        self._pooled = PooledDB(
            creator=_connect, mincached=0, maxcached=config.pool_size,
            maxconnections=config.pool_size, blocking=True, ping=1, reset=False,
            **connect_args(config),
        )
        self._lock = threading.Lock()
        self.in_use = 0
        self.borrowed = 0

    @contextlib.contextmanager
    def connection(self) -> Iterator[Lease]:
        """Borrow a connection; on every exit it is rolled back and returned, or closed when its
        state is unknown (``lease.discard = True``) or it cannot roll back.

        Both happen here, on the borrowing thread. Left to DBUtils, the rollback would run under
        the pool's lock, and a failed one would reconnect there too: a single connection to a
        stalled server would then keep every other thread from borrowing or returning one for a
        whole connect timeout. A discarded connection is not rolled back either (it may be
        killed or stalled; the server rolls back when it goes): it is closed, stays in DBUtils'
        cache as closed, and the liveness check reopens it when it is next borrowed.
        """
        pooled = self._pooled.connection(shareable=False)
        with self._lock:
            self.in_use += 1
            self.borrowed += 1
        lease = Lease(pooled.dbapi_connection)
        try:
            yield lease
        finally:
            if not lease.discard:
                lease.rollback()  # discards it when it cannot
            if lease.discard:
                # DBUtils' own (steady) connection, closed: on return it is neither rolled back
                # nor reconnected; the next borrower's liveness check reopens it.
                pooled._con.close()
            pooled.close()
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
    return _Connection(**args)
