"""CRUD on any table (CONTRACT.md "CRUD", and the row routes docs/api.md adds). Each view reads
like the contract: body, table, validation, statement, executor, envelope."""
from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import Blueprint, request
from werkzeug.routing import BaseConverter

from tablegate import gateway
from tablegate.api import bodies, envelope, params
from tablegate.db import sql
from tablegate.db.schema import Table
from tablegate.errors import BadRequest, NotFound, PayloadTooLarge

bp = Blueprint("crud", __name__, url_prefix="/api")


#: Words of the service's own routes where a row key would stand: never keys.
ROUTE_WORDS = ("query", "schema", "export", "import", "ask")


class KeyConverter(BaseConverter):
    """A row key: one path segment that is not one of the words the service's own routes use
    there, so ``DELETE /api/t/query`` and ``GET /api/batch/import`` are 405s, not row reads, and
    ``/api/t/query/x`` a 404; ``ask`` too, so that ``GET /api/console/ask`` is a 405 of the
    console (issue 19). A row keyed by such a word is reached by a query instead."""

    regex = rf"(?!(?:{'|'.join(ROUTE_WORDS)})$)[^/]+"


class CollectionConverter(BaseConverter):
    """A table of the collection routes (insert, update, delete): not ``tables``, so that
    ``PUT /api/tables`` is a 405 of the listing, not an update of a table of that name."""

    regex = r"(?!tables$)[^/]+"


def _converters(state) -> None:
    state.app.url_map.converters.setdefault("key", KeyConverter)
    state.app.url_map.converters.setdefault("collection", CollectionConverter)


# Recorded before the routes below, so the converters exist when they are added to the app.
bp.record_once(_converters)

@bp.post("/<collection:table>")
def insert(table: str):
    body = bodies.load(bodies.INSERT, bodies.read_json())
    rows = body["input"] if isinstance(body["input"], list) else [body["input"]]
    args = params.load(params.INSERT, request.args)
    on_conflict = args.get("on_conflict")
    representation = args.get("representation") == "representation"
    db = gateway.current()
    if len(rows) > db.config.max_bulk_rows:
        raise PayloadTooLarge(f"At most {db.config.max_bulk_rows} rows per request",
                              {"rows": len(rows), "max_rows": db.config.max_bulk_rows})
    if representation:
        reflected, statements = db.prepare(
            table, lambda t: [sql.build_insert(t, [row], on_conflict) for row in rows])
        _require_readback(reflected, rows)
        affected, last_id, data = db.run_on(
            reflected, lambda s: _insert_returning(s, reflected, statements, rows,
                                                   skipped_hidden=on_conflict == "ignore"))
    else:
        reflected, (statement, values) = db.prepare(
            table, lambda t: sql.build_insert(t, rows, on_conflict))
        (affected, last_id), data = db.run_on(
            reflected, lambda s: _write(s, statement, values)), None
    payload = {"rows_affected": affected, "last_insert_id": last_id} | (
        {"rows": data} if representation else {})
    if on_conflict == "ignore" and not affected:
        # Every row hit an existing key and was skipped: nothing was created, so no 201 and
        # no Location (the no-op update counts 0, an inserted row 1), and no insert id.
        payload["last_insert_id"] = None
        return envelope.success(
            "Record not inserted: it conflicts with an existing row, which was left as it was"
            if len(rows) == 1 else "Records not inserted: each conflicts with an existing row, "
            "which was left as it was", payload)
    response = envelope.success(
        "Record inserted successfully" if len(rows) == 1 else "Records inserted successfully",
        payload, 201)
    key = _key_of(reflected, rows[0], last_id) if len(rows) == 1 else None
    if key is not None:
        response.headers["Location"] = _row_url(reflected, key)
    return response


@bp.get("/<table>/query")
def query_get(table: str):
    args = params.load(params.QUERY, request.args)
    return _select(table, params.filters(request.args), args["columns"], args["order_by"],
                   args["limit"], args["offset"], args["after"], args.get("count"))


@bp.post("/<table>/query")
def query_post(table: str):
    body = bodies.load(bodies.QUERY, bodies.read_json())
    filters = sql.filters_from_body(body["input"])
    after = body["after"]
    return _select(table, filters, body["columns"], body["order_by"], body["limit"],
                   body["offset"], after if isinstance(after, list) or after is None else [after],
                   body["count"])


@bp.put("/<collection:table>")
def update(table: str):
    body = bodies.load(bodies.UPDATE, bodies.read_json())
    filters = sql.filters_from_body(body["where"])
    db = gateway.current()
    reflected, (statement, values) = db.prepare(
        table, lambda t: sql.build_update(t, body["input"], filters))
    affected, _ = db.run_on(reflected, lambda s: _write(s, statement, values))
    return envelope.success("Records updated successfully", {"rows_affected": affected})


@bp.delete("/<collection:table>")
def delete(table: str):
    body = bodies.load(bodies.DELETE, bodies.read_json())
    filters = sql.filters_from_body(body["input"])
    db = gateway.current()
    reflected, (statement, values) = db.prepare(table, lambda t: sql.build_delete(t, filters))
    affected, _ = db.run_on(reflected, lambda s: _write(s, statement, values))
    return envelope.success("Records deleted successfully", {"rows_affected": affected})


