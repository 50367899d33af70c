"""Endpoints about the service and the database as a whole: health and discovery."""
from __future__ import annotations

import dataclasses
import threading

from flask import Blueprint, current_app, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from tablegate import gateway
from tablegate.api import auth, envelope, openapi
from tablegate.db import schema
from tablegate.db.pool import Pool
from tablegate.errors import Misconfigured, Unavailable, from_mysql

bp = Blueprint("meta", __name__)

#: Swagger UI from the files the pinned flask-swagger-ui package ships: no CDN, works offline;
#: no validator badge either, which would send the document's address to validator.swagger.io.
docs = get_swaggerui_blueprint("/docs", "/openapi.json",
                               config={"app_name": "tablegate", "validatorUrl": None})

#: How long readiness waits for the database: one try, short, so that a probe answers well
#: within its own timeout instead of running the 5.8 s retry schedule.
READY_TIMEOUT_S = 1.0


@bp.get("/health")
def health():
    """Liveness only: it touches no database, so a load balancer does not take the process out
    while the database is briefly away (readiness is a separate question)."""
    return envelope.success("OK", {"status": "ok"})


@bp.get("/ready")
def ready():
    """Readiness: a ``SELECT 1`` on a pooled connection, the path every request takes, so a
    full or broken pool shows too. It runs on its own thread and is waited for at most
    ``READY_TIMEOUT_S``; a probe left behind ends by itself within the connection's socket
    timeouts and returns its connection. A database that refuses tablegate's settings (an
    unknown database, a refused login) is not ready either, and the answer says why, as every
    request's does (issue 13)."""
    db = gateway.current()
    outcome: list[BaseException | None] = []
    probe = threading.Thread(target=_ping, args=(db.pool, outcome),
                             name="tablegate-ready", daemon=True)
    probe.start()
    probe.join(READY_TIMEOUT_S)
    if not outcome or outcome[0] is not None:
        problem = from_mysql(outcome[0], database=db.config.db_name) if outcome else None
        if isinstance(problem, Misconfigured):
            raise problem
        raise Unavailable("Database not ready", {"timeout_ms": int(READY_TIMEOUT_S * 1000)})
    return envelope.success("Ready", {"status": "ready"})


def _ping(pool: Pool, outcome: list[BaseException | None]) -> None:
    try:
        with pool.connection() as lease, lease.raw.cursor() as cursor:
            cursor.execute("SELECT 1")
            outcome.append(None)
    except Exception as exc:  # any failure means "not ready"; ready() reads which
        outcome.append(exc)


@bp.get("/api/tables")
def tables():
    db = gateway.current()
    reflected = auth.visible(db.catalog.all())
    estimates = db.run(schema.row_estimates)
    listed = [{"name": name, **kind(table), "estimated_rows": estimates.get(name),
               "primary_key": list(table.primary_key)}
              for name, table in sorted(reflected.items())]
    return envelope.success("Tables retrieved successfully",
                            {"tables": listed, "count": len(listed)})


@bp.get("/api/<table>/schema")
def table_schema(table: str):
    """Read afresh rather than from the cache: this is where a client checks a change."""
    reflected = gateway.current().catalog.refresh(table)
    return envelope.success("Schema retrieved successfully", describe(reflected))


@bp.get("/openapi.json")
def openapi_document():
    """The bare document, not the envelope: OpenAPI tools read it as it is. Without a key while
    keys are on, the generic one, which names no table (docs/security.md)."""
    console = current_app.extensions.get("tablegate.console") is not None
    if auth.anonymous():
        return jsonify(openapi.generic_document(console=console))
    tables = auth.visible(gateway.current().catalog.all())
    return jsonify(openapi.document(tables, keys=auth.keys_on(), console=console))


def describe(table: schema.Table) -> dict:
    return {
        "name": table.name,
        **kind(table),
        "primary_key": list(table.primary_key),
        "columns": [dataclasses.asdict(column) for column in table.columns.values()],
    }


def kind(table: schema.Table) -> dict:
    """``type``, and for a view whether it takes inserts and updates (issue 13)."""
    if table.kind != "view":
        return {"type": table.kind}
    return {"type": table.kind, "insertable": table.insertable, "updatable": table.updatable}
