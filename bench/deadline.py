"""What carrying an attempt's deadline to the server costs a read (issue 20).

    .venv/bin/python bench/deadline.py [--calls 2000] [--rounds 9]

One connection to the MariaDB named by ``TABLEGATE_DB_HOST``, ``_PORT``, ``_USER``,
``_PASSWORD`` (default root@127.0.0.1:3306) reads one row by key from a 1,000-row table in the
database ``tablegate_bench_deadline`` (created, then dropped), three ways, interleaved round by
round so that load on the machine hits all three alike:

- ``none``: the statement alone, as before issue 20;
- ``prefix``: the statement behind ``deadline.bounded`` (``SET STATEMENT ... FOR``), which the
  executor sends: no extra round trip;
- ``session``: a ``SET SESSION max_statement_time`` before each statement, the alternative: one
  more round trip per attempt.

It prints the median and the minimum microseconds per read of each.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import pymysql

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tablegate.config import Config  # noqa: E402
from tablegate.db.deadline import bounded  # noqa: E402

DATABASE = "tablegate_bench_deadline"
READ = f"SELECT `id`, `name`, `email`, `age` FROM `{DATABASE}`.`u` WHERE `id` = %s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()
    env = Config.from_env()
    conn = pymysql.connect(host=env.db_host, port=env.db_port, user=env.db_user,
                           password=env.db_password, unix_socket=env.db_socket, autocommit=True)
    cursor = conn.cursor()
    ways = {
        "none": lambda key: cursor.execute(READ, (key,)),
        "prefix": lambda key: cursor.execute(bounded(READ, 0.187), (key,)),
        "session": lambda key: (cursor.execute("SET SESSION max_statement_time = 0.187"),
                                cursor.execute(READ, (key,))),
    }
    try:
        cursor.execute(f"CREATE DATABASE `{DATABASE}`")
        cursor.execute(f"CREATE TABLE `{DATABASE}`.`u` (id INT PRIMARY KEY, name VARCHAR(50), "
                       "email VARCHAR(50), age INT)")
        cursor.executemany(f"INSERT INTO `{DATABASE}`.`u` VALUES (%s, %s, %s, %s)",
                           [(n, f"name {n}", f"user{n}@example.com", n % 90)
                            for n in range(1, 1001)])
        timings: dict[str, list[float]] = {way: [] for way in ways}
        for _ in range(args.rounds):
            for way, read in ways.items():
                started = time.perf_counter()
                for n in range(args.calls):
                    read(n % 1000 + 1)
                    cursor.fetchall()
                timings[way].append((time.perf_counter() - started) / args.calls * 1e6)
        for way, values in timings.items():
            print(f"{way:8} median {statistics.median(values):6.0f} us  min {min(values):6.0f} us")
    finally:
        cursor.execute(f"DROP DATABASE IF EXISTS `{DATABASE}`")
        conn.close()


if __name__ == "__main__":
    main()
