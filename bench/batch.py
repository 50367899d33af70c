"""CSV batch benchmark: tablegate's import and export vs LOAD DATA and the mariadb client (issue 4).

    .venv/bin/python bench/batch.py [--rows 1000000] [--small 100000]

What one run does, touching no database but its own (``tablegate_bench``, dropped at the end):

1. writes two CSV files of ``--small`` and ``--rows`` rows (int key, varchar, decimal, datetime,
   nullable varchar that is empty in one row of five) to a temporary directory;
2. starts the service with the production ``gunicorn.conf.py`` on a free 127.0.0.1 port against
   ``tablegate_bench`` on the MariaDB named by ``TABLEGATE_DB_HOST``, ``_PORT``, ``_USER``,
   ``_PASSWORD`` (default root@127.0.0.1:3306);
3. for each file: imports it through ``POST /api/batch/import`` into an empty table, then
   ``LOAD DATA LOCAL INFILE`` of the same file into an identical empty table with the mariadb
   client; exports the table through ``GET /api/t/export`` and with
   ``mariadb --batch -e "SELECT ... ORDER BY id"`` (the service orders by primary key too);
   both sides read the whole response and count its bytes;
4. samples the RSS of every gunicorn worker from /proc every 20 ms during each HTTP run and
   reports the largest, and the CPU seconds the workers and mariadbd used (less disturbed than
   wall time by other load on the machine);
5. as a reference, runs the same work without the service: the same multi-row INSERTs
   (chunk size and one COMMIT each) from plain PyMySQL, and PyMySQL's SSCursor reading the rows
   as text without writing CSV; this separates what the protocol and the server cost from
   what tablegate adds;
6. prints one table, and always stops gunicorn and drops the database.

The service's settings come from the environment as usual, e.g.
``TABLEGATE_IMPORT_CHUNK_ROWS=5000 .venv/bin/python bench/batch.py``.

Targets (issue 4): import >= 50% of LOAD DATA's rows/s, export >= 70% of the mariadb client's,
worker peak RSS < 150 MB at both sizes.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import datetime
import http.client
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import pymysql
import pymysql.converters
import pymysql.cursors

REPO = Path(__file__).resolve().parents[1]
DATABASE = "tablegate_bench"
DDL = """CREATE TABLE {name} (
    id INT PRIMARY KEY,
    name VARCHAR(100) NOT NULL,
    amount DECIMAL(12, 2) NOT NULL,
    created_at DATETIME NOT NULL,
    note VARCHAR(100) NULL
) ENGINE=InnoDB"""
COLUMNS = "id, name, amount, created_at, note"
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def settings() -> dict:
    env = os.environ.get
    return dict(host=env("TABLEGATE_DB_HOST", "127.0.0.1"),
                port=int(env("TABLEGATE_DB_PORT", "3306")),
                user=env("TABLEGATE_DB_USER", "root"), password=env("TABLEGATE_DB_PASSWORD", ""))


def admin(database: str | None = None) -> pymysql.connections.Connection:
    return pymysql.connect(database=database, autocommit=True, **settings())


def write_csv(path: Path, rows: int) -> None:
    rnd = random.Random(rows)
    start = datetime.datetime(2020, 1, 1)
    with path.open("w", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["id", "name", "amount", "created_at", "note"])
        for n in range(1, rows + 1):
            created = start + datetime.timedelta(seconds=rnd.randrange(100_000_000))
            writer.writerow([n, f"user-{rnd.randrange(10**9)}", f"{rnd.randrange(10**9) / 100:.2f}",
                             created.strftime("%Y-%m-%d %H:%M:%S"),
                             "" if n % 5 == 0 else f"note {rnd.randrange(10**6)}"])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def children(pid: int) -> list[int]:
    path = Path(f"/proc/{pid}/task/{pid}/children")
    return [int(p) for p in path.read_text().split()] if path.exists() else []


def rss_bytes(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
    except (FileNotFoundError, ProcessLookupError):
        return 0


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        with contextlib.suppress(FileNotFoundError, ProcessLookupError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / TICKS


def mariadbd_pids() -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if (entry / "comm").read_text().strip() in ("mariadbd", "mysqld"):
                    found.append(int(entry.name))
    return found


class RssSampler:
    """The largest RSS of any gunicorn worker while it runs."""

    def __init__(self, workers: list[int]) -> None:
        self.workers, self.peak = workers, 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max([self.peak, *map(rss_bytes, self.workers)])

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


@dataclass
class Measure:
    seconds: float
    server_cpu: float = 0.0
    db_cpu: float = 0.0
    rss: int = 0


@contextlib.contextmanager
def measured(server: list[int], result: list[Measure]):
    database = mariadbd_pids()
    cpu0, db0, start = cpu_seconds(server), cpu_seconds(database), time.perf_counter()
    with RssSampler(server) as sampler:
        yield
    result.append(Measure(time.perf_counter() - start, cpu_seconds(server) - cpu0,
                          cpu_seconds(database) - db0, sampler.peak))


def http_import(port: int, path: Path) -> dict:
    boundary = uuid.uuid4().hex
    head = (f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="t.csv"\r\n'
            "Content-Type: text/csv\r\n\r\n").encode()
    tail = f"\r\n--{boundary}--\r\n".encode()

    def body():
        yield head
        with path.open("rb") as upload:
            while block := upload.read(1 << 20):
                yield block
        yield tail

    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("POST", "/api/batch/import?async=false", body=body(), headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}",
        "Content-Length": str(len(head) + path.stat().st_size + len(tail))})
    response = connection.getresponse()
    text = response.read().decode()
    if response.status != 200:
        sys.exit(f"import failed: {response.status} {text[:500]}")
    return __import__("json").loads(text)["data"]


def http_export(port: int) -> tuple[int, int]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    connection.request("GET", "/api/t/export")
    response = connection.getresponse()
    size = lines = 0
    while block := response.read(1 << 16):
        size += len(block)
        lines += block.count(b"\n")
    return size, lines - 1


def client_args(database: str) -> list[str]:
    s = settings()
    args = ["mariadb", f"--host={s['host']}", f"--port={s['port']}", f"--user={s['user']}",
            database]
    if s["password"]:
        args.insert(-1, f"--password={s['password']}")
    return args


def load_data(path: Path) -> None:
    sql = (f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE t_load FIELDS TERMINATED BY ','"
           " OPTIONALLY ENCLOSED BY '\"' LINES TERMINATED BY '\\r\\n' IGNORE 1 LINES"
           " (id, name, amount, created_at, @note) SET note = NULLIF(@note, '')")
    subprocess.run([*client_args(DATABASE), "--local-infile=1", "-e", sql], check=True)


def client_export() -> tuple[int, int]:
    process = subprocess.Popen([*client_args(DATABASE), "--batch", "-e",
                                f"SELECT {COLUMNS} FROM t ORDER BY id"], stdout=subprocess.PIPE)
    size = lines = 0
    while block := process.stdout.read(1 << 16):
        size += len(block)
        lines += block.count(b"\n")
    if process.wait():
        sys.exit("mariadb client export failed")
    return size, lines - 1


def raw_insert(path: Path, chunk_rows: int) -> None:
    """The same INSERTs without HTTP, the executor or validation: one multi-row INSERT and one
    COMMIT per chunk straight from csv.reader (the generated file needs no escaping)."""
    with admin(DATABASE) as conn, path.open(newline="") as source, conn.cursor() as cursor:
        conn.autocommit(False)
        reader = csv.reader(source)
        next(reader)
        head = f"INSERT INTO t_raw ({COLUMNS}) VALUES "
        chunk: list[list[str]] = []
        for record in reader:
            chunk.append(record)
            if len(chunk) == chunk_rows:
                cursor.execute(head + ",".join(_values(r) for r in chunk))
                conn.commit()
                chunk = []
        if chunk:
            cursor.execute(head + ",".join(_values(r) for r in chunk))
            conn.commit()


def _values(record: list[str]) -> str:
    note = f"'{record[4]}'" if record[4] else "NULL"
    return "('" + "','".join(record[:4]) + "'," + note + ")"


def raw_fetch(batch_rows: int) -> int:
    """The export's cursor without HTTP or CSV: PyMySQL's own cost of reading the rows."""
    conv = dict(pymysql.converters.encoders)
    with pymysql.connect(database=DATABASE, conv=conv, **settings()) as conn:
        cursor = conn.cursor(pymysql.cursors.SSCursor)
        cursor.execute(f"SELECT {COLUMNS} FROM t ORDER BY id")
        count = 0
        while batch := cursor.fetchmany(batch_rows):
            count += len(batch)
        return count


def recreate(cursor, name: str) -> None:
    cursor.execute(f"DROP TABLE IF EXISTS {name}")
    cursor.execute(DDL.format(name=name))


def start_service(port: int) -> subprocess.Popen:
    env = {**os.environ, "TABLEGATE_DB_NAME": DATABASE, "TABLEGATE_BIND": f"127.0.0.1:{port}",
           "TABLEGATE_LOG_LEVEL": "WARNING"}
    process = subprocess.Popen([str(REPO / ".venv/bin/gunicorn"), "-c", "gunicorn.conf.py",
                                "--access-logfile", "/dev/null", "wsgi:app"], cwd=REPO, env=env)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            if connection.getresponse().status == 200 and children(process.pid):
                return process
        time.sleep(0.2)
    process.terminate()
    sys.exit("gunicorn did not start")


def run_size(port: int, workers: list[int], path: Path, rows: int) -> dict[str, Measure]:
    with admin(DATABASE) as conn, conn.cursor() as cursor:
        for name in ("t", "t_load", "t_raw"):
            recreate(cursor, name)
    found: dict[str, list[Measure]] = {
        k: [] for k in ("import", "load", "raw insert", "export", "client", "raw fetch")}
    with measured(workers, found["import"]):
        data = http_import(port, path)
    assert data["rows_inserted"] == rows, data
    with measured([], found["load"]):
        load_data(path)
    with measured([], found["raw insert"]):
        raw_insert(path, int(os.environ.get("TABLEGATE_IMPORT_CHUNK_ROWS", "1000")))
    with measured(workers, found["export"]):
        size, lines = http_export(port)
    assert lines == rows, (lines, rows)
    with measured([], found["client"]):
        client_size, client_lines = client_export()
    assert client_lines == rows, (client_lines, rows)
    with measured([], found["raw fetch"]):
        assert raw_fetch(int(os.environ.get("TABLEGATE_EXPORT_BATCH_ROWS", "2000"))) == rows
    return {k: v[0] for k, v in found.items()}


def row(operation: str, rows: int, ours: Measure, base: Measure, baseline: str,
        target: float, reference: bool = False) -> str:
    ratio = base.seconds / ours.seconds
    ok = "yes" if ratio >= target and ours.rss < 150 * 2**20 else "no"
    rss = "—" if reference else f"{ours.rss / 2**20:.0f} MB"
    cpu = f"db {ours.db_cpu:.1f} s" if reference else (
        f"{ours.server_cpu:.1f} s + db {ours.db_cpu:.1f} s")
    return (f"| {operation} | {rows:,} | {rows / ours.seconds:,.0f} | {baseline} "
            f"{rows / base.seconds:,.0f} | {ratio:.0%} (≥{target:.0%}) | {rss} | {cpu} | "
            f"db {base.db_cpu:.1f} s | {'—' if reference else ok} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--small", type=int, default=100_000)
    args = parser.parse_args()
    if not shutil.which("mariadb"):
        sys.exit("the mariadb client is needed for the baselines")
    workdir = Path(tempfile.mkdtemp(prefix="tablegate-bench-"))
    with admin() as conn, conn.cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        cursor.execute(f"CREATE DATABASE {DATABASE} CHARACTER SET utf8mb4")
    port = free_port()
    service = None
    try:
        sizes = [args.small, args.rows] if args.small else [args.rows]
        files = {}
        for rows in sizes:
            files[rows] = workdir / f"bench-{rows}.csv"
            write_csv(files[rows], rows)
        service = start_service(port)
        workers = children(service.pid)
        idle = max(map(rss_bytes, workers))
        lines = ["| operation | rows | tablegate rows/s | baseline rows/s | ratio (target) | "
                 "worker peak RSS | CPU: gunicorn + mariadbd | CPU: baseline mariadbd | "
                 "meets target |", "|---|---|---|---|---|---|---|---|---|"]
        results = {rows: run_size(port, workers, files[rows], rows) for rows in sizes}
        for rows, found in results.items():
            lines.append(row("import", rows, found["import"], found["load"], "LOAD DATA", 0.5))
        for rows, found in results.items():
            lines.append(row("export", rows, found["export"], found["client"], "mariadb", 0.7))
        lines.append("| *reference: no HTTP, no service* | | | | | | | | |")
        for rows, found in results.items():
            lines.append(row("PyMySQL INSERTs", rows, found["raw insert"], found["load"],
                             "LOAD DATA", 0.5, reference=True))
        for rows, found in results.items():
            lines.append(row("PyMySQL SSCursor", rows, found["raw fetch"], found["client"],
                             "mariadb", 0.7, reference=True))
        print()
        print("\n".join(lines))
        print(f"\nworkers: {len(workers)}, idle RSS {idle / 2**20:.0f} MB; load average "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    finally:
        if service is not None:
            service.terminate()
            service.wait(30)
        with admin() as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS {DATABASE}")
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
