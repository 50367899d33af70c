"""An OpenAPI 3.1 document generated from the live reflected schema.

One path set per table, with the table's columns as JSON Schema, so that a client generator or
schemathesis sees the real shape of every row. Generated per request: a table created a moment
ago is in the document at once, like everywhere else in tablegate. Query-string parameters are
derived from the marshmallow schemas that validate them (``api.params``), not restated.

With API keys on, a request that sends no key gets the *generic* document instead: the same
routes with ``{table}`` as a path parameter and no table or column name anywhere, so that
Swagger UI (``/docs/``) loads before its Authorize button is used, without telling an anonymous
caller what the database holds (docs/security.md).
"""
from __future__ import annotations

import copy
from urllib.parse import quote

from marshmallow import fields, validate

from tablegate.api import params
from tablegate.api.batch import JOB_ID
from tablegate.api.crud import ROUTE_WORDS
from tablegate.api.params import MAX_OFFSET, RESERVED
from tablegate.config import FALSE_WORDS, TRUE_WORDS
from tablegate.db.codecs import INTEGER_BITS, TEXT_TYPES as STRING_TYPES
from tablegate.db.schema import BINARY_TYPES, Column, Table
from tablegate.db.sql import OPERATORS

INTEGER_TYPES = frozenset(INTEGER_BITS) | {"integer", "year"}
FLOAT_TYPES = frozenset({"float", "double", "real"})
DECIMAL_TYPES = frozenset({"decimal", "numeric"})
TEXT_TYPES = STRING_TYPES | {"enum", "set"}
DATETIME_PATTERN = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(\.\d{1,6})?$"

ERROR_STATUSES = {
    "400": "Malformed request, unknown column or operator, empty WHERE",
    "403": "The database user lacks the privilege",
    "404": "Table not found",
    "409": "Duplicate key or foreign-key violation",
    "413": "Body too large",
    "415": "Body is not JSON",
    "422": "Value rejected by the database",
    "429": "Too many background imports; see Retry-After",
    "503": "Database unavailable after the retry schedule",
    "504": "Every attempt timed out",
}

#: A write the table cannot take: a view's (the document leaves out the writes a view takes
#: none of), a join view's, a sequence's.
WRITE_REFUSED = "A write this table or view cannot take"

#: The two ways to send a key (``auth._sent_key``); either one suffices.
SECURITY_SCHEMES = {
    "bearer": {"type": "http", "scheme": "bearer",
               "description": "The key, sent as `Authorization: Bearer <key>`"},
    "X-API-Key": {"type": "apiKey", "in": "header", "name": "X-API-Key",
                  "description": "The key, sent as `X-API-Key: <key>`"},
}

#: Paths answered without a key (``auth.PUBLIC_ENDPOINTS``); the document itself answers
#: without one too, but then it is the generic document (``auth.KEY_OPTIONAL_ENDPOINTS``).
PUBLIC_PATHS = frozenset({"/health", "/ready", "/metrics"})
DOCUMENT_PATH = "/openapi.json"

KEY_STATUSES = {
    "401": "No valid API key",
    "403": "The key has no right on this table, or the service is read-only",
}

#: The path parameter of the generic document, where the per-table one has names.
TABLE_PARAMETER = {"name": "table", "in": "path", "required": True,
                   "schema": {"type": "string", "minLength": 1}}


#: The write operations of a table's own paths, and the flag of ``schema.Table`` each needs:
#: a read-only view's document has no such operation (issue 13).
WRITE_OPERATIONS = {"post": "insertable", "put": "updatable", "patch": "updatable",
                    "delete": "updatable"}


def column_schema(column: Column) -> dict:
    """JSON Schema of a column's values, accepting what the API takes and returns; a generated
    column's are read-only (a write naming it is a 400)."""
    schema = _value_schema(column)
    if column.generated:
        schema["readOnly"] = True
    return schema


