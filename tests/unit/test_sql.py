"""SQL building without a server: names only through the reflected schema, values only as
parameters, hostile names quoted or refused."""
from __future__ import annotations

import pytest

from tablegate.db.schema import Column, GeneratedColumn, Table, UnknownColumn, ViewNotWritable
from tablegate.db.sql import (build_delete, build_insert, build_select, build_update,
                              filters_from_body, filters_from_query, quote_identifier)
from tablegate.errors import BadRequest, Unprocessable


def col(name: str, data_type: str = "int") -> Column:
    return Column(name=name, data_type=data_type, column_type=data_type, nullable=True,
                  default=None, key="", auto_increment=False, max_length=None)


USERS = Table(
    name="users",
    columns={c.name: c for c in (col("id"), col("name", "varchar"), col("age"),
                                 col("avatar", "blob"), col("we`ird", "varchar"))},
    primary_key=("id",),
)


@pytest.mark.parametrize("name, quoted", [
    pytest.param("users", "`users`", id="plain"),
    pytest.param("we`ird", "`we``ird`", id="backtick-in-name"),
    pytest.param("a``b", "`a````b`", id="two-backticks"),
    pytest.param("x'; DROP TABLE users; --", "`x'; DROP TABLE users; --`", id="sql-injection"),
    pytest.param("ユーザー", "`ユーザー`", id="unicode"),
])
def test_quote_identifier(name, quoted):
    assert quote_identifier(name) == quoted


@pytest.mark.parametrize("name", [
    pytest.param("`id`", id="prequoted"),
    pytest.param("id`; DROP TABLE users; --", id="backtick-injection"),
    pytest.param("id /* c */", id="comment"),
    pytest.param("ID", id="case-differs"),
    pytest.param("x" * 300, id="300-chars"),
    pytest.param("", id="empty"),
    pytest.param("information_schema.tables", id="qualified"),
])
def test_unknown_columns_are_refused_everywhere(name):
    with pytest.raises(UnknownColumn):
        build_select(USERS, filters_from_body({name: 1}))
    with pytest.raises(UnknownColumn):
        build_select(USERS, [], columns=[name])
    with pytest.raises(UnknownColumn):
        build_select(USERS, [], order_by=[name])
    with pytest.raises(UnknownColumn):
        build_select(USERS, [], order_by=["-" + name])
    with pytest.raises(UnknownColumn):
        build_insert(USERS, [{name: 1}])
    with pytest.raises(UnknownColumn):
        build_update(USERS, {name: 1}, filters_from_body({"id": 1}))
    with pytest.raises(UnknownColumn):
        build_delete(USERS, filters_from_body({name: 1}))


def test_select_defaults_to_primary_key_order_and_parameters():
    sql, params = build_select(USERS, filters_from_body({"age": 30, "name": None}),
                               limit=10, offset=5)
    assert sql == ("SELECT `id`, `name`, `age`, `avatar`, `we``ird` FROM `users` "
                   "WHERE `age` = %s AND `name` IS NULL ORDER BY `id` LIMIT %s OFFSET %s")
    assert params == [30, 10, 5]


def test_select_columns_and_order():
    sql, params = build_select(USERS, [], columns=["name", "we`ird"], order_by=["-age", "id"])
    assert sql == "SELECT `name`, `we``ird` FROM `users` ORDER BY `age` DESC, `id`"
    assert params == []


