"""Endpoints about the service and the database as a whole: health and discovery."""
from __future__ import annotations

import dataclasses

from flask import Blueprint, jsonify
from flask_swagger_ui import get_swaggerui_blueprint

from tablegate.api import envelope, openapi
from tablegate.db import database, schema

bp = Blueprint("meta", __name__)

#: Swagger UI from the files the pinned flask-swagger-ui package ships: no CDN, works offline.
docs = get_swaggerui_blueprint("/docs", "/openapi.json", config={"app_name": "tablegate"})


@bp.get("/health")
def health():
    """Liveness only: it touches no database, so a load balancer does not take the process out
    while the database is briefly away (readiness is a separate question)."""
    return envelope.success("OK", {"status": "ok"})


@bp.get("/api/tables")
def tables():
    db = database()
    reflected = db.catalog.all()
    estimates = db.run(schema.row_estimates)
    listed = [{"name": name, "estimated_rows": estimates.get(name),
               "primary_key": list(table.primary_key)}
              for name, table in sorted(reflected.items())]
    return envelope.success("Tables retrieved successfully",
                            {"tables": listed, "count": len(listed)})


@bp.get("/api/<table>/schema")
def table_schema(table: str):
    """Read afresh rather than from the cache: this is where a client checks a change."""
    reflected = database().catalog.refresh(table)
    return envelope.success("Schema retrieved successfully", describe(reflected))


@bp.get("/openapi.json")
def openapi_document():
    """The bare document, not the envelope: OpenAPI tools read it as it is."""
    return jsonify(openapi.document(database().catalog.all()))


def describe(table: schema.Table) -> dict:
    return {
        "name": table.name,
        "primary_key": list(table.primary_key),
        "columns": [dataclasses.asdict(column) for column in table.columns.values()],
    }
