"""The only door to PyMySQL.

DBUtils keeps the connections; callers get the raw PyMySQL connection, never DBUtils' "tough"
wrappers. Those wrappers re-run a failed statement on a fresh connection by themselves, which
would be a second, invisible retry underneath the executor and could write a row twice; the
executor (``tablegate.resiliency``) is the only place that decides to retry.
"""
from __future__ import annotations

import contextlib
import select
import ssl
import threading
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pymysql
from dbutils.pooled_db import PooledDB
from pymysql.constants import SERVER_STATUS

from tablegate.config import Config
from tablegate.db import deadline

# Strict mode on every connection: a bad value is an error (422), never a silent truncation.
SQL_MODE = ("STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
            "NO_ENGINE_SUBSTITUTION")

# A connection idle for longer is pinged before it is lent; one used more recently is only
# looked at (``Lease.check``): a hang-up shows on its socket, a silent stall does not.
IDLE_PING_S = 5.0


def backstop_s(config: Config) -> float:
    """The socket timeout of every connection, in seconds: twice the schedule's longest attempt,
    plus one."""
    return max(config.retry_timeouts_ms) / 1000 * 2 + 1


def init_command(config: Config, idle_transaction_s: int) -> str:
    """The session settings every connection runs once, when it connects: strict mode, UTC, and
    the server's own bounds on a lock wait and on an idle transaction (``deadline``)."""
    return (f"SET SESSION sql_mode='{SQL_MODE}', time_zone='+00:00', "
            + deadline.session_settings(max(config.retry_timeouts_ms) / 1000, idle_transaction_s))


def connect_args(config: Config) -> dict:
    """PyMySQL arguments shared by pooled connections and the side connections that kill
    timed-out statements and stream exports.

    The socket timeouts are a backstop only: the executor gives up on an attempt long before, but
    a worker thread stuck reading from a stalled network must come back eventually.

    Autocommit: a read is one round trip, with no transaction to end afterwards. Writes open
    theirs explicitly (``Session.begin``), so that their COMMIT still passes the executor's gate.
    """
    backstop = backstop_s(config)
    args = dict(
        user=config.db_user,
        password=config.db_password,
        database=config.db_name,
        charset="utf8mb4",
        autocommit=True,
        connect_timeout=backstop,
        read_timeout=backstop,
        write_timeout=backstop,
        init_command=init_command(config, config.idle_transaction_s),
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

    #: ``time.monotonic()`` when the pool last took it back (or when it was made).
    idle_since: float

    def connect(self, sock: Any = None) -> None:
        super().connect(sock)
        self.idle_since = time.monotonic()

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
        # down and recovers by itself. ping=0 and reset=False: DBUtils would ping on every
        # checkout and roll back on every return, two round trips per request, under its lock;
        # ``connection()`` does both itself, only when needed and outside the lock.
        self._pooled = PooledDB(
            creator=_connect, mincached=0, maxcached=config.pool_size,
            maxconnections=config.pool_size, blocking=True, ping=0, reset=False,
            **connect_args(config),
        )
        self._lock = threading.Lock()
        self.in_use = 0
        self.borrowed = 0

    @contextlib.contextmanager
    def connection(self) -> Iterator[Lease]:
        """Borrow a live connection; on every exit it is returned, after a ROLLBACK if it is
        left in a transaction, or closed when its state is unknown (``lease.discard = True``) or
        it cannot roll back.

        Liveness: a connection that was closed (discarded) or idle for ``IDLE_PING_S`` is pinged
        and, if that fails, reconnected in place, on the borrowing thread. Left to DBUtils, the
        ping, the rollback and a reconnect would run under the pool's lock, and a single
        connection to a stalled server would keep every other thread from borrowing or returning
        one for a whole connect timeout. A discarded connection is not rolled back (it may be
        killed or stalled; the server rolls back when it goes): it is closed and stays in
        DBUtils' cache, to be reconnected by its next borrower.
        """
        pooled = self._pooled.connection(shareable=False)
        with self._lock:
            self.in_use += 1
            self.borrowed += 1
        lease = Lease(pooled.dbapi_connection)
        try:
            lease.check()
            yield lease
        finally:
            lease.give_back()
            pooled.close()
            with self._lock:
                self.in_use -= 1

    def close(self) -> None:
        self._pooled.close()


class Lease:
    __slots__ = ("raw", "discard")

    def __init__(self, raw: _Connection) -> None:
        self.raw = raw
        self.discard = False

    def check(self) -> None:
        """Make sure the connection is worth lending, in as few round trips as possible.

        A connection the server or the network closed while it sat in the pool has data or an
        end-of-file waiting on its socket (the server's "killed" or "timeout" error packet, a FIN,
        a RST): a zero-timeout poll sees that without a round trip, and the connection is opened
        anew. One idle for longer than ``IDLE_PING_S`` is also pinged, for what a poll cannot
        see (a peer that vanished without a word). A stalled network shows neither: the
        statement then runs out of time and the executor handles it.
        """
        raw = self.raw
        if raw.open and not _hung_up(raw):
            if time.monotonic() - raw.idle_since <= IDLE_PING_S:
                return
            try:
                raw.ping()
                return
            except Exception:
                pass
        if raw.open:
            raw._force_close()  # no QUIT on a connection already gone
        raw.connect()

    def give_back(self) -> None:
        raw = self.raw
        if not self.discard and raw.server_status & SERVER_STATUS.SERVER_STATUS_IN_TRANS:
            try:
                raw.rollback()
            except Exception:
                self.discard = True
        if self.discard:
            with contextlib.suppress(Exception):
                raw.close()
        else:
            raw.idle_since = time.monotonic()


def _hung_up(raw: _Connection) -> bool:
    poller = select.poll()
    poller.register(raw._sock, select.POLLIN)
    return bool(poller.poll(0))


def side_connection(config: Config, timeout_s: float | None = None, *,
                    idle_transaction_s: int | None = None,
                    **overrides) -> pymysql.connections.Connection:
    """A connection outside the pool (to KILL a statement, to stream an export); its socket
    timeouts are ``timeout_s`` (default ``backstop_s``), its idle transaction timeout
    ``idle_transaction_s`` (default the config's; 0 is none). ``overrides`` are PyMySQL
    arguments, e.g. ``conv`` for an export that wants text."""
    args = connect_args(config)
    if timeout_s is not None:
        args.update(connect_timeout=timeout_s, read_timeout=timeout_s, write_timeout=timeout_s)
    if idle_transaction_s is not None:
        args["init_command"] = init_command(config, idle_transaction_s)
    args.update(overrides)
    return _Connection(**args)
