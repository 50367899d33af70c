"""Request bodies: parsed and validated before any connection is borrowed (STYLE 4)."""
from __future__ import annotations

from typing import Any

from flask import request
from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates_schema

from tablegate import gateway
from tablegate.api.params import MAX_OFFSET
from tablegate.errors import BadRequest, UnsupportedMediaType


def read_json() -> dict:
    """The request body as a JSON object, or the contract's 400/413/415.

    The app-wide ``MAX_CONTENT_LENGTH`` is the larger upload limit (CSV import); a JSON body
    has its own, smaller one, so it is set on this request before a byte is read.
    """
    request.max_content_length = gateway.current().config.max_body_bytes
    if not request.content_length and not request.get_data(cache=True):
        raise BadRequest("Request body is empty: send a JSON object")
    if not request.is_json:
        raise UnsupportedMediaType("Content-Type must be application/json")
    body = request.get_json(silent=True)
    if body is None:
        raise BadRequest("Malformed JSON in request body")
    if not isinstance(body, dict):
        raise BadRequest(f"Request body must be a JSON object, not {_json_kind(body)}")
    return body


def _json_kind(value: Any) -> str:
    return {list: "an array", str: "a string", bool: "a boolean", int: "a number",
            float: "a number"}.get(type(value), "null")


class Row(fields.Dict):
    """An object of column → value. Keys are checked against the table later, by name."""

    def __init__(self, **kwargs):
        super().__init__(keys=fields.String(), **kwargs)


class RowOrRows(fields.Field):
    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, dict):
            return value
        if isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            return value
        raise ValidationError("Must be an object, or a non-empty array of objects.")


class Body(Schema):
    class Meta:
        unknown = RAISE


class InsertBody(Body):
    input = RowOrRows(required=True)


class QueryBody(Body):
    input = Row(load_default=dict)
    columns = fields.List(fields.String(), load_default=list)
    order_by = fields.List(fields.String(), load_default=list)
    limit = fields.Integer(strict=True, validate=validate.Range(min=0), load_default=None)
    offset = fields.Integer(strict=True, validate=validate.Range(min=0, max=MAX_OFFSET),
                            load_default=0)
    after = fields.Raw(load_default=None)
    count = fields.String(validate=validate.OneOf(["exact"]), load_default=None)


class PatchBody(Body):
    input = Row(required=True, validate=validate.Length(min=1, error="Nothing to update."))


class UpdateBody(Body):
    input = Row(required=True)
    where = Row(required=True)

    @validates_schema
    def _where_not_empty(self, data, **kwargs):
        if not data.get("where"):
            raise ValidationError("Refusing to update without a WHERE condition.", "where")


class DeleteBody(Body):
    input = Row(required=True)

    @validates_schema
    def _where_not_empty(self, data, **kwargs):
        if not data.get("input"):
            raise ValidationError("Refusing to delete without a WHERE condition.", "input")


def load(schema: Schema, body: dict) -> dict:
    try:
        return schema.load(body)
    except ValidationError as exc:
        raise BadRequest(f"Invalid request body: {_first_problem(exc.messages)}",
                         {"fields": exc.messages}) from None


def _first_problem(messages: dict) -> str:
    """One readable line for the message; ``details.fields`` keeps them all."""
    path, problems = [], messages
    while isinstance(problems, dict):
        key, problems = next(iter(problems.items()))
        path.append(str(key))
    return f"{'.'.join(path)}: {problems[0] if isinstance(problems, list) else problems}"


INSERT, QUERY, UPDATE, DELETE, PATCH = (InsertBody(), QueryBody(), UpdateBody(), DeleteBody(),
                                        PatchBody())