@pytest.mark.parametrize("spec, where, params", [
    pytest.param({"age": {"eq": 1}}, "`age` = %s", [1], id="eq"),
    pytest.param({"age": {"ne": 1}}, "`age` <> %s", [1], id="ne"),
    pytest.param({"age": {"gt": 1}}, "`age` > %s", [1], id="gt"),
    pytest.param({"age": {"gte": 1}}, "`age` >= %s", [1], id="gte"),
    pytest.param({"age": {"lt": 1}}, "`age` < %s", [1], id="lt"),
    pytest.param({"age": {"lte": 1}}, "`age` <= %s", [1], id="lte"),
    pytest.param({"name": {"like": "J%"}}, "`name` LIKE %s", ["J%"], id="like"),
    pytest.param({"age": {"in": [1, 2]}}, "`age` IN (%s, %s)", [1, 2], id="in"),
    pytest.param({"age": {"in": []}}, "FALSE", [], id="in-empty"),
    pytest.param({"age": {"is": None}}, "`age` IS NULL", [], id="is-null"),
    pytest.param({"age": {"is": True}}, "`age` IS TRUE", [], id="is-true"),
    pytest.param({"age": {"ne": None}}, "`age` IS NOT NULL", [], id="ne-null"),
    pytest.param({"age": {"not.is": None}}, "NOT (`age` IS NULL)", [], id="not-is-null"),
    pytest.param({"age": {"gte": 1, "lt": 9}}, "`age` >= %s AND `age` < %s", [1, 9],
                 id="range"),
])
def test_body_operators(spec, where, params):
    sql, got = build_select(USERS, filters_from_body(spec))
    assert sql.split(" WHERE ")[1].split(" ORDER BY ")[0] == where
    assert got == params


@pytest.mark.parametrize("args, where, params", [
    pytest.param([("age", "30")], "`age` = %s", ["30"], id="bare-eq"),
    pytest.param([("age", "gte.30")], "`age` >= %s", ["30"], id="gte"),
    pytest.param([("id", "in.1,2,3")], "`id` IN (%s, %s, %s)", ["1", "2", "3"], id="in"),
    pytest.param([("name", "like.J%")], "`name` LIKE %s", ["J%"], id="like"),
    pytest.param([("age", "is.null")], "`age` IS NULL", [], id="is-null"),
    pytest.param([("age", "not.is.null")], "NOT (`age` IS NULL)", [], id="not-is-null"),
    pytest.param([("name", "j.doe")], "`name` = %s", ["j.doe"], id="dot-in-value"),
    pytest.param([("name", "eq.a.b")], "`name` = %s", ["a.b"], id="eq-with-dots"),
    pytest.param([("age", "gt.1"), ("age", "lt.9")], "`age` > %s AND `age` < %s", ["1", "9"],
                 id="repeated-column"),
])
def test_query_string_operators(args, where, params):
    sql, got = build_select(USERS, filters_from_query(args))
    assert sql.split(" WHERE ")[1].split(" ORDER BY ")[0] == where
    assert got == params


@pytest.mark.parametrize("spec", [
    pytest.param({"age": {"between": 1}}, id="unknown-operator"),
    pytest.param({"age": {"gte; DROP TABLE users": 1}}, id="hostile-operator"),
    pytest.param({"age": {}}, id="empty-operator-object"),
    pytest.param({"age": {"in": 5}}, id="in-not-list"),
    pytest.param({"age": {"in": [[1]]}}, id="in-nested"),
    pytest.param({"age": {"is": "maybe"}}, id="is-bad-value"),
    pytest.param({"age": {"gt": [1]}}, id="list-for-scalar"),
    pytest.param({"age": [1, 2]}, id="bare-list"),
    pytest.param({"age": {"gt": None}}, id="gt-null"),
])
def test_bad_filters_are_400(spec):
    with pytest.raises(BadRequest):
        build_select(USERS, filters_from_body(spec))


def test_query_string_unknown_negated_operator_is_400():
    with pytest.raises(BadRequest):
        filters_from_query([("age", "not.between.1")])


def test_insert_multi_row_uses_default_for_missing_columns():
    sql, params = build_insert(USERS, [{"name": "a", "age": 1}, {"name": "b"}])
    assert sql == "INSERT INTO `users` (`name`, `age`) VALUES (%s, %s), (%s, DEFAULT)"
    assert params == ["a", 1, "b"]


def test_insert_empty_row_takes_all_defaults():
    assert build_insert(USERS, [{}]) == ("INSERT INTO `users` () VALUES ()", [])


