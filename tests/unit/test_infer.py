"""tablegate.infer without a server: the types a file's values give its columns, the key, the
names MariaDB would refuse, and the DDL's quoting (issue #7)."""
from __future__ import annotations

import datetime
import decimal

import pytest

from tablegate.batch import infer
from tablegate.formats.rows import Row
from tablegate.errors import BadRequest


def rows(*records) -> list[Row]:
    return [Row(n, tuple(values), 0) for n, values in enumerate(records, start=1)]


def types(*values, key: str | None = None) -> tuple[str, bool]:
    """The column type and nullability inferred for one column holding ``values``."""
    plan = infer.infer("t", ["c"], rows(*[(v,) for v in values]), key)
    column = plan.columns[0]
    return column.column_type, column.nullable


@pytest.mark.parametrize("values, expected", [
    pytest.param(("1", "-20", "0"), "int", id="int"),
    pytest.param(("1", str(2 ** 31)), "bigint", id="bigint"),
    pytest.param((str(-2 ** 63),), "bigint", id="bigint-min"),
    pytest.param((str(2 ** 63),), "decimal(19,0)", id="beyond-bigint"),
    pytest.param(("1.5", "-123.25", "7"), "decimal(5,2)", id="decimal-precision-and-scale"),
    pytest.param(("0.001",), "decimal(4,3)", id="decimal-small"),
    pytest.param(("1.5e3", "2"), "double", id="exponent-is-double"),
    pytest.param(("0." + "1" * 31,), "double", id="scale-over-30"),
    pytest.param((True, False), "tinyint(1)", id="boolean"),
    pytest.param((True, 5), "int", id="boolean-and-int"),
    pytest.param((decimal.Decimal("2.50"), 3), "decimal(3,2)", id="json-numbers"),
    pytest.param((19.99, 3.0), "decimal(4,2)", id="xlsx-floats"),
    pytest.param(("2024-01-02", "1999-12-31"), "date", id="date"),
    pytest.param(("2024-01-02", "2024-01-02 03:04:05"), "datetime", id="date-and-datetime"),
    pytest.param(("2024-01-02T03:04:05.123",), "datetime(3)", id="datetime-fraction"),
    pytest.param((datetime.datetime(2024, 1, 2, 3, 4),), "datetime", id="xlsx-datetime"),
    pytest.param((datetime.datetime(2024, 1, 2),), "date", id="xlsx-midnight"),
    pytest.param(("2024-02-30",), "varchar(10)", id="impossible-date-is-text"),
    pytest.param(("007", "12"), "varchar(3)", id="leading-zero-is-text"),
    pytest.param(("1", "abc", "2.5"), "varchar(3)", id="mixed-is-text"),
    pytest.param(("2024-01-02", "5"), "varchar(10)", id="date-and-number-is-text"),
    pytest.param(("",), "varchar(1)", id="empty-string"),
    pytest.param(("é" * 255,), "varchar(255)", id="varchar-bound-in-characters"),
    pytest.param(("x" * 256,), "text", id="longer-is-text"),
    pytest.param(("x" * 16_384,), "mediumtext", id="mediumtext"),
    pytest.param((None, None), "varchar(255)", id="no-value-at-all"),
])
def test_types(values, expected):
    assert types(*values)[0] == expected


def test_nullable_only_where_a_null_was_seen():
    assert types("1", None) == ("int", True)
    assert types("1", "2") == ("int", False)
    assert types() == ("varchar(255)", True)  # no row at all: nothing says NOT NULL


def test_a_wide_row_of_long_strings_moves_the_longest_to_text():
    """64 VARCHAR(255) columns fit MariaDB's 65,535-byte row, 65 do not (error 1118). Here
    70 columns of 240 to 249 characters: five of the longest become TEXT, no more."""
    header = [f"c{i}" for i in range(70)]
    values = tuple("x" * (240 + i % 10) for i in range(70))
    plan = infer.infer("t", header, rows(values))
    assert [c.name for c in plan.columns if c.column_type == "text"] == [
        "c9", "c19", "c29", "c39", "c49"]
    assert plan.columns[0].column_type == "varchar(240)"