def _value_schema(column: Column) -> dict:
    t = column.data_type
    if column.is_boolean:
        schema: dict = {"type": ["integer", "boolean"]}
    elif t in INTEGER_TYPES:
        schema = {"type": ["integer"]}
    elif t in FLOAT_TYPES:
        schema = {"type": ["number"]}
    elif t in DECIMAL_TYPES:
        schema = {"type": ["string", "number"], "description": "DECIMAL, returned as a string"}
    elif t in TEXT_TYPES:
        schema = {"type": ["string"]}
        if column.max_length:
            schema["maxLength"] = column.max_length
    elif t == "date":
        schema = {"type": ["string"], "format": "date"}
    elif t in ("datetime", "timestamp"):
        schema = {"type": ["string"], "pattern": DATETIME_PATTERN}
    elif t == "time":
        schema = {"type": ["string"]}
    elif t in BINARY_TYPES:
        schema = {"type": ["string"], "contentEncoding": "base64"}
    else:  # json (text in MariaDB), bit, geometry...: any JSON value
        return {"description": column.column_type}
    if column.nullable:
        schema["type"].append("null")
    schema["description"] = schema.get("description", column.column_type)
    return schema


def document(tables: dict[str, Table], *, keys: bool = False, console: bool = False) -> dict:
    """The document of ``tables``, each with its own paths and row schema; ``keys``: API keys
    are on, so every operation but the probes and the metrics declares that it needs one;
    ``console``: the question console is on (docs/console.md)."""
    paths = _service_paths(sorted(name for name, table in tables.items() if table.insertable),
                           console)
    schemas: dict = {"Envelope": ENVELOPE, "Error": ERROR}
    for name, table in sorted(tables.items()):
        ref = _component_name(name)
        schemas[ref] = {
            "type": "object",
            "properties": {c.name: column_schema(c) for c in table.columns.values()},
            "additionalProperties": False,
        }
        segment = quote(table.name, safe="")
        table_paths = _table_paths(
            segment, table.name, {"$ref": f"#/components/schemas/{ref}"}, list(table.columns),
            ", ".join(table.primary_key))
        _drop_refused_writes(table_paths, "/api/" + segment, table)
        paths.update(table_paths)
    return _document(paths, schemas, keys)


def _drop_refused_writes(paths: dict, base: str, table: Table) -> None:
    """Leave out the writes the table cannot take, and a path left with no operation."""
    refused = {method for method, flag in WRITE_OPERATIONS.items() if not getattr(table, flag)}
    for path in (base, base + "/{key}"):
        item = paths.get(path)
        if item is None:
            continue
        for method in refused:
            item.pop(method, None)
        if not set(item) - {"parameters"}:
            del paths[path]


def generic_document(*, console: bool = False) -> dict:
    """Every route, with ``{table}`` as a path parameter and rows as plain objects: it names
    no table and no column, so it is what a request without a key gets while keys are on."""
    paths = _service_paths(None, console)
    paths.update(_table_paths("{table}", "a table", {"$ref": "#/components/schemas/Row"},
                              None, "the table's primary-key columns", [TABLE_PARAMETER]))
    schemas = {"Envelope": ENVELOPE, "Error": ERROR, "Row": {
        "type": "object", "description": "column → value; send an API key for the document "
                                         "with each table's columns"}}
    return _document(paths, schemas, keys=True)


def _document(paths: dict, schemas: dict, keys: bool) -> dict:
    components: dict = {"schemas": schemas}
    if keys:
        components["securitySchemes"] = SECURITY_SCHEMES
        _secure(paths)
    return {
        "openapi": "3.1.0",
        "info": {"title": "tablegate", "version": "1",
                 "description": "Every table of the database over JSON; see docs/api.md."},
        "paths": paths,
        "components": components,
    }


def _secure(paths: dict) -> None:
    """Declare the key on every operation that needs one, as ``auth`` decides: in one place
    here too, so that a new path cannot forget it."""
    for path, item in paths.items():
        if path in PUBLIC_PATHS:
            continue
        for method, operation in item.items():
            if method == "parameters":
                continue
            required = [{name: []} for name in SECURITY_SCHEMES]
            # {} is "no key": the document answers without one (the generic document).
            operation["security"] = [{}, *required] if path == DOCUMENT_PATH else required
            statuses = ("401",) if path == DOCUMENT_PATH else tuple(KEY_STATUSES)
            operation["responses"] |= {code: _response(KEY_STATUSES[code], "Error")
                                       for code in statuses}


