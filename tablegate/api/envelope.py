"""The two response envelopes of CONTRACT.md, built in one place."""
from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import re
import uuid
from typing import Any

import orjson
from flask import Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider


def _timestamp() -> str:
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def success(message: str, data: Any, status: int = 200) -> Response:
    response = jsonify({
        "timestamp": _timestamp(),
        "message": message,
        "data": data,
        "retry_count": g.get("retry_count", 0),
    })
    response.status_code = status
    return response


def error(status: int, message: str, details: dict | None) -> Response:
    response = jsonify({
        "timestamp": _timestamp(),
        "error_code": str(status),
        "message": message,
        "retry_count": g.get("retry_count", 0),
        "details": details,
    })
    response.status_code = status
    return response


class JSONProvider(DefaultJSONProvider):
    """Values as the contract spells them: DECIMAL as strings (no float rounding), dates and
    times in ISO 8601, binary as base64.

    Written by orjson: 2.5 to 5 times faster than the json module for a response of 1 to 100
    rows (8.7 → 1.8 µs, 304 → 125 µs), the default page being 100 rows. Dates and times still
    go through ``default`` so that they read exactly as ``isoformat`` writes them. What orjson
    refuses (an integer beyond 64 bits, echoed from a request) falls back to the json module."""

    sort_keys = False
    ensure_ascii = False

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return self._bytes(obj).decode()

    def response(self, *args: Any, **kwargs: Any) -> Response:
        body = self._bytes(self._prepare_response_obj(args, kwargs))
        return self._app.response_class(body + b"\n", mimetype=self.mimetype)

    def _bytes(self, obj: Any) -> bytes:
        try:
            return orjson.dumps(obj, default=self.default, option=orjson.OPT_PASSTHROUGH_DATETIME)
        except orjson.JSONEncodeError:
            return json.dumps(obj, default=self.default, ensure_ascii=False,
                              separators=(",", ":")).encode()

    @staticmethod
    def default(value: Any) -> Any:
        if isinstance(value, decimal.Decimal):
            return str(value)
        if isinstance(value, (datetime.datetime, datetime.date, datetime.time)):
            return value.isoformat()
        if isinstance(value, datetime.timedelta):  # MySQL TIME
            return _format_time(value)
        if isinstance(value, (bytes, bytearray)):
            return base64.b64encode(value).decode("ascii")
        if isinstance(value, set):  # MySQL SET
            return sorted(value)
        return DefaultJSONProvider.default(value)

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        """Only I-JSON (RFC 7493) is read. NaN and Infinity are not JSON, a number beyond a
        double and a lone surrogate (``"\\ud800"``) cannot be sent to the database or echoed in
        a response, and nesting deeper than the parser can follow is malformed, not a crash.
        Each is a ValueError, which ``request.get_json`` answers as malformed JSON (400)."""
        if isinstance(s, bytes):
            s = s.decode(json.detect_encoding(s))  # strict: no encoded surrogates either
        try:
            value = json.loads(s, parse_constant=_not_json, parse_float=_finite_float, **kwargs)
        except RecursionError:
            raise ValueError("JSON nested too deeply") from None
        if _SURROGATE_ESCAPE.search(s):
            _reject_lone_surrogates(value)
        return value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _not_json(constant: str) -> float:
    raise ValueError(f"{constant} is not JSON")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is beyond the range of a double")
    return value


def _reject_lone_surrogates(value: Any) -> None:
    """Escaped surrogate pairs decode to one character; an unpaired one stays a surrogate,
    which cannot be encoded (UnicodeEncodeError is a ValueError). Iterative: the value may be
    nested as deep as the parser allowed."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            item.encode("utf-8")
        elif isinstance(item, dict):
            stack.extend(item.items())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)


def _format_time(value: datetime.timedelta) -> str:
    sign = "-" if value < datetime.timedelta(0) else ""
    seconds = abs(value)
    hours, rest = divmod(int(seconds.total_seconds()), 3600)
    minutes, secs = divmod(rest, 60)
    micro = seconds.microseconds
    return f"{sign}{hours:02d}:{minutes:02d}:{secs:02d}" + (f".{micro:06d}" if micro else "")



def init_app(app) -> None:
    app.json = JSONProvider(app)
    # Werkzeug answers a path with doubled slashes (`/api/a%2F%2Fb`) with a 308 to the merged
    # path: an HTML page that bypasses the error handlers and names another table. Without
    # merging such a path is simply not found. Set here, before any blueprint adds its rules.
    app.url_map.merge_slashes = False
    app.before_request(_take_request_id)
    app.after_request(_echo_request_id)


def _take_request_id() -> None:
    """Echo a client's id when it is a sane token; otherwise make one. A hostile header never
    reaches the logs or the response unchecked."""
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    return response


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")