@bp.get("/<table>/<key:key>")
def read_row(table: str, key: str):
    """A key value with a comma or a slash is not addressable: the server decodes %2C and %2F
    before routing; such rows are reached through a query instead."""
    db = gateway.current()
    reflected, (statement, values) = db.prepare(
        table, lambda t: sql.build_select(t, sql.key_filters(t, key.split(","))))
    names, rows = db.run_on(reflected, lambda s: _read(s, statement, values))
    if not rows:
        raise _no_row(table, key)
    return envelope.success("Record retrieved successfully", dict(zip(names, rows[0])))


@bp.patch("/<table>/<key:key>")
def patch_row(table: str, key: str):
    """A partial update of one row, answered with the row as it is after the update, read in
    the same transaction."""
    values = bodies.load(bodies.PATCH, bodies.read_json())["input"]
    db = gateway.current()

    def build(t: Table):
        t.require_write("update")  # before the key: a view that takes none says so first
        old = sql.key_filters(t, key.split(","))
        new = sql.key_filters(t, [values.get(f.column, f.value) for f in old])
        return (sql.build_select(t, old, lock=True), sql.build_update(t, values, old),
                sql.build_select(t, new))

    reflected, (lock, change, select) = db.prepare(table, build)
    row = db.run_on(reflected, lambda s: _patch(s, lock, change, select))
    if row is None:
        raise _no_row(table, key)
    return envelope.success("Record updated successfully", row)


@bp.delete("/<table>/<key:key>")
def delete_row(table: str, key: str):
    db = gateway.current()

    def build(t: Table):
        t.require_write("delete")  # before the key, as for a PATCH
        return sql.build_delete(t, sql.key_filters(t, key.split(",")))

    reflected, (statement, values) = db.prepare(table, build)
    affected, _ = db.run_on(reflected, lambda s: _write(s, statement, values))
    if not affected:
        raise _no_row(table, key)
    return envelope.success("Record deleted successfully", {"rows_affected": affected})


def _select(table: str, filters, columns, order_by, limit, offset, after, count):
    db = gateway.current()
    limit = min(db.config.default_limit if limit is None else limit, db.config.max_limit)
    reflected, (statement, values) = db.prepare(
        table, lambda t: sql.build_select(t, filters, columns, order_by, limit, offset, after))
    counting = sql.build_count(reflected, filters) if count else None

    def read(session):
        names, rows = _read(session, statement, values)
        total = session.execute(*counting).fetchone()[0] if counting else None
        return names, rows, total

    names, rows, total = db.run_on(reflected, read)
    data = [dict(zip(names, row)) for row in rows]
    return envelope.success(
        "Records retrieved successfully",
        {"rows": data, "count": len(data), "limit": limit, "offset": offset}
        | ({"total": total} if count else {}))


def _write(session, statement: str, values: list) -> tuple[int, int | None]:
    cursor = session.write(statement, values)
    return cursor.rowcount, cursor.lastrowid or None


def _read(session, statement: str, values: list) -> tuple[list[str], tuple]:
    cursor = session.execute(statement, values)
    return [d[0] for d in cursor.description], cursor.fetchall()


def _insert_returning(session, table: Table, statements, rows, skipped_hidden: bool = False):
    """Row by row in one transaction, so that each row's own auto-increment id is known: the
    ids of one multi-row INSERT are not guaranteed to be consecutive. ``skipped_hidden``
    (on_conflict=ignore): a row the statement did not write (0 affected) is not read back, so
    only written rows are shown."""
    affected, first_id, found = 0, None, []
    session.begin()
    for (statement, values), row in zip(statements, rows):
        cursor = session.execute(statement, values)
        affected += cursor.rowcount
        if skipped_hidden and not cursor.rowcount:
            continue
        first_id = first_id or cursor.lastrowid or None
        key = _key_of(table, row, cursor.lastrowid)
        if key is not None:  # None: a row without a key given and no auto-increment id
            names, read = _read(session, *sql.build_select(table, sql.key_filters(table, key)))
            found.extend(dict(zip(names, r)) for r in read)
    session.commit()
    return affected, first_id, found


def _patch(session, lock, change, select) -> dict | None:
    session.begin()
    if not session.execute(*lock).fetchall():
        return None
    session.execute(*change)
    names, rows = _read(session, *select)
    session.commit()
    return dict(zip(names, rows[0]))


def _key_of(table: Table, row: dict, last_id: int | None) -> list[Any] | None:
    """The primary key of an inserted row: given in the row, or the auto-increment id."""
    key = table.primary_key
    if key and all(c in row for c in key):
        return [row[c] for c in key]
    return [last_id] if table.auto_key and last_id else None


def _require_readback(table: Table, rows: list[dict]) -> None:
    key = table.primary_key
    if not key or not (table.auto_key or all(c in row for row in rows for c in key)):
        raise BadRequest("return=representation reads rows back by primary key: the table "
                         "needs one, given in every row or auto-increment",
                         {"primary_key": list(key)})


def _row_url(table: Table, key: list[Any]) -> str:
    return f"{request.script_root}/api/{quote(table.name, safe='')}/" + ",".join(
        quote(str(v), safe="") for v in key)


def _no_row(table: str, key: str) -> NotFound:
    return NotFound(f"No row in {table!r} with key {key!r}", {"key": key})