def _service_paths(names: list[str] | None, console: bool = False) -> dict:
    """The paths about no single table: probes, metrics, discovery, this document, imports,
    and the console when it is on."""
    return {**({CONSOLE_PATH: copy.deepcopy(CONSOLE_OPERATION)} if console else {}),
        "/health": {"get": _operation("Liveness", "Envelope", statuses=())},
        "/ready": {"get": _operation("Readiness: SELECT 1 through the pool", "Envelope",
                                     statuses=("503",))},
        "/metrics": {"get": _text_operation("Prometheus metrics", "text/plain",
                                            "Prometheus text format")},
        "/api/tables": {"get": _operation("List the tables", "Envelope", statuses=("503", "504"))},
        # The document reads the schema: the database's trouble is its answer too.
        DOCUMENT_PATH: {"get": {"summary": "This document", "responses": {"200": {
            "description": "OpenAPI 3.1: per table with a key, generic without one while keys "
                           "are on",
            "content": {"application/json": {"schema": {"type": "object"}}}}} | {
                code: _response(ERROR_STATUSES[code], "Error") for code in ("503", "504")}}},
        **_batch_paths(names),
    }


CONSOLE_PATH = "/api/console/ask"
CONSOLE_OPERATION = {"post": {
    "summary": "Ask a question in plain words: one checked, read-only SELECT (docs/console.md)",
    "requestBody": {"required": True, "content": {"application/json": {"schema": {
        "type": "object", "required": ["question"], "additionalProperties": False,
        "properties": {"question": {"type": "string", "minLength": 1, "maxLength": 2000}}}}}},
    "responses": {
        "200": {"description": "Success: data is {sql, columns, rows, truncated}",
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Envelope"}}}},
        **{code: {"description": text, "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/Error"}}}} for code, text in {
            "400": "Malformed body", "404": "The console is off",
            "415": "Body is not JSON",
            "422": "The model's SQL was refused (details.reason) or the database refused it",
            "502": "The model could not be asked", "503": ERROR_STATUSES["503"],
            "504": "The query ran out of time and was stopped"}.items()}}}}


def _table_paths(segment: str, label: str, row: dict, columns: list[str] | None,
                 primary_key: str, common: list[dict] | None = None) -> dict:
    """The routes of one table, named ``segment`` in paths; ``columns`` None: not known (the
    generic document), ``common`` the path parameters every route of the table takes."""
    base = "/api/" + segment
    filters = _filters(columns)
    changes = {**row, "minProperties": 1}  # "Nothing to update" otherwise
    where = {**filters, "minProperties": 1}  # no bulk change without a WHERE
    insert = _operation(
        f"Insert into {label}", "Envelope", status="201",
        parameters=parameters(params.INSERT),
        body={"type": "object", "required": ["input"], "additionalProperties": False,
              "properties": {"input": {"oneOf": [
                  row, {"type": "array", "items": row, "minItems": 1}]}}})
    insert["responses"]["200"] = _response(
        "on_conflict=ignore and every row conflicted: nothing written, no Location", "Envelope")
    paths = {
        base: {
            "post": insert,
            "put": _operation(
                f"Update {label}", "Envelope",
                body={"type": "object", "required": ["input", "where"],
                      "additionalProperties": False,
                      "properties": {"input": changes, "where": where}}),
            "delete": _operation(
                f"Delete from {label}", "Envelope",
                body={"type": "object", "required": ["input"], "additionalProperties": False,
                      "properties": {"input": where}}),
        },
        base + "/query": {
            "get": _operation(f"Query {label}", "Envelope",
                              parameters=_query_parameters(columns, paging=True)),
            "post": _operation(
                f"Query {label}", "Envelope",
                body={"type": "object", "additionalProperties": False, "properties": {
                    "input": filters,
                    "columns": {"type": "array", "items": _choices(columns)},
                    "order_by": {"type": "array", "items": _choices(_order_terms(columns))},
                    "limit": {"type": ["integer", "null"], "minimum": 0},
                    "offset": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET},
                    "after": {"type": ["string", "number", "boolean", "array", "null"],
                              "items": {"type": ["string", "number", "boolean"]},
                              "description": "keyset pagination: the primary-key values of "
                                             "the last row seen, one per key column"},
                    "count": {"enum": ["exact", None]},
                }}),
        },
        base + "/schema": {"get": _operation(f"Columns of {label}", "Envelope")},
        base + "/{key}": {
            # The words of the service's routes are never keys (crud.KeyConverter).
            "parameters": [{
                "name": "key", "in": "path", "required": True,
                "schema": {"type": "string",
                           "not": {"enum": list(ROUTE_WORDS)}},
                "description": "primary-key values, comma-separated in key order: "
                               + primary_key}],
            "get": _operation(f"One row of {label}", "Envelope"),
            "patch": _operation(f"Update one row of {label}", "Envelope",
                                body={"type": "object", "required": ["input"],
                                      "additionalProperties": False,
                                      "properties": {"input": changes}}),
            "delete": _operation(f"Delete one row of {label}", "Envelope"),
        },
    }
    for path in (base + "/export", "/api/batch/" + segment + "/export"):
        paths[path] = {"get": _export_operation(label, columns)}
    for path in (base, base + "/{key}"):
        for method, operation in paths[path].items():
            if method in WRITE_OPERATIONS:
                operation["responses"]["405"] = _response(WRITE_REFUSED, "Error")
    if segment == "tables":  # the listing's path, never a collection (crud.CollectionConverter)
        del paths[base]
    if common:
        for item in paths.values():
            item["parameters"] = [*common, *item.get("parameters", [])]
    return paths