def test_insert_encodes_objects_as_json_and_base64_as_bytes():
    _, params = build_insert(USERS, [{"name": {"a": [1, "é"]}, "avatar": "AAEC"}])
    assert params == ['{"a": [1, "é"]}', b"\x00\x01\x02"]


def test_insert_invalid_base64_is_422():
    with pytest.raises(Unprocessable):
        build_insert(USERS, [{"avatar": "not base64!"}])


def test_update_and_delete_need_a_where():
    with pytest.raises(BadRequest):
        build_update(USERS, {"age": 1}, [])
    with pytest.raises(BadRequest):
        build_delete(USERS, [])
    with pytest.raises(BadRequest):
        build_update(USERS, {}, filters_from_body({"id": 1}))


def test_update_and_delete_sql():
    assert build_update(USERS, {"age": 2}, filters_from_body({"id": 1})) == (
        "UPDATE `users` SET `age` = %s WHERE `id` = %s", [2, 1])
    assert build_delete(USERS, filters_from_body({"id": {"in": [1, 2]}})) == (
        "DELETE FROM `users` WHERE `id` IN (%s, %s)", [1, 2])


def test_boolean_columns_take_true_and_false_text():
    flags = Table(name="f", columns={"on": Column(
        name="on", data_type="tinyint", column_type="tinyint(1)", nullable=True, default=None,
        key="", auto_increment=False, max_length=None)}, primary_key=())
    assert build_select(flags, filters_from_query([("on", "eq.true")]))[1] == [True]
    assert build_select(flags, filters_from_query([("on", "false")]))[1] == [False]
    assert build_insert(flags, [{"on": "true"}])[1] == [True]
    # Other integer columns leave the text to the database (a 422 on insert).
    assert build_insert(USERS, [{"age": "true"}])[1] == ["true"]


def test_select_for_update():
    assert build_select(USERS, filters_from_body({"id": 1}), columns=["id"], lock=True) == (
        "SELECT `id` FROM `users` WHERE `id` = %s ORDER BY `id` FOR UPDATE", [1])


def test_on_duplicate_never_rewrites_the_primary_key():
    pairs = Table(name="p", columns={c.name: c for c in (col("a"), col("b"), col("v"))},
                  primary_key=("a", "b"))
    assert build_insert(pairs, [{"a": 1, "b": 2, "v": 3}], "update")[0].endswith(
        " ON DUPLICATE KEY UPDATE `v` = VALUES(`v`)")
    assert build_insert(pairs, [{"a": 1, "b": 2}], "update")[0].endswith(
        " ON DUPLICATE KEY UPDATE `a` = `a`")


def test_on_duplicate_reports_the_existing_auto_increment_id():
    auto = Table(name="u", columns={"id": Column(
        name="id", data_type="int", column_type="int(11)", nullable=False, default=None,
        key="PRI", auto_increment=True, max_length=None), "name": col("name", "varchar")},
        primary_key=("id",))
    assert auto.auto_key == "id" and USERS.auto_key is None
    assert build_insert(auto, [{"id": 1, "name": "x"}], "update")[0].endswith(
        " ON DUPLICATE KEY UPDATE `id` = LAST_INSERT_ID(`id`), `name` = VALUES(`name`)")
    assert build_insert(auto, [{"name": "x"}], "ignore")[0].endswith(
        " ON DUPLICATE KEY UPDATE `id` = LAST_INSERT_ID(`id`)")


# --- what a table can take (issue 13) --------------------------------------------------------

LINES = Table(name="lines", columns={
    "total": Column(name="total", data_type="decimal", column_type="decimal(10,2)",
                    nullable=True, default=None, key="", auto_increment=False, max_length=None,
                    generated="stored"),
    "id": col("id"),
    "qty": col("qty"),
    "note": Column(name="note", data_type="varchar", column_type="varchar(9)", nullable=True,
                   default=None, key="", auto_increment=False, max_length=9, invisible=True),
}, primary_key=("id",))
COUNTS = Table(name="counts", columns={"n": col("n")}, primary_key=(), kind="view",
               insertable=False, updatable=False)


