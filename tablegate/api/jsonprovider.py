"""JSON as the contract spells it (CONTRACT.md "CRUD": DECIMAL as strings, dates and times in
ISO 8601, binary as base64; ``db.codecs.to_json``), and only I-JSON read from requests.

Written by orjson: 2.5 to 5 times faster than the json module for a response of 1 to 100 rows,
the default page being 100 rows (docs/performance.md). Dates and times still go through
``default`` so that they read exactly as ``isoformat`` writes them. What orjson refuses (an
integer beyond 64 bits, echoed from a request) falls back to the json module.
"""
from __future__ import annotations

import json
import math
import re
from typing import Any

import orjson
from flask import Response
from flask.json.provider import DefaultJSONProvider

from tablegate.db.codecs import to_json


class JSONProvider(DefaultJSONProvider):
    sort_keys = False
    ensure_ascii = False
    default = staticmethod(to_json)

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
