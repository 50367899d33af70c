"""CRUD on any table (CONTRACT.md "CRUD"). Each view reads like the contract: body, table,
validation, statement, executor, envelope."""
from __future__ import annotations

from flask import Blueprint, request

from tablegate.api import bodies, envelope
from tablegate.db import database, sql
from tablegate.errors import BadRequest, PayloadTooLarge

bp = Blueprint("crud", __name__, url_prefix="/api")

# Query-string keys that are not column filters.
RESERVED = frozenset({"columns", "order_by", "limit", "offset"})


@bp.post("/<table>")
def insert(table: str):
    body = bodies.load(bodies.INSERT, bodies.read_json())
    rows = body["input"] if isinstance(body["input"], list) else [body["input"]]
    db = database()
    if len(rows) > db.config.max_bulk_rows:
        raise PayloadTooLarge(f"At most {db.config.max_bulk_rows} rows per request",
                              {"rows": len(rows), "max_rows": db.config.max_bulk_rows})
    reflected, (statement, params) = db.prepare(table, lambda t: sql.build_insert(t, rows))
    affected, last_id = db.run_on(reflected, lambda s: _write(s, statement, params))
    return envelope.success("Record inserted successfully" if len(rows) == 1 else
                            "Records inserted successfully",
                            {"rows_affected": affected, "last_insert_id": last_id}, 201)


@bp.get("/<table>/query")
def query_get(table: str):
    args = request.args
    filters = sql.filters_from_query(
        (key, value) for key, value in args.items(multi=True) if key not in RESERVED)
    return _select(table, filters, _split(args.get("columns")), _split(args.get("order_by")),
                   _int_arg("limit"), _int_arg("offset") or 0)


@bp.post("/<table>/query")
def query_post(table: str):
    body = bodies.load(bodies.QUERY, bodies.read_json())
    filters = sql.filters_from_body(body["input"])
    return _select(table, filters, body["columns"], body["order_by"], body["limit"],
                   body["offset"])


@bp.put("/<table>")
def update(table: str):
    body = bodies.load(bodies.UPDATE, bodies.read_json())
    filters = sql.filters_from_body(body["where"])
    db = database()
    reflected, (statement, params) = db.prepare(
        table, lambda t: sql.build_update(t, body["input"], filters))
    affected, _ = db.run_on(reflected, lambda s: _write(s, statement, params))
    return envelope.success("Records updated successfully", {"rows_affected": affected})


@bp.delete("/<table>")
def delete(table: str):
    body = bodies.load(bodies.DELETE, bodies.read_json())
    filters = sql.filters_from_body(body["input"])
    db = database()
    reflected, (statement, params) = db.prepare(table, lambda t: sql.build_delete(t, filters))
    affected, _ = db.run_on(reflected, lambda s: _write(s, statement, params))
    return envelope.success("Records deleted successfully", {"rows_affected": affected})


def _select(table: str, filters, columns, order_by, limit, offset):
    db = database()
    limit = min(db.config.default_limit if limit is None else limit, db.config.max_limit)
    reflected, (statement, params) = db.prepare(
        table, lambda t: sql.build_select(t, filters, columns, order_by, limit, offset))
    names, rows = db.run_on(reflected, lambda s: _read(s, statement, params))
    data = [dict(zip(names, row)) for row in rows]
    return envelope.success("Records retrieved successfully",
                            {"rows": data, "count": len(data), "limit": limit, "offset": offset})


def _write(session, statement: str, params: list) -> tuple[int, int | None]:
    cursor = session.execute(statement, params)
    session.commit()
    return cursor.rowcount, cursor.lastrowid or None


def _read(session, statement: str, params: list) -> tuple[list[str], tuple]:
    cursor = session.execute(statement, params)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _split(value: str | None) -> list[str]:
    return [part for part in value.split(",") if part] if value else []


def _int_arg(name: str) -> int | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if not raw.isdigit() or not raw.isascii() or int(raw) > bodies.MAX_OFFSET:
        raise BadRequest(f"Query parameter {name!r} must be a whole number from 0 to "
                         f"{bodies.MAX_OFFSET}", {"parameter": name})
    return int(raw)
