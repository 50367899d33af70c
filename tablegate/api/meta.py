"""Service endpoints that are not about one table."""
from __future__ import annotations

from flask import Blueprint

from tablegate.api import envelope

bp = Blueprint("meta", __name__)


@bp.get("/health")
def health():
    """Liveness only: it touches no database, so a load balancer does not take the process out
    while the database is briefly away (readiness is a separate question)."""
    return envelope.success("OK", {"status": "ok"})
