"""``POST /api/console/ask``: a plain-language question answered by one checked SELECT
(docs/console.md).

Off (404, as for any unknown route) unless ``TABLEGATE_CONSOLE=true`` and a model is
configured. ``auth`` lets the request in as a read about no single table; the tables come from
the checked SQL, so the key's ``r`` on each of them is checked here, before the query runs.
"""
from __future__ import annotations

from flask import Blueprint, current_app, g
from marshmallow import fields, validate

from tablegate.api import auth, bodies, envelope
from tablegate.api.auth import READ, Key
from tablegate.console.runner import Console
from tablegate.errors import Forbidden, NotFound

bp = Blueprint("console", __name__)

#: Questions longer than this are refused (400) before the model is asked.
MAX_QUESTION_CHARS = 2000


class AskBody(bodies.Body):
    question = fields.String(required=True, validate=validate.Length(min=1,
                                                                      max=MAX_QUESTION_CHARS))


ASK = AskBody()


@bp.post("/api/console/ask")
def ask():
    console: Console | None = current_app.extensions.get("tablegate.console")
    if console is None:
        raise NotFound("Not found")
    question = bodies.load(ASK, bodies.read_json())["question"]
    checked = console.write(question, auth.visible)  # the prompt names the key's tables only
    key: Key | None = g.get("api_key")
    denied = [t for t in checked.tables if key is not None and not key.allows(t, READ)]
    if denied:
        raise Forbidden("This key may not read every table the query reads",
                        {"tables": denied, "sql": checked.sql})
    answer = console.run(checked)
    return envelope.success("Question answered", answer.data())
