"""Log lines that carry the request id, so one request's attempts can be followed."""
from __future__ import annotations

import logging

from flask import g, has_app_context

FORMAT = "%(asctime)s %(levelname)s %(name)s request_id=%(request_id)s %(message)s"


class RequestIdFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = g.get("request_id", "-") if has_app_context() else "-"
        return True


def init_app(level: str) -> None:
    logger = logging.getLogger("tablegate")
    logger.setLevel(level.upper())
    if not logger.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter(FORMAT))
        handler.addFilter(RequestIdFilter())
        logger.addHandler(handler)
        logger.propagate = False