def test_rows_with_errors_are_left_out():
    plan = infer.infer("t", ["c"], [Row(1, ("1",), 0), Row(2, None, 0, "bad")])
    assert plan.columns[0].column_type == "int"


def test_ddl_adds_an_auto_increment_id():
    plan = infer.infer("people", ["name", "age"], rows(("Ann", "30"), ("Bo", None)))
    assert plan.ddl() == (
        "CREATE TABLE `people` (`id` BIGINT NOT NULL AUTO_INCREMENT, "
        "`name` VARCHAR(3) NOT NULL, `age` INT NULL, PRIMARY KEY (`id`)) "
        "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    assert plan.ddl(temporary=True).startswith("CREATE TEMPORARY TABLE `people` (")
    assert plan.describe()[0] == {"name": "id", "type": "bigint", "nullable": False,
                                  "key": True, "auto_increment": True}
    schema = plan.schema()
    assert schema.primary_key == ("id",) and schema.auto_key == "id"
    assert list(schema.columns) == ["id", "name", "age"]
    assert schema.columns["age"].nullable and not schema.columns["name"].nullable


def test_ddl_with_a_key_from_the_file():
    plan = infer.infer("items", ["sku", "qty"], rows(("A-1", "2"), ("B-2", "3")), key="sku")
    assert plan.ddl() == ("CREATE TABLE `items` (`sku` VARCHAR(3) NOT NULL, `qty` INT NOT NULL, "
                          "PRIMARY KEY (`sku`)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
    assert plan.schema().primary_key == ("sku",) and plan.schema().auto_key is None


@pytest.mark.parametrize("header, records, key, message", [
    pytest.param(["a"], [("1",)], "b", "The key column 'b' is not in the file", id="missing"),
    pytest.param(["a"], [("1",), (None,)], "a", "The key column 'a' is empty in row 2",
                 id="null"),
    pytest.param(["a"], [("x" * 300,)], "a", "holds values too long for a key", id="too-long"),
    pytest.param(["ID", "b"], [("1", "2")], None, "make it the key with ?key=ID",
                 id="file-has-id"),
    pytest.param(["Name", "name"], [("1", "2")], None, "would be the same column",
                 id="case-twins"),
    pytest.param([], [], None, "names no column", id="no-columns"),
    pytest.param([f"c{i}" for i in range(1001)], [], None, "a table holds at most 1000",
                 id="too-many-columns"),
])
def test_refused_plans(header, records, key, message):
    with pytest.raises(BadRequest) as caught:
        infer.infer("t", header, rows(*records), key)
    assert message in caught.value.message


@pytest.mark.parametrize("name, reason", [
    pytest.param("", "it is empty", id="empty"),
    pytest.param("x" * 65, "longer than 64 characters", id="too-long"),
    pytest.param("trailing ", "ends with a space", id="trailing-space"),
    pytest.param("nul\x00", "cannot hold", id="nul"),
    pytest.param("emoji\U0001F600", "cannot hold", id="beyond-bmp"),
])
def test_names_mariadb_refuses(name, reason):
    with pytest.raises(BadRequest) as caught:
        infer.infer("t", [name], rows(("1",)))
    assert reason in caught.value.message
    assert set(caught.value.details) == {"column"}
    with pytest.raises(BadRequest) as caught:
        infer.infer(name, ["a"], rows(("1",)))
    assert reason in caught.value.message
    assert set(caught.value.details) == {"table"}


@pytest.mark.parametrize("name, quoted", [
    pytest.param("we`ird", "`we``ird`", id="backtick"),
    pytest.param("x`; DROP TABLE users; --", "`x``; DROP TABLE users; --`", id="backtick-drop"),
    pytest.param("it's \"q\"", "`it's \"q\"`", id="quotes"),
    pytest.param("donn\u00e9es \u6570", "`donn\u00e9es \u6570`", id="unicode"),
    pytest.param("x" * 64, "`" + "x" * 64 + "`", id="64-characters"),
])
def test_hostile_names_are_quoted(name, quoted):
    plan = infer.infer(name, [name], rows(("1",)))
    assert plan.ddl().startswith(f"CREATE TABLE {quoted} (`id` BIGINT NOT NULL AUTO_INCREMENT, "
                                 f"{quoted} INT NOT NULL, ")