def _filters(columns: list[str] | None) -> dict:
    """The conditions of a body (``sql.filters_from_body``): column → value, null, or
    {operator: value}; ``or`` → an array of such objects. Only the table's columns where they
    are known."""
    scalar = {"type": ["string", "number", "boolean", "null"]}
    operators = [*OPERATORS, *(f"not.{op}" for op in OPERATORS)]
    # One type list, the object keywords applying to objects only: no anyOf, no propertyNames,
    # which schemathesis cannot always negate.
    operand = {"type": ["string", "number", "boolean", "null", "array"], "items": scalar}
    condition = {"type": ["string", "number", "boolean", "null", "object"], "minProperties": 1,
                 "additionalProperties": False, "properties": dict.fromkeys(operators, operand)}
    group = {"type": ["array", "string", "number", "boolean", "null", "object"], "minItems": 1,
             "items": {"type": "object", "minProperties": 1}, "minProperties": 1,
             "additionalProperties": False, "properties": dict.fromkeys(operators, operand)}
    found: dict = {"type": "object", "description": "column → value, null, or {operator: "
                                                    "value}; or → [conditions, ...]; "
                                                    "operators: " + ", ".join(OPERATORS)}
    if columns is None:  # any column's conditions (a schema here, schemathesis cannot negate)
        found.update(properties={"or": group}, additionalProperties=True)
    else:
        # "or" is a group, or the conditions of a column of that name.
        found.update(properties={column: condition for column in columns} | {"or": group},
                     additionalProperties=False)
    return found


def _export_operation(label: str, columns: list[str] | None) -> dict:
    export = _operation(f"Export {label} as CSV", "Envelope",
                        parameters=_query_parameters(columns, paging=False))
    export["responses"]["200"] = _text_response(
        "The rows as CSV (RFC 4180, UTF-8, header line first), streamed", "text/csv")
    return export


def _batch_paths(names: list[str] | None) -> dict:
    """The import of a file into any table, and its job (the exports are per table)."""
    table = {"enum": names} if names else {"type": "string"}
    import_file = _operation(
        "Import a CSV, JSON, NDJSON or XLSX file into a table", "Envelope",
        statuses=("400", "403", "404", "409", "413", "415", "422", "429", "503", "504"),
        parameters=parameters(params.IMPORT, {"table": table}))
    import_file["requestBody"] = {"required": True, "content": {"multipart/form-data": {
        "schema": {"type": "object", "required": ["file"],
                   "properties": {"file": {"type": "string", "format": "binary"}}}}}}
    import_file["responses"] |= {
        "202": _response("Accepted as a background job; Location names it", "Envelope"),
        "207": _response("Some rows failed", "Envelope"),
        "405": _response(WRITE_REFUSED, "Error")}
    job = _operation("An import and its progress", "Envelope",
                     statuses=("404", "503", "504"),
                     parameters=[{"name": "job_id", "in": "path", "required": True,
                                  "schema": {"type": "string",
                                             "pattern": f"^{JOB_ID.pattern}$"}}])
    return {"/api/batch/import": {"post": import_file},
            "/api/batch/jobs/{job_id}": {"get": job}}


def _query_parameters(columns: list[str] | None, *, paging: bool) -> list[dict]:
    """The query string of a query (``paging``: with ``after`` and ``count``) or an export: its
    arguments, the table's columns as the choices of ``columns`` and ``order_by``, and a filter
    per column."""
    # Comma-separated lists: a name with a comma cannot be sent in one.
    listable = None if columns is None else [c for c in columns if "," not in c]
    choices = {"columns": _array(_choices(listable)),
               "order_by": _array(_choices(_order_terms(listable)))}
    found = [parameter for parameter in parameters(params.QUERY if paging else params.EXPORT,
                                                   choices)
             if listable != [] or parameter["name"] not in choices]
    description = "filter: value, or operator.value (gte.30, in.1,2, is.null)"
    if columns is None:
        found.append({"name": "filters", "in": "query", "style": "form", "explode": True,
                      "schema": {"type": "object", "additionalProperties": {"type": "string"}},
                      # Else Swagger UI's "Try it out" sends additionalProp1=string...
                      "example": {},
                      "description": "every other key is a column's " + description})
    else:
        found += [{"name": c, "in": "query", "schema": {"type": "string"},
                   "description": description}
                  for c in columns if c not in RESERVED]
    return found


