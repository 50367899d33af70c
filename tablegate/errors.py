"""One error hierarchy, as values: each error knows its HTTP status, but nothing here speaks
HTTP. DB code and views raise these; the handlers in ``tablegate.api.envelope`` turn them into
the contract's envelope (CONTRACT.md "Envelopes").

An error the database reports is translated here, once, by its SQLSTATE class and refined by
its error number where the class is too coarse (CONTRACT.md "Errors from the database"): every
kind of server error has a status, not only the ones someone listed, and only a failure of
tablegate itself is a 500.
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

    def __init__(self, table: str, details: dict | None = None) -> None:
        super().__init__(f"Table {table!r} not found", details)


class Unauthorized(TablegateError):
    status = 401
    message = "A valid API key is required"
    headers = {"WWW-Authenticate": "Bearer"}


class Forbidden(TablegateError):
    status = 403


class MethodNotAllowed(TablegateError):
    """A write the table cannot take (a view that is not insertable or not updatable). The API
    adds the ``Allow`` header: it knows the routes, this module does not."""

    status = 405
    message = "Method not allowed"


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


class Misconfigured(Unavailable):
    """The database cannot serve tablegate as configured: no retry helps until someone changes
    a setting or the database. ``details.problem`` names the kind; the message never names the
    host, the user or the password."""


class GatewayTimeout(TablegateError):
    status = 504
    message = "Database operation timed out"


# --- Errors from the database ----------------------------------------------------------------

VALUE = "Value rejected by the database"
CONFLICT = "Conflict with existing data"
REFUSED = "The database refused the request"
DENIED = "Permission denied by the database"
CANNOT = "The table cannot take this write"
TOO_LARGE = "The statement is larger than the database accepts"
UNAVAILABLE = "Database unavailable"

#: Status by SQLSTATE class, the first two characters (MariaDB "SQLSTATE"; ISO 9075 part 2,
#: "SQLSTATE"). A class not listed is answered like HY, the general error: 422.
_BY_CLASS: dict[str, tuple[type[TablegateError], str]] = {
    "01": (Unprocessable, VALUE),       # a warning strict mode raises: data truncated (1265)
    "08": (Unavailable, UNAVAILABLE),   # connection exception: retried first (the executor)
    "21": (BadRequest, REFUSED),        # cardinality violation
    "22": (Unprocessable, VALUE),       # data exception: out of range, bad date, too long
    "23": (Conflict, CONFLICT),         # integrity: duplicate key, foreign key; see below
    "40": (Unavailable, UNAVAILABLE),   # transaction rollback: deadlock, retried first
    "42": (BadRequest, REFUSED),        # syntax error or access rule violation
    "44": (Unprocessable, VALUE),       # WITH CHECK OPTION violation (1369)
    "45": (Unprocessable, VALUE),       # unhandled user-defined exception: a SIGNAL
    "70": (Unavailable, UNAVAILABLE),   # statement interrupted (KILL QUERY, shutdown)
    "HY": (Unprocessable, REFUSED),     # general error: refined by errno below
}

#: Refinements by error number, where the class is too coarse (MariaDB "MariaDB Error Codes").
_BY_ERRNO: dict[int, tuple[type[TablegateError], str]] = {
    # 23xxx that is not a conflict with other rows but a value this row cannot have
    1048: (Unprocessable, VALUE),       # column cannot be null
    4025: (Unprocessable, VALUE),       # CHECK constraint failed (MariaDB)
    3819: (Unprocessable, VALUE),       # CHECK constraint failed (MySQL, HY000)
    # HY000, one by one
    1364: (Unprocessable, VALUE),       # field has no default value
    1267: (Unprocessable, VALUE),       # illegal mix of collations: a value the column
                                        # cannot be compared with (an emoji and latin1)
    1906: (BadRequest, REFUSED),        # value given for a generated column
    1348: (BadRequest, REFUSED),        # column of a view is not updatable (an expression)
    1471: (MethodNotAllowed, CANNOT),   # view is not insertable-into
    1288: (MethodNotAllowed, CANNOT),   # view is not updatable (UPDATE, DELETE)
    1393: (MethodNotAllowed, CANNOT),   # join view: more than one base table modified
    1394: (MethodNotAllowed, CANNOT),   # join view: insert without a column list
    1395: (MethodNotAllowed, CANNOT),   # join view: delete
    1031: (MethodNotAllowed, CANNOT),   # the storage engine has no such operation (SEQUENCE)
    1153: (PayloadTooLarge, TOO_LARGE),  # packet larger than max_allowed_packet (08S01)
    # 42000 that is a missing privilege
    1142: (Forbidden, DENIED),          # command denied for a table
    1143: (Forbidden, DENIED),          # command denied for a column
    1227: (Forbidden, DENIED),          # needs a privilege such as SUPER
    1370: (Forbidden, DENIED),          # routine execution denied
    # the database's own trouble, whatever the class says
    1021: (Unavailable, UNAVAILABLE),   # disk full
    1030: (Unavailable, UNAVAILABLE),   # error from the storage engine
    1037: (Unavailable, UNAVAILABLE),   # out of memory
    1038: (Unavailable, UNAVAILABLE),   # out of sort memory
    1041: (Unavailable, UNAVAILABLE),   # out of memory
    1114: (Unavailable, UNAVAILABLE),   # table is full
    1180: (Unavailable, UNAVAILABLE),   # error during COMMIT
    1203: (Unavailable, UNAVAILABLE),   # max_user_connections reached (42000)
    1205: (Unavailable, UNAVAILABLE),   # lock wait timeout: retried first
    1223: (Unavailable, UNAVAILABLE),   # a global read lock is held
    1226: (Unavailable, UNAVAILABLE),   # user resource limit reached (42000)
    1290: (Unavailable, UNAVAILABLE),   # server runs with --read-only
    1637: (Unavailable, UNAVAILABLE),   # too many active concurrent transactions
    1836: (Unavailable, UNAVAILABLE),   # read-only mode
}

#: Errors that say tablegate's settings or the database's definitions are wrong, each as
#: (problem, what to tell): a message of our own, since the server's names hosts and users.
_MISCONFIGURED: dict[int, tuple[str, str]] = {
    1049: ("unknown_database", "the database named by TABLEGATE_DB_NAME does not exist"),
    1046: ("unknown_database", "no database is selected: set TABLEGATE_DB_NAME"),
    1044: ("no_access", "the database user may not use the database named by "
                        "TABLEGATE_DB_NAME"),
    1045: ("login_refused", "the database refused the login of TABLEGATE_DB_USER with "
                            "TABLEGATE_DB_PASSWORD"),
    1698: ("login_refused", "the database refused the login of TABLEGATE_DB_USER (an account "
                            "without a password, or one that logs in another way)"),
    1130: ("login_refused", "the database does not let TABLEGATE_DB_USER connect from this "
                            "machine"),
    1251: ("login_refused", "the database wants an authentication method the client does not "
                            "support"),
    4151: ("login_refused", "the account named by TABLEGATE_DB_USER is locked"),
    1820: ("login_refused", "the password of TABLEGATE_DB_USER has expired"),
    1862: ("login_refused", "the password of TABLEGATE_DB_USER has expired"),
    1356: ("broken_definition", "a view refers to tables, columns or functions that are gone, "
                                "or its definer lacks the rights to use them"),
    1449: ("broken_definition", "the definer of a view, trigger or routine does not exist"),
}
#: Classes that always say so: invalid authorization (28), invalid catalog name (3D).
_MISCONFIGURED_CLASSES = {"28": "login_refused", "3D": "unknown_database"}

#: A SIGNAL without MYSQL_ERRNO (MariaDB "SIGNAL"): its MESSAGE_TEXT is the message.
SIGNAL_ERRNO = 1644

# `db`.`table` and `db`.`table`.`column` in server messages (foreign-key and CHECK failures
# name the table that way): the database name is not the client's business. A quoted name may
# contain doubled backticks.
_NAME = r"`(?:[^`]|``)*`"
_QUALIFIED = re.compile(rf"{_NAME}\.({_NAME}(?:\.{_NAME})?)")
# 'user'@'host' in access errors: the service's account and address.
_ACCOUNT = re.compile(r"(?:user )?'(?:[^'\\]|\\.)*'@'(?:[^'\\]|\\.)*'")
# "SELECT command denied ...": the statement's word, which need not shout.
_COMMAND = re.compile(r"^([A-Z][A-Z ]*[A-Z]) command denied")


def errno(exc: BaseException) -> int | None:
    """The MySQL error number of a PyMySQL error (its first argument), or None."""
    args = getattr(exc, "args", ())
    return args[0] if args and isinstance(args[0], int) else None


def sqlstate(exc: BaseException) -> str | None:
    """The SQLSTATE of an error the server reported: PyMySQL reads it from the error packet
    (``pymysql.err.raise_mysql_exception``); None for the client's own errors."""
    state = getattr(exc, "sqlstate", None)
    return state if isinstance(state, str) and len(state) == 5 else None