def test_select_leaves_invisible_columns_out_unless_named():
    assert build_select(LINES, [])[0].startswith("SELECT `total`, `id`, `qty` FROM `lines`")
    assert build_select(LINES, [], ["id", "note"])[0].startswith("SELECT `id`, `note` FROM")


@pytest.mark.parametrize("build", [
    pytest.param(lambda: build_insert(LINES, [{"qty": 1, "total": 2}]), id="insert"),
    pytest.param(lambda: build_update(LINES, {"total": 2}, filters_from_body({"id": 1})),
                 id="update"),
])
def test_a_generated_column_cannot_be_written(build):
    with pytest.raises(GeneratedColumn) as refused:
        build()
    assert refused.value.details == {"column": "total", "generated": "stored"}


def test_an_invisible_column_can_be_written():
    assert build_insert(LINES, [{"qty": 1, "note": "n"}])[0] == (
        "INSERT INTO `lines` (`qty`, `note`) VALUES (%s, %s)")


@pytest.mark.parametrize("build, write", [
    pytest.param(lambda: build_insert(COUNTS, [{"n": 1}]), "inserts", id="insert"),
    pytest.param(lambda: build_update(COUNTS, {"n": 1}, filters_from_body({"n": 2})),
                 "updates", id="update"),
    pytest.param(lambda: build_delete(COUNTS, filters_from_body({"n": 2})), "deletes",
                 id="delete"),
])
def test_a_view_that_takes_no_write_is_refused_before_any_statement(build, write):
    with pytest.raises(ViewNotWritable) as refused:
        build()
    assert refused.value.status == 405
    assert refused.value.message.startswith(f"View 'counts' cannot take {write}")


def test_on_duplicate_never_assigns_a_generated_column():
    """Nothing to update and no auto-increment key: a no-op assignment, of a written column."""
    assert build_insert(LINES, [{"id": 1}], "ignore")[0].endswith(
        " ON DUPLICATE KEY UPDATE `id` = `id`")


@pytest.mark.parametrize("raw, values", [
    pytest.param('in.("Smith, J",Doe)', ["Smith, J", "Doe"], id="quoted-comma"),
    pytest.param(r'in.("say \"hi\"","back\\slash")', ['say "hi"', "back\\slash"], id="escapes"),
    pytest.param('in.(1,2,3)', ["1", "2", "3"], id="parenthesised-unquoted"),
    pytest.param('in.()', [], id="parenthesised-empty"),
    pytest.param('in.("")', [""], id="quoted-empty-string"),
    pytest.param('in.("a)",b)', ["a)", "b"], id="paren-inside-quotes"),
    pytest.param('in.("x\ny")', ["x\ny"], id="newline-inside-quotes"),
    pytest.param('in.1,2,3', ["1", "2", "3"], id="unquoted-list-as-before"),
    pytest.param('in.O"Brien,x', ['O"Brien', "x"], id="unparenthesised-quote-is-text"),
    pytest.param('in.', [], id="empty-as-before"),
    pytest.param('not.in.("a,b")', ["a,b"], id="negated"),
])
def test_in_list_quoting(raw, values):
    """Issue 14 item 7: PostgREST's quoting inside parentheses; unquoted lists as before."""
    (found,) = filters_from_query([("name", raw)])
    assert (found.op, found.value) == ("in", values)


@pytest.mark.parametrize("raw", [
    'in.("Smith, J)', 'in.("a"b)', 'in.(a"b")', 'in.("a" ,b)', 'in.("a\\")', 'in.(a,"b)',
])
def test_in_list_malformed_quoting_is_400(raw):
    with pytest.raises(BadRequest) as caught:
        filters_from_query([("name", raw)])
    assert caught.value.details == {"column": "name", "operator": "in"}