def parameters(schema: params.Args, schemas: dict[str, dict] | None = None) -> list[dict]:
    """The query parameters of a marshmallow schema of ``api.params``, one per field, as its
    validation takes them; ``schemas`` replaces a parameter's schema by name (a table's
    columns as the choices of ``columns``)."""
    found = []
    for name, field in schema.fields.items():
        key = field.data_key or name
        parameter = {"name": key, "in": "query",
                     "schema": (schemas or {}).get(key) or _field_schema(field)}
        if isinstance(field, params.CommaList):
            parameter.update(style="form", explode=False)
        if field.metadata.get("description"):
            parameter["description"] = field.metadata["description"]
        found.append(parameter)
    return found


def _field_schema(field: fields.Field) -> dict:
    if isinstance(field, params.Flag):
        return {"type": "string", "pattern": _any_case(TRUE_WORDS | FALSE_WORDS)}
    if isinstance(field, params.WholeNumber):
        return {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}
    if isinstance(field, params.CommaList):
        return _array({"type": "string"})
    if "any_case" in field.metadata:
        return {"type": "string", "pattern": _any_case(field.metadata["any_case"])}
    for check in field.validators:
        if isinstance(check, validate.OneOf):
            return {"enum": list(check.choices)}
    return {"type": "string"}


def _any_case(words: frozenset[str]) -> str:
    """A pattern for ``words`` in any case (JSON Schema patterns have no flags)."""
    def letters(word: str) -> str:
        return "".join(f"[{c.lower()}{c.upper()}]" if c.isalpha() else c for c in word)

    return "^(" + "|".join(letters(word) for word in sorted(words)) + ")$"


def _array(items: dict) -> dict:
    return {"type": "array", "items": items}


def _choices(names: list[str] | None) -> dict:
    """One of ``names``; any string where they are not known (the generic document)."""
    return {"type": "string"} if names is None else {"enum": names}


def _order_terms(columns: list[str] | None) -> list[str] | None:
    return None if columns is None else [term for c in columns for term in (c, "-" + c)]


def _component_name(table: str) -> str:
    """Component keys must match ^[a-zA-Z0-9.\\-_]+$: other characters become their code."""
    return "table." + "".join(ch if ch.isascii() and (ch.isalnum() or ch in "-_") else
                              f"_{ord(ch):x}_" for ch in table)


def _operation(summary: str, schema: str, *, status: str = "200", body: dict | None = None,
               parameters: list | None = None, statuses: tuple = tuple(ERROR_STATUSES)) -> dict:
    op: dict = {
        "summary": summary,
        "responses": {status: _response("Success", schema)} | {
            code: _response(ERROR_STATUSES[code], "Error") for code in statuses},
    }
    if body is not None:
        op["requestBody"] = {"required": True,
                             "content": {"application/json": {"schema": body}}}
    if parameters:
        op["parameters"] = parameters
    return op


def _text_operation(summary: str, media: str, description: str) -> dict:
    return {"summary": summary, "responses": {"200": _text_response(description, media)}}


def _text_response(description: str, media: str) -> dict:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def _response(description: str, schema: str) -> dict:
    return {"description": description,
            "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}


ENVELOPE = {
    "type": "object",
    "required": ["timestamp", "message", "data", "retry_count"],
    "additionalProperties": False,
    "properties": {
        "timestamp": {"type": "string"},
        "message": {"type": "string"},
        "data": {},
        "retry_count": {"type": "integer", "minimum": 0},
    },
}

ERROR = {
    "type": "object",
    "required": ["timestamp", "error_code", "message", "retry_count", "details"],
    "additionalProperties": False,
    "properties": {
        "timestamp": {"type": "string"},
        "error_code": {"type": "string"},
        "message": {"type": "string"},
        "retry_count": {"type": "integer", "minimum": 0},
        "details": {"type": ["object", "null"]},
    },
}
