"""Pure SQL building: reflected tables and request values in, ``(sql, params)`` out.

Names reach SQL only through ``quote_identifier`` after ``Table.column`` has found them in the
reflected schema; values only ever travel as parameters. Operators live in one table, as
Datasette's ``Filters`` do.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tablegate.db.codecs import key_value, to_db
from tablegate.db.schema import Column, Table
from tablegate.errors import BadRequest
from tablegate.names import quote_identifier

# Comparison operators: the template takes the quoted column.
COMPARISONS = {
    "eq": "{col} = %s",
    "ne": "{col} <> %s",
    "gt": "{col} > %s",
    "gte": "{col} >= %s",
    "lt": "{col} < %s",
    "lte": "{col} <= %s",
    "like": "{col} LIKE %s",
}
IS_VALUES = {"null": "NULL", "true": "TRUE", "false": "FALSE"}
OPERATORS = (*COMPARISONS, "in", "is")

SCALARS = (str, int, float, bool, type(None))


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any
    negate: bool = False


@dataclass(frozen=True)
class AnyOf:
    """``{"or": [{...}, {...}]}``: the branches are ORed, the conditions inside one are ANDed."""
    branches: tuple[tuple[Filter | AnyOf, ...], ...]


def filters_from_body(conditions: Mapping[str, Any]) -> list[Filter | AnyOf]:
    """``{"age": 30, "name": null, "score": {"gte": 1, "lt": 9}, "id": {"in": [1, 2]},
    "or": [{"a": 1}, {"b": 2}]}``. A column named ``or`` is still reachable with an operator
    object: only an array under ``or`` is a group."""
    found: list[Filter | AnyOf] = []
    for column, spec in conditions.items():
        if column == "or" and isinstance(spec, list):
            if not spec or not all(isinstance(b, Mapping) and b for b in spec):
                raise BadRequest("'or' takes a non-empty array of non-empty condition objects")
            found.append(AnyOf(tuple(tuple(filters_from_body(b)) for b in spec)))
        elif isinstance(spec, Mapping):
            if not spec:
                raise BadRequest(f"Empty operator object for column {column!r}",
                                 {"column": column})
            for op, value in spec.items():
                negate = op.startswith("not.")
                found.append(_filter(column, op[4:] if negate else op, value, negate))
        else:
            found.append(_filter(column, "eq", spec))
    return found


def filters_from_query(args: Iterable[tuple[str, str]]) -> list[Filter]:
    """``?age=gte.30``, ``?id=in.1,2,3``, ``?deleted_at=is.null``, ``?age=not.is.null``;
    a bare ``?age=30`` is ``eq``. A value that merely contains a dot is not an operator."""
    found = []
    for column, raw in args:
        negate = raw.startswith("not.")
        rest = raw[4:] if negate else raw
        op, dot, value = rest.partition(".")
        if not dot or op not in OPERATORS:
            if negate:
                raise BadRequest(f"Unknown operator in {raw!r} for column {column!r}",
                                 {"column": column, "operator": op})
            op, value = "eq", raw
        if op == "in":
            value = _in_list(column, value)
        found.append(_filter(column, op, value, negate))
    return found


# One item of a parenthesised ``in.`` list: a double-quoted string with backslash escapes, or
# text without a quote or a comma (possibly empty).
_IN_ITEM = re.compile(r'"((?:[^"\\]|\\.)*)"|([^",]*)', re.DOTALL)
_IN_ESCAPE = re.compile(r"\\(.)", re.DOTALL)


def _in_list(column: str, text: str) -> list[str]:
    """``in.1,2,3`` splits on commas, as before. ``in.("Smith, J",Doe)`` is PostgREST's form: in
    parentheses, an item may be double-quoted, to hold commas, with ``\\"`` for a quote and
    ``\\\\`` for a backslash; ``in.()`` is the empty list. A quote anywhere else, an unclosed
    quote or text after a closing one is a 400."""
    if not (len(text) >= 2 and text[0] == "(" and text[-1] == ")"):
        return text.split(",") if text else []
    inner, values, at = text[1:-1], [], 0
    if not inner:
        return values
    while True:
        item = _IN_ITEM.match(inner, at)
        quoted = item.group(1)
        values.append(item.group(2) if quoted is None else _IN_ESCAPE.sub(r"\1", quoted))
        at = item.end()
        if at == len(inner):
            return values
        if inner[at] != ",":
            raise BadRequest(f"Malformed quoting in the 'in' list of {column!r} at character "
                             f"{at + 2}: {text!r}; quote an item as \"...\", with \\\" and "
                             "\\\\ inside", {"column": column, "operator": "in"})
        at += 1


def _filter(column: str, op: str, value: Any, negate: bool = False) -> Filter:
    if op not in OPERATORS:
        raise BadRequest(f"Unknown operator {op!r} for column {column!r}",
                         {"column": column, "operator": op})
    if op == "in":
        if not isinstance(value, list) or not all(isinstance(v, SCALARS) for v in value):
            raise BadRequest(f"Operator 'in' on {column!r} takes a list of values",
                             {"column": column, "operator": op})
    elif op == "is":
        key = value if isinstance(value, str) else json.dumps(value)
        if key not in IS_VALUES:
            raise BadRequest(f"Operator 'is' on {column!r} takes null, true or false",
                             {"column": column, "operator": op})
        value = key
    elif not isinstance(value, SCALARS):
        raise BadRequest(f"Operator {op!r} on {column!r} takes a single value",
                         {"column": column, "operator": op})
    return Filter(column, op, value, negate)


def build_where(table: Table, filters: Sequence[Filter | AnyOf],
                extra: Sequence[tuple[str, list]] = ()) -> tuple[str, list]:
    """``extra`` adds conditions built elsewhere (the keyset bound), ANDed with the rest."""
    params: list = []
    parts = [_condition(table, f, params) for f in filters]
    for part, part_params in extra:
        parts.append(part)
        params.extend(part_params)
    return (" WHERE " + " AND ".join(parts), params) if parts else ("", [])


def _condition(table: Table, f: Filter | AnyOf, params: list) -> str:
    """Compared values go through ``to_db`` as inserted ones do, so a binary column is matched
    by the base64 text the API returns for it. A LIKE pattern stays text: its ``%`` and ``_``
    have no base64 form."""
    if isinstance(f, AnyOf):
        return "(" + " OR ".join(
            "(" + " AND ".join(_condition(table, g, params) for g in branch) + ")"
            for branch in f.branches) + ")"
    column = table.column(f.column)
    col = quote_identifier(column.name)
    if f.op == "is":
        part = f"{col} IS {IS_VALUES[f.value]}"
    elif f.op == "in":
        part = f"{col} IN ({', '.join(['%s'] * len(f.value))})" if f.value else "FALSE"
        params.extend(to_db(column, v) for v in f.value)
    elif f.value is None and f.op in ("eq", "ne"):
        part = f"{col} IS {'NOT ' if f.op == 'ne' else ''}NULL"
    elif f.value is None:
        raise BadRequest(f"Operator {f.op!r} on {f.column!r} cannot compare with null",
                         {"column": f.column, "operator": f.op})
    else:
        part = COMPARISONS[f.op].format(col=col)
        params.append(f.value if f.op == "like" else to_db(column, f.value))
    return f"NOT ({part})" if f.negate else part


def build_select(table: Table, filters: Sequence[Filter | AnyOf], columns: Sequence[str] = (),
                 order_by: Sequence[str] = (), limit: int | None = None, offset: int = 0,
                 after: Sequence[Any] = (), lock: bool = False) -> tuple[str, list]:
    """Without an explicit order, rows come in primary-key order so that pages are stable.
    ``after`` is keyset pagination: rows whose primary key is greater, in key order, which
    stays fast on large tables where a large OFFSET reads and discards every skipped row.
    ``lock`` reads FOR UPDATE, holding the rows until the transaction ends. Without
    ``columns``, the columns ``SELECT *`` would give: invisible ones only when named."""
    selected = ", ".join(quote_identifier(table.column(c).name) for c in columns) or ", ".join(
        quote_identifier(c) for c in table.visible)
    extra = []
    if after:
        if order_by:
            raise BadRequest("'after' pages in primary-key order: leave out 'order_by'")
        extra.append(_after(table, after))
    where, params = build_where(table, filters, extra)
    sql = f"SELECT {selected} FROM {quote_identifier(table.name)}{where}"
    order = [_order_term(table, item) for item in order_by] or [
        quote_identifier(c) for c in table.primary_key]
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        params += [limit, offset]
    if lock:
        sql += " FOR UPDATE"
    return sql, params


def build_count(table: Table, filters: Sequence[Filter | AnyOf]) -> tuple[str, list]:
    where, params = build_where(table, filters)
    return f"SELECT COUNT(*) FROM {quote_identifier(table.name)}{where}", params


def _after(table: Table, values: Sequence[Any]) -> tuple[str, list]:
    """Each value is checked against its key column's type (``codecs.key_value``): the server
    would cast ``'abc'`` to 0 for an INT key and answer every row."""
    key = _require_key(table, values, "after")
    columns = ", ".join(quote_identifier(c) for c in key)
    params = []
    for name, value in zip(key, values):
        try:
            params.append(key_value(table.columns[name], value))
        except ValueError as exc:
            raise BadRequest(f"'after' value {value!r} for key column {name!r} is not {exc}",
                             {"parameter": "after", "column": name, "value": value,
                              "expected": str(exc)}) from None
    return f"({columns}) > ({', '.join(['%s'] * len(key))})", params


def key_filters(table: Table, values: Sequence[Any]) -> list[Filter]:
    """Equality on every primary-key column, for the row routes ``/api/{table}/{pk}``."""
    return [Filter(c, "eq", v) for c, v in zip(_require_key(table, values, "key"), values)]


def _require_key(table: Table, values: Sequence[Any], what: str) -> tuple[str, ...]:
    key = table.primary_key
    if not key:
        raise BadRequest(f"Table {table.name!r} has no primary key", {"table": table.name})
    if len(values) != len(key) or not all(isinstance(v, SCALARS) and v is not None
                                          for v in values):
        raise BadRequest(f"{what!r} takes {len(key)} value(s), one per primary-key column: "
                         + ", ".join(key), {"primary_key": list(key)})
    return key


def _order_term(table: Table, item: object) -> str:
    if isinstance(item, str) and item.startswith("-"):
        return quote_identifier(table.column(item[1:]).name) + " DESC"
    return quote_identifier(table.column(item).name)


def build_insert(table: Table, rows: Sequence[Mapping[str, Any]],
                 on_conflict: str | None = None) -> tuple[str, list]:
    """One multi-row INSERT. Rows may name different columns: a column a row leaves out gets
    its DEFAULT, exactly as if that row had been inserted alone.

    ``on_conflict`` is ``"ignore"`` or ``"update"``: see ``on_duplicate``. A view that takes
    no inserts (405) and a generated column (400) are refused here, before any statement."""
    table.require_write("insert")
    sql, params = _insert(table, rows)
    if on_conflict is None:
        return sql, params
    named = list(dict.fromkeys(c for row in rows for c in row))
    return sql + on_duplicate(table, named, update=on_conflict == "update"), params


def on_duplicate(table: Table, names: Sequence[str], update: bool) -> str:
    """The clause for rows that hit an existing primary or unique key, shared by inserts and
    CSV imports. Not INSERT IGNORE: besides duplicates it turns bad values into warnings and
    coerced data, even in strict mode. ``update`` overwrites the named columns, never the
    primary key; otherwise the existing row stays as it is. An auto-increment key is set to
    ``LAST_INSERT_ID(key)``, a no-op that makes the driver report the existing row's id, so
    the row can be read back."""
    auto = table.auto_key
    updates = [f"{quote_identifier(auto)} = LAST_INSERT_ID({quote_identifier(auto)})"] \
        if auto else []
    if update:
        updates += [f"{q} = VALUES({q})" for q in map(quote_identifier, (
            name for name in names if name not in table.primary_key))]
    if not updates:
        first = quote_identifier(next(c.name for c in table.columns.values() if not c.generated))
        updates = [f"{first} = {first}"]
    return " ON DUPLICATE KEY UPDATE " + ", ".join(updates)


def _insert(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list]:
    names: dict[str, Column] = {}
    for row in rows:
        for name in row:
            if name not in names:
                names[name] = table.writable(name)
    if not names:
        return f"INSERT INTO {quote_identifier(table.name)} () VALUES " + ", ".join(
            ["()"] * len(rows)), []
    params: list = []
    groups = []
    for row in rows:
        cells = []
        for name, column in names.items():
            if name in row:
                cells.append("%s")
                params.append(to_db(column, row[name]))
            else:
                cells.append("DEFAULT")
        groups.append("(" + ", ".join(cells) + ")")
    columns = ", ".join(quote_identifier(c.name) for c in names.values())
    return (f"INSERT INTO {quote_identifier(table.name)} ({columns}) VALUES "
            + ", ".join(groups)), params


def build_update(table: Table, values: Mapping[str, Any],
                 filters: Sequence[Filter]) -> tuple[str, list]:
    table.require_write("update")
    if not filters:
        raise BadRequest("Refusing to update without a WHERE condition")
    if not values:
        raise BadRequest("Nothing to update: 'input' is empty")
    assignments, params = [], []
    for name, value in values.items():
        column = table.writable(name)
        assignments.append(f"{quote_identifier(column.name)} = %s")
        params.append(to_db(column, value))
    where, where_params = build_where(table, filters)
    return (f"UPDATE {quote_identifier(table.name)} SET {', '.join(assignments)}{where}",
            params + where_params)


def build_delete(table: Table, filters: Sequence[Filter]) -> tuple[str, list]:
    table.require_write("delete")
    if not filters:
        raise BadRequest("Refusing to delete without a WHERE condition")
    where, params = build_where(table, filters)
    return f"DELETE FROM {quote_identifier(table.name)}{where}", params


def build_create_table(name: str, columns: Sequence[tuple[str, str, bool]], key: str | None,
                       auto_key: str | None = None, temporary: bool = False) -> str:
    """``CREATE TABLE`` for ``columns`` as (name, column type, nullable), with ``key`` as the
    primary key, or an added ``auto_key`` BIGINT AUTO_INCREMENT column when ``key`` is None.
    The names must have passed ``names.check``: this is the one statement built from names no
    reflection has confirmed."""
    parts = [f"{quote_identifier(auto_key)} BIGINT NOT NULL AUTO_INCREMENT"] if auto_key else []
    parts += [f"{quote_identifier(column)} {column_type.upper()} "
              f"{'NULL' if nullable else 'NOT NULL'}" for column, column_type, nullable in columns]
    parts.append(f"PRIMARY KEY ({quote_identifier(key or auto_key)})")
    return (f"CREATE {'TEMPORARY ' if temporary else ''}TABLE {quote_identifier(name)} "
            f"({', '.join(parts)}) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")
