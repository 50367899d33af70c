"""The translation of server errors, without a server: error packets as the server sends them,
read by PyMySQL's own ``raise_mysql_exception``, for what a real server is hard to make say
(tests/api/test_server_errors.py provokes the rest for real). Issue 13."""
from __future__ import annotations

import struct

import pymysql
import pytest

from tablegate import errors
from tablegate.executor import is_transient


def server_error(number: int, message: str, state: str | None = "HY000") -> pymysql.MySQLError:
    """The exception PyMySQL raises for the server's error packet (MySQL protocol, ERR_Packet):
    0xff, the error number, ``#`` and the SQLSTATE (absent before the handshake), the text."""
    packet = b"\xff" + struct.pack("<h", number) + (b"#" + state.encode() if state else b"") \
        + message.encode()
    try:
        pymysql.err.raise_mysql_exception(packet)
    except pymysql.MySQLError as exc:
        return exc
    raise AssertionError("no exception raised")


@pytest.mark.parametrize("number, state, status", [
    pytest.param(1062, "23000", 409, id="23-duplicate"),
    pytest.param(1048, "23000", 422, id="23-not-null"),
    pytest.param(1215, "23000", 409, id="23-any-other-integrity"),
    pytest.param(1264, "22003", 422, id="22-data"),
    pytest.param(1265, "01000", 422, id="01-strict-warning"),
    pytest.param(1064, "42000", 400, id="42-syntax"),
    pytest.param(1142, "42000", 403, id="42-privilege"),
    pytest.param(1369, "44000", 422, id="44-check-option"),
    pytest.param(1906, "HY000", 400, id="HY-generated"),
    pytest.param(1471, "HY000", 405, id="HY-not-insertable"),
    pytest.param(1114, "HY000", 503, id="HY-table-full"),
    pytest.param(9999, "HY000", 422, id="HY-unknown"),
    pytest.param(9999, "ZZ000", 422, id="unknown-class"),
    pytest.param(1153, "08S01", 413, id="08-packet-too-large"),
    pytest.param(1049, "42000", 503, id="unknown-database"),
    pytest.param(1045, "28000", 503, id="28-refused-login"),
    pytest.param(1130, None, 503, id="refused-before-the-handshake"),
])
def test_status_by_class_refined_by_errno(number, state, status):
    translated = errors.from_mysql(server_error(number, "text", state))
    assert translated.status == status
    assert translated.details["mysql_errno"] == number
    assert translated.details["sqlstate"] == state


def test_a_signal_speaks_for_itself_whatever_its_number_or_class():
    for number, state, status in ((1644, "45000", 422), (1644, "23000", 409),
                                  (1213, "45000", 422), (1644, "08000", 503)):
        exc = server_error(number, "qty must be positive", state)
        translated = errors.from_mysql(exc)
        assert (translated.status, translated.message) == (status, "qty must be positive")
        assert not is_transient(exc)  # a trigger's word is final, even in a transient's guise


@pytest.mark.parametrize("number, state, transient", [
    pytest.param(1213, "40001", True, id="deadlock"),
    pytest.param(1205, "HY000", True, id="lock-wait"),
    pytest.param(1158, "08S01", True, id="class-08"),
    pytest.param(1153, "08S01", False, id="class-08-but-the-packet-is-too-large"),
    pytest.param(1251, "08004", False, id="class-08-but-the-settings"),
    pytest.param(1062, "23000", False, id="duplicate"),
])
def test_what_is_retried(number, state, transient):
    assert is_transient(server_error(number, "text", state)) is transient


def test_the_clients_own_errors_are_not_translated():
    """No SQLSTATE and a client number: the connection's trouble, retried or a 500."""
    assert errors.from_mysql(pymysql.err.OperationalError(2013, "Lost connection")) is None
    assert errors.from_mysql(pymysql.err.InterfaceError(0, "")) is None
    assert errors.from_mysql(ValueError("not a database error")) is None


def test_the_message_names_neither_the_database_nor_the_account():
    exc = server_error(1142, "INSERT command denied to user 'svc'@'10.0.0.5' for table "
                             "`shop`.`orders`", "42000")
    assert errors.from_mysql(exc, database="shop").message == (
        "Permission denied by the database: insert command denied to the database user for "
        "table `orders`")
    exc = server_error(1393, "Can not modify more than one base table through a join view "
                             "'shop.v'")
    assert "'v'" in errors.from_mysql(exc, database="shop").message
