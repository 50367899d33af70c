"""Prometheus metrics at ``GET /metrics``, correct across gunicorn workers.

Under gunicorn every worker is its own process with its own counters, so a scrape that reached
one worker would see a fraction of the traffic. With ``PROMETHEUS_MULTIPROC_DIR`` set
(gunicorn.conf.py sets it) prometheus-client keeps each process's values in files there and a
scrape adds them up; without it (tests, the Flask dev server) the process's own registry is served.

Requests are labelled by route template (``/api/<table>/query``), never by path: a label per
table or per row key would grow without bound and put names and key values into the metrics.

The executor counts its attempts through ``count_attempt``, the hook the gateway gives it. The
pool's gauge is read through the callable ``init_app`` is given: this module knows no pool.
"""
from __future__ import annotations

import os
import re
import time
from collections.abc import Callable

from flask import Flask, Response, g, request
from prometheus_client import (CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, Counter, Gauge,
                               Histogram, generate_latest, multiprocess)

MULTIPROCESS = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))

REQUESTS = Counter("tablegate_http_requests_total", "HTTP requests answered",
                   ["route", "method", "status"])
LATENCY = Histogram("tablegate_http_request_duration_seconds",
                    "Time to the response (to its first byte for a streamed export)",
                    ["route", "method"],
                    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
DB_ATTEMPTS = Counter("tablegate_db_attempts_total", "Executor attempts by outcome",
                      ["outcome"])
DB_RETRIES = Counter("tablegate_db_retries_total", "Attempts after the first (retries)")
DB_TIMEOUTS = Counter("tablegate_db_timeouts_total",
                      "Attempts that ran out of time (connecting or running)")
DB_CANCELLATIONS = Counter("tablegate_db_cancellations_total",
                           "Timed-out statements whose connection was killed on the server")
POOL_IN_USE = Gauge("tablegate_db_pool_connections_in_use", "Pooled connections lent out",
                    multiprocess_mode="livesum")
ROWS_IMPORTED = Counter("tablegate_rows_imported_total", "Rows written by CSV imports")
ROWS_EXPORTED = Counter("tablegate_rows_exported_total", "Rows streamed by CSV exports")

#: Outcomes of the executor's attempts (``executor.Outcome.kind``) that are timeouts, and the one of
#: them after which the statement is killed on the server.
#: ``<collection:table>`` in a rule is labelled ``<table>``, as the access log names it.
_CONVERTER = re.compile(r"<\w+:(\w+)>")

TIMEOUT_OUTCOMES = frozenset({"timeout", "connect-timeout"})
KILLED_OUTCOME = "timeout"


def count_attempt(number: int, kind: str) -> None:
    """Called for every attempt of the executor; ``kind`` is the outcome without its error
    number (``ok``, ``timeout``, ``transient``, ``error``, ...), so that error numbers do not
    multiply the series."""
    DB_ATTEMPTS.labels(kind).inc()
    if number:
        DB_RETRIES.inc()
    if kind in TIMEOUT_OUTCOMES:
        DB_TIMEOUTS.inc()
    if kind == KILLED_OUTCOME:
        DB_CANCELLATIONS.inc()


def init_app(app: Flask, pool_in_use: Callable[[], int]) -> None:
    """``pool_in_use``: how many pooled connections are lent out now."""
    app.add_url_rule("/metrics", "metrics", lambda: _scrape(pool_in_use))
    app.before_request(_start)
    app.after_request(lambda response: _record(response, pool_in_use))


def _start() -> None:
    g.metrics_started = time.perf_counter()


def _record(response: Response, pool_in_use: Callable[[], int]) -> Response:
    route = _CONVERTER.sub(r"<\1>", request.url_rule.rule) if request.url_rule is not None \
        else "unmatched"
    REQUESTS.labels(route, request.method, str(response.status_code)).inc()
    LATENCY.labels(route, request.method).observe(
        time.perf_counter() - g.get("metrics_started", time.perf_counter()))
    # Sampled at the end of every request and at every scrape: the pool cannot report changes
    # itself, and a callback gauge does not work across processes.
    POOL_IN_USE.set(pool_in_use())
    return response


def _scrape(pool_in_use: Callable[[], int]) -> Response:
    """The Prometheus text format, not the envelope: scrapers read it as it is."""
    POOL_IN_USE.set(pool_in_use())
    if MULTIPROCESS:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    return Response(generate_latest(registry), content_type=CONTENT_TYPE_LATEST)
