"""The import builds its INSERT text itself for speed (tablegate/bulk.py): this pins that text
to the driver's own escaping, so that it is exactly what PyMySQL's parameters would send."""
from __future__ import annotations

import pymysql.converters
import pytest

from tablegate.batch.loader import InsertStatement
from tablegate.db.schema import Column, Table

HOSTILE = [
    "plain", "O'Brien", 'say "hi"', "back\\slash", "\\'", "'; DROP TABLE t; --", "nul\0byte",
    "new\nline", "cr\rlf", "ctrl-z\x1a", "ユーザー 😀", "''", "\\", "', X'00', '", "%s %(x)s",
]


def table() -> Table:
    columns = {name: Column(name=name, data_type="varchar", column_type="varchar(100)",
                            nullable=True, default=None, key="", auto_increment=False,
                            max_length=100) for name in ("a", "b")}
    return Table(name="t", columns=columns, primary_key=())


@pytest.mark.parametrize("value", HOSTILE)
def test_values_are_escaped_exactly_as_the_driver_escapes_them(value):
    statement = InsertStatement(table(), ["a", "b"], "insert")
    sql = statement.sql([(value, "x"), ("y", value)], backslashes=True)
    escaped = pymysql.converters.escape_string(value)
    assert sql == f"INSERT INTO `t` (`a`, `b`) VALUES ('{escaped}','x'),('y','{escaped}')"


@pytest.mark.parametrize("value", HOSTILE)
def test_no_backslash_escapes_mode_doubles_quotes_only(value):
    statement = InsertStatement(table(), ["a", "b"], "insert")
    sql = statement.sql([(value, "x")], backslashes=False)
    assert sql == f"INSERT INTO `t` (`a`, `b`) VALUES ('{value.replace(chr(39), chr(39) * 2)}','x')"
