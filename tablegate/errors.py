"""One error hierarchy, as values: each error knows its HTTP status, but nothing here speaks
HTTP. DB code and views raise these; the handlers in ``tablegate.api.envelope`` turn them into
the contract's envelope (CONTRACT.md "Envelopes").
"""
from __future__ import annotations

import re


class TablegateError(Exception):
    status = 500
    message = "Internal server error"
    #: Response headers the status requires (RFC 9110: a 401 names its scheme).
    headers: dict[str, str] = {}

    def __init__(self, message: str | None = None, details: dict | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message
        self.details = details


class BadRequest(TablegateError):
    status = 400


class StaleSchema(BadRequest):
    """The server does not know a column the reflected schema named (error 1054): the table
    was altered since it was read."""


class NotFound(TablegateError):
    status = 404


class TableNotFound(NotFound):

    def __init__(self, table: str) -> None:
        super().__init__(f"Table {table!r} not found")


class Unauthorized(TablegateError):
    status = 401
    message = "A valid API key is required"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(TablegateError):
    status = 403


class Conflict(TablegateError):
    status = 409


class PayloadTooLarge(TablegateError):
    status = 413


class UnsupportedMediaType(TablegateError):
    status = 415


class Unprocessable(TablegateError):
    status = 422


class Unavailable(TablegateError):
    status = 503
    message = "Database unavailable"


class GatewayTimeout(TablegateError):
    status = 504
    message = "Database operation timed out"


# MySQL/MariaDB error numbers caused by the request itself: answered at once, never retried.
# Everything here is safe to show: the number and the server's own wording about the value or
# column, which never contains the SQL text or other rows' values.
_REQUEST_ERRORS: dict[int, type[TablegateError]] = {
    1062: Conflict,        # duplicate entry
    1451: Conflict,        # row is referenced by a foreign key
    1452: Conflict,        # foreign key target missing
    1216: Conflict,        # foreign key (old form)
    1217: Conflict,
    1048: Unprocessable,   # column cannot be null
    1364: Unprocessable,   # field has no default
    1366: Unprocessable,   # incorrect value for column
    1292: Unprocessable,   # incorrect date/time/number value
    1264: Unprocessable,   # out of range
    1406: Unprocessable,   # data too long
    1265: Unprocessable,   # data truncated
    1367: Unprocessable,   # illegal value
    3140: Unprocessable,   # invalid JSON (MySQL)
    4025: Unprocessable,   # CHECK constraint failed (MariaDB, e.g. json_valid)
    3819: Unprocessable,   # CHECK constraint failed (MySQL)
    1054: StaleSchema,     # unknown column (schema changed since reflection)
    1146: TableNotFound,   # table dropped since reflection
}

_MESSAGES = {
    Conflict: "Conflict with existing data",
    Unprocessable: "Value rejected by the database",
    StaleSchema: "The table changed since it was read; repeat the request",
}


# `db`.`table` and `db`.`table`.`column` in server messages (foreign-key and CHECK failures
# name the table that way): the database name is not the client's business. A quoted name may
# contain doubled backticks.
_NAME = r"`(?:[^`]|``)*`"
_QUALIFIED = re.compile(rf"{_NAME}\.({_NAME}(?:\.{_NAME})?)")


def errno(exc: BaseException) -> int | None:
    """The MySQL error number of a PyMySQL error (its first argument), or None."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def from_mysql(exc: Exception, table: str | None = None) -> TablegateError | None:
    """The HTTP error for a MySQL error caused by the request, or None if it is not one."""
    number = errno(exc)
    cls = _REQUEST_ERRORS.get(number)
    if cls is None:
        return None
    if cls is TableNotFound:
        return TableNotFound(table or "")
    server_text = _QUALIFIED.sub(r"\1", str(exc.args[1]) if len(exc.args) > 1 else "")
    return cls(f"{_MESSAGES[cls]}: {server_text}", {"mysql_errno": number})
