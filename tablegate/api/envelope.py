"""The two response envelopes of CONTRACT.md, built in one place, and the handlers that put
every error into one: ``TablegateError`` values, the ones Flask and Werkzeug raise themselves,
and anything unexpected, which is logged with the request id and answered as a bare 500.
"""
from __future__ import annotations

import logging
import re
import uuid
from typing import Any

from flask import Flask, Response, current_app, g, jsonify, request
from werkzeug.exceptions import HTTPException

from tablegate import logs
from tablegate.api.jsonprovider import JSONProvider
from tablegate.errors import TablegateError

log = logging.getLogger("tablegate")


def success(message: str, data: Any, status: int = 200) -> Response:
    response = jsonify({
        "timestamp": logs.utc_timestamp(),
        "message": message,
        "data": data,
        "retry_count": g.get("retry_count", 0),
    })
    response.status_code = status
    return response


def error(status: int, message: str, details: dict | None) -> Response:
    response = jsonify({
        "timestamp": logs.utc_timestamp(),
        "error_code": str(status),
        "message": message,
        "retry_count": g.get("retry_count", 0),
        "details": details,
    })
    response.status_code = status
    return response


def init_app(app: Flask) -> None:
    app.json = JSONProvider(app)
    # Werkzeug answers a path with doubled slashes (`/api/a%2F%2Fb`) with a 308 to the merged
    # path: an HTML page that bypasses the error handlers and names another table. Without
    # merging such a path is simply not found. Set here, before any blueprint adds its rules.
    app.url_map.merge_slashes = False
    app.before_request(_take_request_id)
    app.after_request(_echo_request_id)
    app.register_error_handler(TablegateError, _render_tablegate_error)
    app.register_error_handler(HTTPException, _render_http_exception)
    app.register_error_handler(Exception, _render_unexpected)


def _take_request_id() -> None:
    """Echo a client's id when it is a sane token; otherwise make one. A hostile header never
    reaches the logs or the response unchecked."""
    sent = request.headers.get("X-Request-ID", "")
    g.request_id = sent if _REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
    logs.REQUEST_ID.set(g.request_id)


def _echo_request_id(response: Response) -> Response:
    response.headers["X-Request-ID"] = g.get("request_id") or uuid.uuid4().hex
    return response


_REQUEST_ID = re.compile(r"[A-Za-z0-9._:\-]{1,128}")


def _render_tablegate_error(exc: TablegateError) -> Response:
    response = error(exc.status, exc.message, exc.details)
    response.headers.update(exc.headers)
    if exc.status == 405 and "Allow" not in response.headers:
        response.headers["Allow"] = _allow(exc.details or {})
    return response


#: The flag of ``schema.Table`` each write method needs.
_NEEDS = {"POST": "insertable", "PUT": "updatable", "PATCH": "updatable", "DELETE": "updatable"}


def _allow(details: dict) -> str:
    """A 405 names what the resource takes (RFC 9110, 15.5.6): the methods of the path, less
    the writes the table refused. A view's refusal says which writes it takes
    (``schema.ViewNotWritable``); a refusal by the server only refuses this method."""
    taken = current_app.url_map.bind_to_environ(request.environ).allowed_methods()
    if any(flag in details for flag in _NEEDS.values()):
        refused = {method for method, flag in _NEEDS.items() if details.get(flag) is False}
    else:
        refused = {request.method}
    return ", ".join(sorted(set(taken) - refused))


def _render_http_exception(exc: HTTPException) -> Response:
    response = error(exc.code or 500, _HTTP_MESSAGES.get(exc.code, exc.name), None)
    if exc.code == 405 and exc.valid_methods:
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods))
    return response


_HTTP_MESSAGES = {400: "Bad request", 404: "Not found", 405: "Method not allowed",
                  413: "Request body too large", 415: "Unsupported content type"}


def _render_unexpected(exc: Exception) -> Response:
    log.exception("unexpected error")
    return error(500, TablegateError.message, None)
