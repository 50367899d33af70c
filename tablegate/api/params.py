"""Query-string arguments as marshmallow schemas, beside the body schemas of ``api.bodies``: one
idiom for everything a request carries, and the OpenAPI parameters are derived from the same
fields (``api.openapi``) rather than restated.

Every key of a query's or an export's string that is not one of its arguments is a column filter
(``?age=gte.30``). An import's string takes its arguments only; other keys are ignored, as they
always were.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError, fields, validate, validates_schema
from werkzeug.datastructures import FileStorage, MultiDict

from tablegate.batch.loader import MODES
from tablegate.config import FALSE_WORDS, TRUE_WORDS
from tablegate.db import sql
from tablegate.errors import BadRequest
from tablegate.formats import FORMATS

#: The largest offset MySQL's LIMIT clause takes as a signed number; above it, a 400.
MAX_OFFSET = 2**63 - 1


class Flag(fields.Boolean):
    """true or false, in the words the settings take too (``config.TRUE_WORDS``)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(truthy=TRUE_WORDS, falsy=FALSE_WORDS,
                         error_messages={"invalid": "must be true or false"}, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        return super()._deserialize(value.lower() if isinstance(value, str) else value, attr,
                                    data, **kwargs)


class WholeNumber(fields.Integer):
    """Digits only (no sign, no space, no full-width digits), up to ``MAX_OFFSET``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(strict=False, validate=validate.Range(min=0, max=MAX_OFFSET),
                         **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or not (value.isascii() and value.isdigit()) \
                or int(value) > MAX_OFFSET:
            raise ValidationError(f"must be a whole number from 0 to {MAX_OFFSET}")
        return int(value)


class CommaList(fields.List):
    """``a,b`` as ``["a", "b"]``: in OpenAPI an array in form style, not exploded. An empty
    part names nothing, and is refused rather than skipped (``?columns=`` too)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(fields.String(), load_default=list, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        parts = value.split(",")
        if "" in parts:
            raise ValidationError("must be comma-separated names, none of them empty")
        return parts


def _one_of(*choices: str, **kwargs: Any) -> fields.String:
    return fields.String(validate=validate.OneOf(
        choices, error=f"must be one of: {', '.join(choices)}"), **kwargs)


class Args(Schema):
    class Meta:
        unknown = EXCLUDE


class ExportArgs(Args):
    columns = CommaList(metadata={"description": "the columns to return, in order"})
    order_by = CommaList(metadata={"description": "columns to sort by; -col for descending"})
    limit = WholeNumber(load_default=None)
    offset = WholeNumber(load_default=0)


class QueryArgs(ExportArgs):
    after = CommaList(metadata={"description": "keyset pagination: the primary-key values of "
                                               "the last row seen, comma-separated"})
    count = _one_of("exact")


class InsertArgs(Args):
    on_conflict = _one_of("update", "ignore", metadata={
        "description": "a row whose primary or unique key exists: update it, or leave it"})
    representation = _one_of("minimal", "representation", data_key="return", metadata={
        "description": "representation: answer with the rows as stored"})


class ImportArgs(Args):
    table = fields.String(metadata={"description": "the table; else the file name without "
                                                   "its extension"})
    mode = _one_of(*MODES)
    atomic = Flag(load_default=False, metadata={
        "description": "all rows or none: one transaction for the whole file"})
    #: Checked by ``formats.detect``, which tells it from the file when absent.
    format = fields.String(metadata={
        "any_case": list(FORMATS), "description": "else the file name's extension or the "
                                                  "part's content type; else CSV"})
    sheet = fields.String(metadata={"description": "XLSX: the worksheet to read; else the first"})
    create = Flag(load_default=False, metadata={
        "description": "create a missing table, its columns inferred from the file"})
    key = fields.String(metadata={"description": "with create: the file's column that becomes "
                                                 "the primary key; else an AUTO_INCREMENT id "
                                                 "is added"})
    dry_run = Flag(load_default=False, metadata={
        "description": "report what the import would do, writing nothing"})
    force = Flag(load_default=False, metadata={
        "description": "import a file the ledger has seen imported into the table (no 409)"})
    dedupe = _one_of("key")
    null = fields.String(metadata={
        "description": "CSV and XLSX: the unquoted cell text that means NULL, e.g. \\N (mysqldump "
                       "--tab), NA or NULL; an empty cell is then the empty string. Default: an "
                       "unquoted empty cell is NULL"})
    background = Flag(data_key="async", load_default=None, metadata={
        "description": "run as a background job: 202 and a Location to poll; by default only "
                       "uploads over TABLEGATE_ASYNC_UPLOAD_BYTES"})

    @validates_schema
    def _consistent(self, data: dict, **kwargs: Any) -> None:
        if data.get("key") is not None and not data["create"]:
            raise ValidationError("names the key of a table made with ?create=true", "key")
        if data.get("dedupe") and data.get("mode", "ignore") != "ignore":
            raise ValidationError(f"?dedupe=key skips rows whose key exists; mode "
                                  f"{data['mode']!r} does not: leave mode out or use "
                                  "mode=ignore", "dedupe")
        if data["dry_run"] and data.get("background"):
            raise ValidationError("a dry run is answered at once: leave out ?async=true",
                                  "async")


EXPORT, QUERY, INSERT, IMPORT = ExportArgs(), QueryArgs(), InsertArgs(), ImportArgs()



def load(schema: Args, args: MultiDict) -> dict:
    """The arguments ``schema`` takes from a query string; raises BadRequest naming the first
    bad one in ``details.parameter``."""
    try:
        return schema.load(args.to_dict())  # the first of repeated keys; EXCLUDE drops others
    except ValidationError as exc:
        name, problems = next(iter(exc.messages.items()))
        problem = problems[0] if isinstance(problems, list) else problems
        raise BadRequest(f"Query parameter {name!r} {problem}", {"parameter": name}) from None


#: Query-string keys that are never column filters: a query's arguments.
RESERVED = frozenset(field.data_key or name for name, field in QUERY.fields.items())


def filters(args: MultiDict) -> list[sql.Filter]:
    """Every key that is not a query's argument is a column filter: ``?age=gte.30&name=Ann``."""
    return sql.filters_from_query((key, value) for key, value in args.items(multi=True)
                                  if key not in RESERVED)


def import_table(args: Mapping[str, str], upload: FileStorage | None) -> str:
    """The table an import names: ``?table=``, else the file name without its extension,
    compared as is with reflected names (no path or character is stripped, so
    ``../users.csv`` names no table). Raises BadRequest when there is neither."""
    name = args.get("table")
    if name is None and upload is not None:
        stem, dot, _ = (upload.filename or "").rpartition(".")
        name = stem if dot else upload.filename
    if not name:
        raise BadRequest("Name the table with ?table= or with the file name")
    return name
