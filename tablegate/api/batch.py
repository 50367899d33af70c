"""Import and export (CONTRACT.md "Batch"). The views only read the request and shape the
response: the import is ``batch.importer``'s (or ``batch.jobs``' in the background), the rows
out are ``batch.export``'s."""
from __future__ import annotations

import re
import unicodedata
from urllib.parse import quote

from flask import Blueprint, Response, current_app, g, request, stream_with_context, url_for
from werkzeug.datastructures import FileStorage

from tablegate import formats, gateway, names
from tablegate.api import auth, envelope, params
from tablegate.batch import export, importer, jobs, ledger
from tablegate.db import sql
from tablegate.errors import BadRequest, NotFound, UnsupportedMediaType

bp = Blueprint("batch", __name__, url_prefix="/api")

# MySQL's own "no limit", for an offset without a limit.
NO_LIMIT = 2**64 - 1

# Ledger ids are BIGINT UNSIGNED; anything else names no job and never reaches the database.
JOB_ID = re.compile(r"[1-9][0-9]{0,18}")


@bp.post("/batch/import")
def import_file():
    db = gateway.current()
    request.max_content_length = db.config.max_upload_bytes  # the JSON limit is far smaller
    upload = _upload()
    options = _options(upload, params.load(params.IMPORT, request.args))
    if options.background:
        job_id = current_app.extensions["tablegate.jobs"].submit(options, upload.stream)
        response = envelope.success(f"Import accepted as job {job_id}",
                                    {"job_id": job_id, "state": ledger.PENDING}, 202)
        response.headers["Location"] = url_for("batch.job", job_id=job_id)
        return response
    outcome = current_app.extensions["tablegate.importer"].run_now(options, upload.stream)
    return envelope.success(outcome.message, outcome.summary, outcome.status)


@bp.get("/batch/jobs/<job_id>")
def job(job_id: str):
    """Any recorded import, background or not. The key needs a right on the job's table, as
    discovery does (``w`` suffices: whoever may import may follow the import); without one the
    job answers as missing, so its existence says nothing about other tables."""
    found = ledger.read(gateway.current(), int(job_id)) if JOB_ID.fullmatch(job_id) else None
    if found is None or not auth.visible({found["table"]: found}):
        raise NotFound("Import job not found")
    return envelope.success("Import job retrieved successfully", found)


@bp.get("/batch/<table>/export")
@bp.get("/<table>/export")
def export_csv(table: str):
    args = params.load(params.EXPORT, request.args)
    filters = params.filters(request.args)
    limit, offset = args["limit"], args["offset"]
    if limit is None and offset:
        limit = NO_LIMIT
    db = gateway.current()
    reflected, (statement, query_params) = db.prepare(
        table, lambda t: sql.build_select(t, filters, args["columns"], args["order_by"], limit,
                                          offset))
    names_out = args["columns"] or reflected.visible
    opened = export.open_export(db, reflected, statement, query_params)
    response = Response(stream_with_context(export.csv_chunks(opened, reflected, names_out)),
                        mimetype="text/csv")
    response.call_on_close(opened.close)  # also when the body is never iterated
    response.headers["Content-Disposition"] = _attachment(f"{reflected.name}.csv")
    return response


def _upload() -> FileStorage:
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send the file as multipart/form-data in the field 'file'")
    upload = request.files.get("file")  # parsing spools a large file to disk, not to memory
    if upload is None:
        raise BadRequest("The multipart field 'file' is missing")
    return upload


def _options(upload: FileStorage, args: dict) -> importer.Options:
    """The import's options from its arguments and the file: its format (from ?format=, the
    extension or the content type), the sheet, the table, and whether it runs in the
    background (a dry run writes nothing and is answered at once, so it never does)."""
    fmt = formats.detect(upload.filename, upload.mimetype, args.get("format"))
    if args.get("sheet") is not None and fmt != "xlsx":
        raise BadRequest("?sheet= names a worksheet of an XLSX file, and this is "
                         f"{formats.FORMATS[fmt].label}", {"parameter": "sheet"})
    if args.get("null") and not formats.FORMATS[fmt].text_cells:
        raise BadRequest(f"?null= names the cell text that means NULL; "
                         f"{formats.FORMATS[fmt].label} has null of its own: leave it out",
                         {"parameter": "null"})
    table = g.table = params.import_table(request.args, upload)
    if args["create"]:  # no table can have a name MariaDB refuses: a 400 that says why, not 404
        names.check(table, "table")
    dedupe = args.get("dedupe") == "key"
    return importer.Options(
        table=table, mode=args.get("mode", "ignore" if dedupe else "insert"),
        atomic=args["atomic"], format=fmt, sheet=args.get("sheet"), create=args["create"],
        key=args.get("key"), dry_run=args["dry_run"], force=args["force"], dedupe=dedupe,
        null=args.get("null") or None,
        background=not args["dry_run"] and jobs.in_background(
            upload.stream, gateway.current().config, args["background"]))


def _attachment(filename: str) -> str:
    """``attachment; filename="users.csv"``; a name that is not plain printable ASCII also gets
    an RFC 5987 ``filename*`` and a fallback with the odd characters replaced, so that no table
    name (quotes, newlines, unicode) can break the header."""
    ascii_name = unicodedata.normalize("NFKD", filename).encode("ascii", "ignore").decode()
    fallback = "".join(c if c.isprintable() and c not in '"\\' else "_" for c in ascii_name)
    value = f'attachment; filename="{fallback}"'
    if fallback != filename:
        value += f"; filename*=UTF-8''{quote(filename, safe='')}"
    return value
