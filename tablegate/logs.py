"""Log lines as JSON on stdout, each with the request id, so that one request and its attempts can
be followed and a log shipper needs no parsing rules.

The request id lives in a context variable, not in ``flask.g``: the executor's kill threads and
the background imports' threads log for a request too, and know nothing of Flask. Each request
binds it first thing (``tablegate.api.envelope``); a thread that works for a request runs in a
copy of its context or binds the id itself.

Every request ends with one access line (``"message": "request"``): request id, method, route
template, table, status, duration, retry count and remote address. Nothing else from the request:
not the path or the query string (row keys and filter values are row data), not a header (API
keys), not a body.
"""
from __future__ import annotations

import contextvars
import datetime
import json
import logging
import re
import sys
import time

import orjson
from flask import Flask, Response, g, request

ACCESS = logging.getLogger("tablegate.access")

#: The id of the request being served, ``-`` outside any.
REQUEST_ID: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")


def utc_timestamp(moment: datetime.datetime | None = None) -> str:
    """ISO 8601 with microseconds and a ``Z`` (CONTRACT.md "Envelopes"): ``moment`` (aware, or
    naive in UTC as the database's are) or now."""
    if moment is None:
        moment = datetime.datetime.now(datetime.timezone.utc)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = REQUEST_ID.get()
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line; the fields a record carries in ``extra={"fields": {...}}`` are
    added at the top level."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": utc_timestamp(datetime.datetime.fromtimestamp(record.created,
                                                                  datetime.timezone.utc)),
            "level": record.levelname,
            "logger": record.name,
            "request_id": getattr(record, "request_id", "-"),
            "message": record.getMessage(),
        }
        entry.update(getattr(record, "fields", {}))
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        try:
            return orjson.dumps(entry, default=str).decode()
        except orjson.JSONEncodeError:  # a lone surrogate, say: escaped rather than lost
            return json.dumps(entry, default=str)


class StdoutHandler(logging.StreamHandler):
    """Writes to whatever ``sys.stdout`` is at the time: gunicorn and pytest replace it after
    the handler is made."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stdout
        super().emit(record)


def init_app(app: Flask, level: str) -> None:
    logger = logging.getLogger("tablegate")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = StdoutHandler(sys.stdout)
        handler.setFormatter(JsonFormatter())
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False
    app.before_request(_start)
    app.after_request(_access_line)


def _start() -> None:
    g.log_started = time.perf_counter()


#: ``<collection:table>`` in a rule: the route's template says ``<table>``, whatever converter
#: routes it (metrics' labels do the same; neither layer may import the other).
_CONVERTER = re.compile(r"<\w+:(\w+)>")


def _template(rule: str) -> str:
    return _CONVERTER.sub(r"<\1>", rule)


def _access_line(response: Response) -> Response:
    """``table``: the URL's, or the one an import named (``g.table``, set once it is known)."""
    started = g.get("log_started", time.perf_counter())
    ACCESS.info("request", extra={"fields": {
        "method": request.method,
        "route": _template(request.url_rule.rule) if request.url_rule is not None else None,
        "table": (request.view_args or {}).get("table", g.get("table")),
        "status": response.status_code,
        "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        "retry_count": g.get("retry_count", 0),
        "remote_addr": request.remote_addr,
    }})
    return response
