"""Pure SQL building: reflected tables and request values in, ``(sql, params)`` out.

Names reach SQL only through ``quote_identifier`` after ``Table.column`` has found them in the
reflected schema; values only ever travel as parameters. Operators live in one table, as
Datasette's ``Filters`` do.
"""
from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tablegate.db.schema import Column, Table
from tablegate.errors import BadRequest, Unprocessable

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


def quote_identifier(name: str) -> str:
    return "`" + name.replace("`", "``") + "`"


@dataclass(frozen=True)
class Filter:
    column: str
    op: str
    value: Any
    negate: bool = False


def filters_from_body(conditions: Mapping[str, Any]) -> list[Filter]:
    """``{"age": 30, "name": null, "score": {"gte": 1, "lt": 9}, "id": {"in": [1, 2]}}``."""
    found = []
    for column, spec in conditions.items():
        if isinstance(spec, Mapping):
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
            value = value.split(",") if value else []
        found.append(_filter(column, op, value, negate))
    return found


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


def build_where(table: Table, filters: Sequence[Filter]) -> tuple[str, list]:
    """Compared values go through ``to_db`` as inserted ones do, so a binary column is matched
    by the base64 text the API returns for it. A LIKE pattern stays text: its ``%`` and ``_``
    have no base64 form."""
    if not filters:
        return "", []
    parts, params = [], []
    for f in filters:
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
        parts.append(f"NOT ({part})" if f.negate else part)
    return " WHERE " + " AND ".join(parts), params


def build_select(table: Table, filters: Sequence[Filter], columns: Sequence[str] = (),
                 order_by: Sequence[str] = (), limit: int | None = None,
                 offset: int = 0) -> tuple[str, list]:
    """Without an explicit order, rows come in primary-key order so that pages are stable."""
    selected = ", ".join(quote_identifier(table.column(c).name) for c in columns) or ", ".join(
        quote_identifier(c) for c in table.columns)
    where, params = build_where(table, filters)
    sql = f"SELECT {selected} FROM {quote_identifier(table.name)}{where}"
    order = [_order_term(table, item) for item in order_by] or [
        quote_identifier(c) for c in table.primary_key]
    if order:
        sql += " ORDER BY " + ", ".join(order)
    if limit is not None:
        sql += " LIMIT %s OFFSET %s"
        params += [limit, offset]
    return sql, params


def _order_term(table: Table, item: object) -> str:
    if isinstance(item, str) and item.startswith("-"):
        return quote_identifier(table.column(item[1:]).name) + " DESC"
    return quote_identifier(table.column(item).name)


def build_insert(table: Table, rows: Sequence[Mapping[str, Any]]) -> tuple[str, list]:
    """One multi-row INSERT. Rows may name different columns: a column a row leaves out gets
    its DEFAULT, exactly as if that row had been inserted alone."""
    names: dict[str, Column] = {}
    for row in rows:
        for name in row:
            if name not in names:
                names[name] = table.column(name)
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
    if not filters:
        raise BadRequest("Refusing to update without a WHERE condition")
    if not values:
        raise BadRequest("Nothing to update: 'input' is empty")
    assignments, params = [], []
    for name, value in values.items():
        column = table.column(name)
        assignments.append(f"{quote_identifier(column.name)} = %s")
        params.append(to_db(column, value))
    where, where_params = build_where(table, filters)
    return (f"UPDATE {quote_identifier(table.name)} SET {', '.join(assignments)}{where}",
            params + where_params)


def build_delete(table: Table, filters: Sequence[Filter]) -> tuple[str, list]:
    if not filters:
        raise BadRequest("Refusing to delete without a WHERE condition")
    where, params = build_where(table, filters)
    return f"DELETE FROM {quote_identifier(table.name)}{where}", params


def to_db(column: Column, value: Any) -> Any:
    """A JSON value as the parameter for ``column``: objects and arrays as JSON text, base64
    text as bytes for binary columns (the mirror of how binary values are returned)."""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    if column.is_binary and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except (binascii.Error, ValueError):
            raise Unprocessable(f"Column {column.name!r} takes base64 text",
                                {"column": column.name}) from None
    return value
