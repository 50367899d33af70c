"""CRUD load benchmark: tablegate under gunicorn vs the same SQL through raw PyMySQL (issue 8).

    .venv/bin/python bench/crud.py [--duration 5] [--concurrency 1,16,64] [--ops get,query10,insert,update]

What one run does, bounded in time, touching no database but its own:

1. creates the database ``tablegate_bench_crud`` on the MariaDB named by ``TABLEGATE_DB_HOST``,
   ``_PORT``, ``_USER``, ``_PASSWORD`` (default root@127.0.0.1:3306) and seeds table ``bench``
   with 100,000 rows (multi-row INSERTs);
2. measures the executor in-process: N single-row reads as ``op(session)`` on one held
   connection, through ``pool.connection()``, and through ``Executor.run(op)`` (production
   logging at INFO, written to a file), and reports the microseconds each layer adds per call;
3. starts the service with the production ``gunicorn.conf.py`` (workers, threads and pool size
   as the environment says, production defaults otherwise) on a free 127.0.0.1 port, waits for
   ``/health`` and warms every worker up;
4. for each operation and each concurrency, drives the service from a separate process over
   loopback for ``--duration`` seconds, then runs the same SQL through raw PyMySQL from as many
   threads, each with its own connection (autocommit off, COMMIT after writes), without HTTP;
5. prints one table: requests/s, p50 and p99 for both, the gateway/raw ratio, the gunicorn
   CPU time per request (the figure least disturbed by other load on the machine), and where the
   CPU went (load generator, gunicorn, mariadbd) as % of one core, plus the load average;
6. always stops gunicorn and drops the database (try/finally).

Operations: ``get`` = ``GET /api/bench/query?id=<random>`` (one row by key); ``query10`` =
``POST /api/bench/query`` with ``{"input": {"id": {"gte": k}}, "limit": 10}``; ``insert`` =
``POST /api/bench`` with one row; ``update`` = ``PUT /api/bench`` setting ``score`` by ``id``.

Load generator: ``wrk`` (Debian package ``wrk``) with ``bench/crud.lua`` when it is installed,
otherwise a Python client (processes x threads of keep-alive ``http.client`` connections) that is
much slower: on a small machine it competes with the server for CPU, so use wrk for real figures.
The "client CPU" column shows how much of a core the load generator used.

Targets (issue 8, 2 cores): ``get`` at 16 connections >= 50% of raw PyMySQL's rate with p99 under
25 ms; the executor adds under 0.3 ms per call.
"""
from __future__ import annotations

import argparse
import contextlib
import http.client
import json
import logging
import multiprocessing
import os
import random
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import pymysql

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DB_NAME = "tablegate_bench_crud"
TABLE = "bench"
SEED_ROWS = 100_000
SEED_BATCH = 5_000
OPS = ("get", "query10", "insert", "update")
EXTRA_OPS = ("health",)  # GET /health: the HTTP + Flask floor, no database (raw: SELECT 1)
LABELS = {
    "health": "GET /health (no DB)",
    "get": "GET one row by key",
    "query10": "POST query, 10 rows",
    "insert": "POST insert 1 row",
    "update": "PUT update by key",
}
CLK_TCK = os.sysconf("SC_CLK_TCK")

# The statements the gateway builds for these requests (tablegate.db.sql), verbatim.
COLUMNS = "`id`, `name`, `email`, `score`, `balance`, `created_at`"
SQL = {
    "health": "SELECT %s",
    "get": f"SELECT {COLUMNS} FROM `bench` WHERE `id` = %s ORDER BY `id` LIMIT %s OFFSET %s",
    "query10": f"SELECT {COLUMNS} FROM `bench` WHERE `id` >= %s ORDER BY `id` "
               "LIMIT %s OFFSET %s",
    "insert": "INSERT INTO `bench` (`name`, `email`, `score`, `balance`, `created_at`) "
              "VALUES (%s, %s, %s, %s, %s)",
    "update": "UPDATE `bench` SET `score` = %s WHERE `id` = %s",
}
WRITES = frozenset({"insert", "update"})


def db_settings() -> dict:
    env = os.environ
    return dict(host=env.get("TABLEGATE_DB_HOST", "127.0.0.1"),
                port=int(env.get("TABLEGATE_DB_PORT", "3306")),
                user=env.get("TABLEGATE_DB_USER", "root"),
                password=env.get("TABLEGATE_DB_PASSWORD", ""))