def is_signal(exc: BaseException) -> bool:
    """Raised by a SIGNAL in a trigger or routine: class 45 (the SQLSTATE MariaDB recommends
    for one's own errors), or any class with the SIGNAL's own error number."""
    return (sqlstate(exc) or "")[:2] == "45" or errno(exc) == SIGNAL_ERRNO


def from_server(exc: BaseException) -> bool:
    """Reported by the server, rather than by PyMySQL about the connection (errors 2000-2999,
    which carry no SQLSTATE): a server error with no SQLSTATE came before the handshake."""
    number = errno(exc)
    return sqlstate(exc) is not None or (
        number is not None and (1000 <= number < 2000 or number >= 3000))


def from_mysql(exc: Exception, table: str | None = None,
               database: str | None = None) -> TablegateError | None:
    """The HTTP error for an error the server reported, or None for any other exception (a
    failure of tablegate or of the connection, which the executor retries or answers as a 500).

    ``table`` names the table in a 404; ``database`` is cut out of the server's wording."""
    if not from_server(exc):
        return None
    number, state = errno(exc), sqlstate(exc)
    details = {"mysql_errno": number, "sqlstate": state}
    group = (state or "HY")[:2]
    if number in _MISCONFIGURED or group in _MISCONFIGURED_CLASSES:
        problem, text = _MISCONFIGURED.get(number) or (
            _MISCONFIGURED_CLASSES[group], "the database refused tablegate's settings")
        return Misconfigured(f"Database misconfigured: {text}", {**details, "problem": problem})
    text = server_text(exc, database)
    if is_signal(exc):  # the trigger's own words, as it wrote them
        return _BY_CLASS.get(group, _BY_CLASS["HY"])[0](text or REFUSED, details)
    if number == 1146:
        return TableNotFound(table or "", details)
    if number == 1054:
        return StaleSchema("The table changed since it was read; repeat the request", details)
    cls, prefix = _BY_ERRNO.get(number) or _BY_CLASS.get(group) or _BY_CLASS["HY"]
    return cls(f"{prefix}: {text}" if text else prefix, details)


def server_text(exc: BaseException, database: str | None = None) -> str:
    """The server's message without the database's name and without account names."""
    args = getattr(exc, "args", ())
    text = _QUALIFIED.sub(r"\1", str(args[1]) if len(args) > 1 else "")
    if database:
        text = text.replace(f"'{database}.", "'")
    text = _COMMAND.sub(lambda m: f"{m[1].lower()} command denied", text)
    return _ACCOUNT.sub("the database user", text)
