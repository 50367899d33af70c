"""CSV import and export (CONTRACT.md "Batch"). The views only read the request and shape the
response; CSV lives in ``tablegate.csvio``, the database side in ``tablegate.bulk``."""
from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from urllib.parse import quote

from flask import Blueprint, Response, request, stream_with_context, url_for
from werkzeug.datastructures import FileStorage

from tablegate import auth, bulk, csvio, formats, imports, infer, jobs, ledger, metrics
from tablegate.api import envelope, querystring
from tablegate.api.bodies import UnsupportedMediaType
from tablegate.config import Config
from tablegate.db import database, sql
from tablegate.errors import BadRequest, NotFound

bp = Blueprint("batch", __name__, url_prefix="/api")

# MySQL's own "no limit", for an offset without a limit.
NO_LIMIT = 2**64 - 1

FLAGS = {"true": True, "1": True, "false": False, "0": False}

# Ledger ids are BIGINT UNSIGNED; anything else names no job and never reaches the database.
JOB_ID = re.compile(r"[1-9][0-9]{0,18}")


@bp.post("/batch/import")
def import_file():
    db = database()
    request.max_content_length = db.config.max_upload_bytes  # the JSON limit is far smaller
    upload = _upload()
    dedupe, file_options = _dedupe(), _file_options(upload)
    options = imports.Options(
        table=_table_name(upload), mode=_mode(dedupe), atomic=_flag("atomic"),
        force=_flag("force"), dedupe=dedupe,
        background=_background(upload, db.config, file_options["dry_run"]), **file_options)
    if options.background:
        job_id = jobs.jobs().submit(options, upload.stream)
        response = envelope.success(f"Import accepted as job {job_id}",
                                    {"job_id": job_id, "state": ledger.PENDING}, 202)
        response.headers["Location"] = url_for("batch.job", job_id=job_id)
        return response
    outcome = jobs.jobs().run_now(options, upload.stream)
    return envelope.success(outcome.message, outcome.summary, outcome.status)


@bp.get("/batch/jobs/<job_id>")
def job(job_id: str):
    """Any recorded import, background or not. The key needs a right on the job's table, as
    discovery does (``w`` suffices: whoever may import may follow the import); without one the
    job answers as missing, so its existence says nothing about other tables."""
    found = ledger.read(database(), int(job_id)) if JOB_ID.fullmatch(job_id) else None
    if found is None or not auth.visible({found["table"]: found}):
        raise NotFound("Import job not found")
    return envelope.success("Import job retrieved successfully", found)


@bp.get("/batch/<table>/export")
@bp.get("/<table>/export")
def export_csv(table: str):
    filters = querystring.filters()
    columns, order_by = querystring.split("columns"), querystring.split("order_by")
    limit, offset = querystring.whole_number("limit"), querystring.whole_number("offset") or 0
    if limit is None and offset:
        limit = NO_LIMIT
    db = database()
    reflected, (statement, params) = db.prepare(
        table, lambda t: sql.build_select(t, filters, columns, order_by, limit, offset))
    names = columns or list(reflected.columns)
    export = bulk.open_export(db, reflected, statement, params)
    encoder = csvio.CsvEncoder(bulk.export_converters(reflected, names))
    response = Response(stream_with_context(_stream(export, encoder, names)),
                        mimetype="text/csv")
    response.call_on_close(export.close)  # also when the body is never iterated
    response.headers["Content-Disposition"] = _attachment(f"{reflected.name}.csv")
    return response


def _stream(export: bulk.Export, encoder: csvio.CsvEncoder, names: list[str]) -> Iterator[bytes]:
    """An error here propagates: the server then drops the connection without the final chunk,
    so the client sees a broken transfer, never a CSV that looks complete and is not."""
    try:
        yield encoder.header(names)
        for batch in export.batches():
            yield encoder.encode(batch)
            metrics.ROWS_EXPORTED.inc(len(batch))
    finally:
        export.close()


def _upload() -> FileStorage:
    if request.mimetype != "multipart/form-data":
        raise UnsupportedMediaType("Send the CSV as multipart/form-data in the field 'file'")
    upload = request.files.get("file")  # parsing spools a large file to disk, not to memory
    if upload is None:
        raise BadRequest("The multipart field 'file' is missing")
    return upload


def _table_name(upload: FileStorage) -> str:
    """``?table=``, else the file name without its extension, compared as is with reflected
    names: no path or character is stripped, so ``../users.csv`` names no table."""
    name = request.args.get("table")
    if name is None:
        stem, dot, _ = (upload.filename or "").rpartition(".")
        name = stem if dot else upload.filename
    if not name:
        raise BadRequest("Name the table with ?table= or with the file name")
    return name


def _file_options(upload: FileStorage) -> dict:
    """The options about the file itself: its format (README "Other formats"), the sheet, and
    creating the table from it."""
    fmt = formats.detect(upload.filename, upload.mimetype, request.args.get("format"))
    sheet = request.args.get("sheet")
    if sheet is not None and fmt != "xlsx":
        raise BadRequest("?sheet= names a worksheet of an XLSX file, and this is "
                         f"{formats.LABELS[fmt]}", {"parameter": "sheet"})
    create, key = _flag("create"), request.args.get("key")
    if key is not None and not create:
        raise BadRequest("?key= names the key of a table made with ?create=true",
                         {"parameter": "key"})
    if create:  # no table can have a name MariaDB refuses: a 400 that says why, not a 404
        infer.check_name(_table_name(upload), "table")
    return {"format": fmt, "sheet": sheet, "create": create, "key": key,
            "dry_run": _flag("dry_run")}


def _mode(dedupe: bool) -> str:
    """``?dedupe=key`` skips rows whose key exists, which is ``ignore`` mode; with a mode that
    says otherwise for such rows (an error, an update) it is a contradiction."""
    mode = request.args.get("mode", "ignore" if dedupe else "insert")
    if mode not in bulk.MODES:
        raise BadRequest(f"Unknown mode {mode!r}: use one of {', '.join(bulk.MODES)}",
                         {"parameter": "mode"})
    if dedupe and mode != "ignore":
        raise BadRequest(f"?dedupe=key skips rows whose key exists; mode {mode!r} does not: "
                         "leave mode out or use mode=ignore", {"parameter": "dedupe"})
    return mode


def _background(upload: FileStorage, config: Config, dry_run: bool) -> bool:
    """A dry run writes nothing and is answered at once, so it is never a job."""
    asked = _optional_flag("async")
    if dry_run and asked:
        raise BadRequest("A dry run is answered at once: leave out ?async=true",
                         {"parameter": "async"})
    return not dry_run and jobs.in_background(upload.stream, config, asked)


def _dedupe() -> bool:
    dedupe = request.args.get("dedupe")
    if dedupe not in (None, "key"):
        raise BadRequest("Query parameter 'dedupe' takes 'key'", {"parameter": "dedupe"})
    return dedupe == "key"


def _flag(name: str) -> bool:
    return bool(_optional_flag(name))


def _optional_flag(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    if raw.lower() not in FLAGS:
        raise BadRequest(f"Query parameter {name!r} must be true or false", {"parameter": name})
    return FLAGS[raw.lower()]


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