def connect(database: str | None = DB_NAME, **extra) -> pymysql.connections.Connection:
    return pymysql.connect(**db_settings(), database=database, charset="utf8mb4",
                           connect_timeout=10, read_timeout=60, write_timeout=60, **extra)


# --- database -----------------------------------------------------------------------------------

def create_database(rows: int) -> None:
    started = time.monotonic()
    with contextlib.closing(connect(None, autocommit=True)) as conn:
        cur = conn.cursor()
        cur.execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")
        cur.execute(f"CREATE DATABASE `{DB_NAME}` CHARACTER SET utf8mb4")
        cur.execute(f"USE `{DB_NAME}`")
        cur.execute(f"""CREATE TABLE `{TABLE}` (
            id INT AUTO_INCREMENT PRIMARY KEY,
            name VARCHAR(64) NOT NULL,
            email VARCHAR(128) NOT NULL,
            score INT NOT NULL DEFAULT 0,
            balance DECIMAL(10, 2) NOT NULL DEFAULT 0,
            created_at DATETIME NOT NULL
        ) ENGINE=InnoDB""")
        cur.execute("SET SESSION unique_checks = 0")
        cur.execute("START TRANSACTION")
        for first in range(1, rows + 1, SEED_BATCH):
            last = min(first + SEED_BATCH, rows + 1)
            values = ",".join(
                f"({i},'user {i}','user{i}@example.com',{i % 1000},{i % 10000}.{i % 100:02d},"
                f"'2026-01-01 00:00:00' + INTERVAL {i} SECOND)" for i in range(first, last))
            cur.execute("INSERT INTO `bench` (id, name, email, score, balance, created_at) "
                        f"VALUES {values}")
        cur.execute("COMMIT")
        cur.execute("ANALYZE TABLE `bench`")
        cur.fetchall()
    log(f"seeded {DB_NAME}.{TABLE} with {rows} rows in {time.monotonic() - started:.1f} s")


