"""Query-string parameters shared by the CRUD and batch views, validated in one place so that
an export takes exactly what a query takes."""
from __future__ import annotations

from flask import request

from tablegate.db import sql
from tablegate.errors import BadRequest

#: Query-string keys that are not column filters.
RESERVED = frozenset({"columns", "order_by", "limit", "offset", "after", "count"})

#: The largest offset MySQL's LIMIT clause takes as a signed number; above it, a 400.
MAX_OFFSET = 2**63 - 1


def filters() -> list[sql.Filter]:
    """Every other key is a column filter: ``?age=gte.30&name=Ann``."""
    return sql.filters_from_query((key, value) for key, value in request.args.items(multi=True)
                                  if key not in RESERVED)


def split(name: str) -> list[str]:
    """``?columns=a,b`` as ``["a", "b"]``."""
    value = request.args.get(name)
    return [part for part in value.split(",") if part] if value else []


def whole_number(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not raw.isascii() or int(raw) > MAX_OFFSET:
        raise BadRequest(f"Query parameter {name!r} must be a whole number from 0 to "
                         f"{MAX_OFFSET}", {"parameter": name})
    return int(raw)


def choice(name: str, allowed: tuple[str, ...]) -> str | None:
    value = request.args.get(name)
    if value is not None and value not in allowed:
        raise BadRequest(f"Query parameter {name!r} must be one of: {', '.join(allowed)}",
                         {"parameter": name})
    return value