def drop_database() -> None:
    with contextlib.closing(connect(None, autocommit=True)) as conn:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{DB_NAME}`")


# --- operations as SQL (raw baseline) -----------------------------------------------------------

def sql_params(op: str, rng: random.Random, rows: int) -> list:
    k = rng.randint(1, rows - 10)
    if op == "health":
        return [1]
    if op == "get":
        return [str(k), 100, 0]  # the query string hands the gateway a string
    if op == "query10":
        return [k, 10, 0]
    if op == "insert":
        return [f"raw {k}", f"raw{k}@example.com", k % 1000, "12.50", "2026-01-01 00:00:00"]
    return [rng.randint(0, 999), k]


def run_raw(op: str, concurrency: int, duration: float, rows: int) -> dict:
    """``concurrency`` threads, each with its own connection, for ``duration`` seconds."""
    conns = [connect(autocommit=False) for _ in range(concurrency)]
    latencies: list[list[float]] = [[] for _ in range(concurrency)]
    failures = [0] * concurrency
    start_gate = threading.Barrier(concurrency + 1)
    deadline = [0.0]

    def worker(i: int) -> None:
        conn, lat, rng = conns[i], latencies[i], random.Random(i * 7919 + int(time.time()))
        statement, write = SQL[op], op in WRITES
        cur = conn.cursor()
        start_gate.wait()
        now = time.perf_counter()
        while now < deadline[0]:
            try:
                cur.execute(statement, sql_params(op, rng, rows))
                if write:
                    conn.commit()
                else:
                    cur.fetchall()
            except pymysql.MySQLError:
                failures[i] += 1
                with contextlib.suppress(Exception):
                    conn.rollback()
            after = time.perf_counter()
            lat.append(after - now)
            now = after

    threads = [threading.Thread(target=worker, args=(i,), daemon=True)
               for i in range(concurrency)]
    for t in threads:
        t.start()
    cpu0, db0 = time.process_time(), proc_cpu(mariadbd_pids())
    deadline[0] = time.perf_counter() + duration
    wall0 = time.perf_counter()
    start_gate.wait()
    for t in threads:
        t.join(duration + 30)
    wall = time.perf_counter() - wall0
    cpu, db = time.process_time() - cpu0, proc_cpu(mariadbd_pids()) - db0
    for conn in conns:
        with contextlib.suppress(Exception):
            conn.rollback()
            conn.close()
    every = sorted(x for lat in latencies for x in lat)
    return dict(requests=len(every), seconds=wall, rps=len(every) / wall,
                p50_ms=percentile(every, 50) * 1000, p99_ms=percentile(every, 99) * 1000,
                errors=sum(failures), client_cpu=cpu / wall * 100, server_cpu=None,
                db_cpu=db / wall * 100)


def percentile(sorted_values: list[float], pct: float) -> float:
    if not sorted_values:
        return float("nan")
    index = min(len(sorted_values) - 1, max(0, round(pct / 100 * len(sorted_values)) - 1))
    return sorted_values[index]


# --- executor overhead (in-process) -------------------------------------------------------------

def measure_executor(calls: int, rounds: int, rows: int, log_path: Path) -> dict:
    """Per-call µs of a single-row read: on a held connection, through the pool, through the
    executor. The differences are what each layer adds on the happy path."""
    from flask import Flask

    from tablegate import logs
    from tablegate.config import Config
    from tablegate.db.pool import Pool
    from tablegate.executor import Attempt, Executor, Session

    s = db_settings()
    config = Config(db_host=s["host"], db_port=s["port"], db_user=s["user"],
                    db_password=s["password"], db_name=DB_NAME,
                    log_level=os.environ.get("TABLEGATE_LOG_LEVEL", "INFO"))
    logs.init_app(Flask("bench"), config.log_level)
    logger = logging.getLogger("tablegate")
    log_file = open(log_path, "a")  # production logs go somewhere: a file here, not a terminal
    production_handlers = logger.handlers[:]
    to_file = logging.StreamHandler(log_file)
    to_file.setFormatter(production_handlers[0].formatter)
    to_file.filters = production_handlers[0].filters
    logger.handlers = [to_file]
    pool = Pool(config)
    executor = Executor(config, pool)
    rng = random.Random(1)

    def op(session):
        return session.execute(SQL["get"], sql_params("get", rng, rows)).fetchall()

    def direct(n: int) -> None:
        with pool.connection() as lease:
            session = Session(lease.raw, Attempt())
            for _ in range(n):
                op(session)

    def pooled(n: int) -> None:
        for _ in range(n):
            with pool.connection() as lease:
                op(Session(lease.raw, Attempt()))

    def executed(n: int) -> None:
        for _ in range(n):
            executor.run(op)

    def executed_quiet(n: int) -> None:
        level = logger.level
        logger.setLevel(logging.WARNING)
        try:
            executed(n)
        finally:
            logger.setLevel(level)

    variants = {"direct": direct, "pool": pooled, "executor": executed,
                "executor_nolog": executed_quiet}
    samples: dict[str, list[float]] = {name: [] for name in variants}
    try:
        for fn in variants.values():
            fn(max(50, calls // 10))  # warm-up: connections open, code paths hot
        for _ in range(rounds):
            for name, fn in variants.items():
                started = time.perf_counter()
                fn(calls)
                samples[name].append((time.perf_counter() - started) / calls * 1e6)
    finally:
        executor.close()
        pool.close()
        logger.handlers = production_handlers
        log_file.close()
    us = {name: statistics.median(v) for name, v in samples.items()}
    return dict(calls=calls, rounds=rounds, us_per_call=us,
                pool_adds_us=us["pool"] - us["direct"],
                executor_adds_us=us["executor"] - us["pool"],
                logging_adds_us=us["executor"] - us["executor_nolog"],
                total_over_direct_us=us["executor"] - us["direct"])


# --- the service --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_gunicorn(port: int, log_path: Path) -> subprocess.Popen:
    s = db_settings()
    env = dict(os.environ, TABLEGATE_BIND=f"127.0.0.1:{port}", TABLEGATE_DB_NAME=DB_NAME,
               TABLEGATE_DB_HOST=s["host"], TABLEGATE_DB_PORT=str(s["port"]),
               TABLEGATE_DB_USER=s["user"], TABLEGATE_DB_PASSWORD=s["password"])
    env.pop("TABLEGATE_DB_SOCKET", None)
    out = open(log_path, "ab")
    proc = subprocess.Popen(
        # --no-control-socket: gunicorn 27's default control socket is one path per user
        # (~/.gunicorn/gunicorn.ctl); a second server would take it from another one running.
        [sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "--no-control-socket",
         "wsgi:app"],
        cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    out.close()
    return proc


def wait_healthy(proc: subprocess.Popen, port: int, log_path: Path, limit: float = 30) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"gunicorn exited with {proc.returncode}:\n{tail(log_path)}")
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1) as resp:
                if resp.status == 200:
                    return
        time.sleep(0.2)
    raise SystemExit(f"gunicorn did not answer /health within {limit:.0f} s:\n{tail(log_path)}")


def stop_gunicorn(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(5)


def tail(path: Path, lines: int = 20) -> str:
    with contextlib.suppress(OSError):
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    return ""


def children(pid: int) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                stat = Path(f"/proc/{entry}/stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                    found.append(int(entry))
    return found


def mariadbd_pids() -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            with contextlib.suppress(OSError):
                if Path(f"/proc/{entry}/comm").read_text().strip() in ("mariadbd", "mysqld"):
                    found.append(int(entry))
    return found


def proc_cpu(pids: list[int]) -> float:
    """Seconds of CPU (user + system) used so far by these processes."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / CLK_TCK


# --- load generators ----------------------------------------------------------------------------

def run_wrk(op: str, port: int, concurrency: int, duration: float, rows: int,
            server_pids: list[int]) -> dict:
    env = dict(os.environ, BENCH_OP=op, BENCH_ROWS=str(rows))
    cmd = ["wrk", "-t1", f"-c{concurrency}", f"-d{max(1, round(duration))}s", "--timeout", "5s",
           "-s", str(Path(__file__).with_name("crud.lua")), f"http://127.0.0.1:{port}"]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    srv0, db0, wall0 = proc_cpu(server_pids), proc_cpu(mariadbd_pids()), time.perf_counter()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=duration + 60)
    wall = time.perf_counter() - wall0
    srv, db = proc_cpu(server_pids) - srv0, proc_cpu(mariadbd_pids()) - db0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    line = next((l for l in done.stdout.splitlines() if l.startswith("BENCH_RESULT ")), None)
    if done.returncode or line is None:
        raise SystemExit(f"wrk failed ({done.returncode}):\n{done.stdout}\n{done.stderr}")
    r = json.loads(line.split(" ", 1)[1])
    seconds = r["duration_us"] / 1e6
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dict(requests=r["requests"], seconds=seconds, rps=r["requests"] / seconds,
                p50_ms=r["p50_us"] / 1000, p99_ms=r["p99_us"] / 1000,
                errors=sum(r[k] for k in ("status_errors", "connect_errors", "read_errors",
                                          "write_errors", "timeouts")),
                client_cpu=client / wall * 100, server_cpu=srv / wall * 100,
                db_cpu=db / wall * 100)


def http_request(op: str, rng: random.Random, rows: int) -> tuple[str, str, str | None]:
    k = rng.randint(1, rows - 10)
    if op == "health":
        return "GET", "/health", None
    if op == "get":
        return "GET", f"/api/{TABLE}/query?id={k}", None
    if op == "query10":
        return "POST", f"/api/{TABLE}/query", json.dumps({"input": {"id": {"gte": k}},
                                                          "limit": 10})
    if op == "insert":
        return "POST", f"/api/{TABLE}", json.dumps({"input": {
            "name": f"py {k}", "email": f"py{k}@example.com", "score": k % 1000,
            "balance": "12.50", "created_at": "2026-01-01 00:00:00"}})
    return "PUT", f"/api/{TABLE}", json.dumps({"input": {"score": rng.randint(0, 999)},
                                               "where": {"id": k}})


def _py_client_process(op, port, threads, start_at, deadline, rows, queue) -> None:
    results: list[list[float]] = [[] for _ in range(threads)]
    errors = [0] * threads

    def worker(i: int) -> None:
        rng = random.Random(os.getpid() * 31 + i)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        headers = {"Content-Type": "application/json"}
        while time.time() < start_at:
            time.sleep(0.001)
        while time.time() < deadline:
            method, path, body = http_request(op, rng, rows)
            t0 = time.perf_counter()
            try:
                conn.request(method, path, body, headers if body else {})
                resp = conn.getresponse()
                resp.read()
                if resp.status >= 400:
                    errors[i] += 1
            except (OSError, http.client.HTTPException):
                errors[i] += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            results[i].append(time.perf_counter() - t0)
        conn.close()

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    queue.put(([x for r in results for x in r], sum(errors)))


def run_python_client(op: str, port: int, concurrency: int, duration: float, rows: int,
                      server_pids: list[int]) -> dict:
    procs_n = min(concurrency, max(1, os.cpu_count() or 1))
    split = [concurrency // procs_n + (1 if i < concurrency % procs_n else 0)
             for i in range(procs_n)]
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    start_at = time.time() + 0.5
    deadline = start_at + duration
    procs = [ctx.Process(target=_py_client_process,
                         args=(op, port, n, start_at, deadline, rows, queue)) for n in split]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    for p in procs:
        p.start()
    srv0, db0 = proc_cpu(server_pids), proc_cpu(mariadbd_pids())
    lat, errors = [], 0
    for _ in procs:
        got, err = queue.get(timeout=duration + 60)
        lat.extend(got)
        errors += err
    for p in procs:
        p.join(10)
    srv, db = proc_cpu(server_pids) - srv0, proc_cpu(mariadbd_pids()) - db0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    wall = duration + 0.5
    lat.sort()
    client = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return dict(requests=len(lat), seconds=duration, rps=len(lat) / duration,
                p50_ms=percentile(lat, 50) * 1000, p99_ms=percentile(lat, 99) * 1000,
                errors=errors, client_cpu=client / duration * 100,
                server_cpu=srv / wall * 100, db_cpu=db / wall * 100)


# --- report -------------------------------------------------------------------------------------

def log(message: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


def loadavg() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def print_table(results: list[dict], executor: dict | None, meta: dict) -> None:
    print()
    print(f"tablegate CRUD benchmark: {meta['client']} client, {meta['duration']:.0f} s per cell, "
          f"{meta['cpus']} CPUs, gunicorn workers={meta['workers']} threads={meta['threads']} "
          f"pool={meta['pool']}")
    print(f"load average before: {meta['load_before']}   after: {meta['load_after']}")
    head = (f"| {'operation':<20} | {'conc':>4} | {'gateway req/s':>13} | {'p50 ms':>7} | "
            f"{'p99 ms':>7} | {'raw req/s':>9} | {'p50 ms':>7} | {'p99 ms':>7} | "
            f"{'gw/raw':>6} | {'gw CPU µs/req':>13} | {'CPU% client/gunicorn/db (raw: client/db)':<40} |")
    print(head)
    print("|" + "|".join("-" * (len(c)) for c in head.split("|")[1:-1]) + "|")
    for r in results:
        gw, raw = r["gateway"], r["raw"]
        ratio = gw["rps"] / raw["rps"] if raw["rps"] else float("nan")
        cpu = (f"{gw['client_cpu']:.0f}/{gw['server_cpu']:.0f}/{gw['db_cpu']:.0f}"
               f" (raw {raw['client_cpu']:.0f}/{raw['db_cpu']:.0f})")
        err = ""
        if gw["errors"] or raw["errors"]:
            err = f"  ERRORS gateway={gw['errors']} raw={raw['errors']}"
        print(f"| {LABELS[r['op']]:<20} | {r['concurrency']:>4} | {gw['rps']:>13.0f} | "
              f"{gw['p50_ms']:>7.2f} | {gw['p99_ms']:>7.2f} | {raw['rps']:>9.0f} | "
              f"{raw['p50_ms']:>7.2f} | {raw['p99_ms']:>7.2f} | {ratio:>6.0%} | "
              f"{gw['server_cpu'] / 100 / gw['rps'] * 1e6:>13.0f} | {cpu:<40} |{err}")
    if executor:
        us = executor["us_per_call"]
        print()
        print(f"executor overhead, single-row read in-process ({executor['calls']} calls x "
              f"{executor['rounds']} rounds, median µs/call): "
              f"op on held connection {us['direct']:.0f}, via pool {us['pool']:.0f}, "
              f"via Executor.run {us['executor']:.0f} (with logging off {us['executor_nolog']:.0f})")
        print(f"  pool checkout/return adds {executor['pool_adds_us']:.0f} µs; "
              f"Executor.run adds {executor['executor_adds_us']:.0f} µs on top "
              f"(of which INFO attempt logging {executor['logging_adds_us']:.0f} µs); "
              f"total {executor['total_over_direct_us']:.0f} µs = "
              f"{executor['total_over_direct_us'] / 1000:.3f} ms per request (target < 0.3 ms)")
    get16 = next((r for r in results if r["op"] == "get" and r["concurrency"] == 16), None)
    if get16 and get16["raw"]["requests"]:
        ratio = get16["gateway"]["rps"] / get16["raw"]["rps"]
        print(f"target: GET one row at 16 connections >= 50% of raw with p99 < 25 ms: "
              f"{ratio:.0%} of raw, p99 {get16['gateway']['p99_ms']:.1f} ms -> "
              f"{'met' if ratio >= 0.5 and get16['gateway']['p99_ms'] < 25 else 'NOT met'}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per cell (5)")
    parser.add_argument("--concurrency", default="1,16,64", help="connections (1,16,64)")
    parser.add_argument("--ops", default=",".join(OPS),
                        help=f"subset of {','.join(OPS + EXTRA_OPS)}")
    parser.add_argument("--rows", type=int, default=SEED_ROWS, help="rows to seed (100000)")
    parser.add_argument("--client", choices=("auto", "wrk", "python"), default="auto")
    parser.add_argument("--executor-calls", type=int, default=2000,
                        help="calls per round of the in-process executor measurement (0: skip)")
    parser.add_argument("--executor-rounds", type=int, default=5)
    parser.add_argument("--skip-raw", action="store_true", help="gateway figures only")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--keep-logs", action="store_true", help="keep gunicorn's log")
    args = parser.parse_args(argv)

    concurrency = [int(c) for c in args.concurrency.split(",") if c]
    ops = [o for o in args.ops.split(",") if o]
    if unknown := set(ops) - set(OPS + EXTRA_OPS):
        parser.error(f"unknown operations: {', '.join(sorted(unknown))}")
    client = args.client
    if client == "auto":
        client = "wrk" if shutil.which("wrk") else "python"
    if client == "wrk" and not shutil.which("wrk"):
        parser.error("wrk is not installed (apt-get install wrk), use --client python")
    if client == "python":
        log("wrk not found: using the Python client, which competes with the server for CPU")
    run_http = run_wrk if client == "wrk" else run_python_client

    workdir = Path(tempfile.mkdtemp(prefix="tablegate-bench-"))
    gunicorn_log = workdir / "gunicorn.log"
    meta = dict(client=client, duration=args.duration, cpus=os.cpu_count(),
                workers=os.environ.get("TABLEGATE_WORKERS", "2"),
                threads=os.environ.get("TABLEGATE_THREADS", "8"),
                pool=os.environ.get("TABLEGATE_POOL_SIZE", "8"), load_before=loadavg())
    log(f"load average {meta['load_before']}")
    results: list[dict] = []
    executor = None
    proc = None
    try:
        create_database(args.rows)
        if args.executor_calls:
            log("measuring the executor in-process")
            executor = measure_executor(args.executor_calls, args.executor_rounds, args.rows,
                                        workdir / "executor.log")
        port = free_port()
        proc = start_gunicorn(port, gunicorn_log)
        wait_healthy(proc, port, gunicorn_log)
        server_pids = [proc.pid, *children(proc.pid)]
        log(f"gunicorn pid {proc.pid} on 127.0.0.1:{port}, workers {server_pids[1:]}")
        for op in ops:
            run_http(op, port, max(concurrency), 1.0, args.rows, server_pids)  # warm-up
            for conc in concurrency:
                gw = run_http(op, port, conc, args.duration, args.rows, server_pids)
                log(f"{op} c={conc} gateway {gw['rps']:.0f} req/s p50 {gw['p50_ms']:.2f} ms "
                    f"p99 {gw['p99_ms']:.2f} ms errors {gw['errors']} (load {loadavg()})")
                raw = (dict(requests=0, seconds=0, rps=float("nan"), p50_ms=float("nan"),
                            p99_ms=float("nan"), errors=0, client_cpu=0, server_cpu=0,
                            db_cpu=0) if args.skip_raw
                       else run_raw(op, conc, args.duration, args.rows))
                if not args.skip_raw:
                    log(f"{op} c={conc} raw     {raw['rps']:.0f} req/s p50 {raw['p50_ms']:.2f} "
                        f"ms p99 {raw['p99_ms']:.2f} ms errors {raw['errors']}")
                results.append(dict(op=op, concurrency=conc, gateway=gw, raw=raw))
    finally:
        if proc is not None:
            stop_gunicorn(proc)
        with contextlib.suppress(Exception):
            drop_database()
        if args.keep_logs:
            log(f"logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    meta["load_after"] = loadavg()
    print_table(results, executor, meta)
    if args.json:
        args.json.write_text(json.dumps(dict(meta=meta, results=results, executor=executor),
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
