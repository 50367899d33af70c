"""Imports in the background (docs/import-export.md): ``?async=true``, or an
upload over ``TABLEGATE_ASYNC_UPLOAD_BYTES``. An import that runs now does not pass through here.

A job's upload is first copied to a file of its own, hashing as it copies, because the request's
file is gone once the request has answered; it then runs on this process's bounded pool of
``TABLEGATE_JOB_THREADS`` threads, recorded and beating through the ``Importer`` like any
recorded import, and its file is deleted when it ends. Its state lives in the ledger, not here,
so that any gunicorn worker answers ``GET /api/batch/jobs/{id}``.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import logging
import os
import tempfile
from typing import BinaryIO

from tablegate import logs
from tablegate.batch import ledger
from tablegate.batch.importer import Importer, Options
from tablegate.config import Config
from tablegate.errors import TablegateError, Unavailable

log = logging.getLogger("tablegate.jobs")


class Jobs:
    """This process's job threads: ``app.extensions["tablegate.jobs"]``."""

    def __init__(self, importer: Importer, config: Config) -> None:
        self.importer = importer
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=config.job_threads, thread_name_prefix="tablegate-job")

    def submit(self, options: Options, stream: BinaryIO) -> int:
        """Copy the upload, record the job (409, 429) and queue it; its id. Raises
        Unavailable (503) when the process is stopping."""
        self.importer.require_table(options)
        path, digest, size = _spool(stream)
        try:
            import_id = self.importer.begin(options, digest, size, background=True)
        except BaseException:
            _unlink(path)
            raise
        try:
            future = self._threads.submit(self._work, options, path, import_id,
                                          logs.REQUEST_ID.get())
        except RuntimeError:  # the pool is shut down: the process is stopping
            self._dropped(import_id, path)
            self.importer.end(import_id, ledger.Ending(ledger.FAILED, 503,
                                                       "The service is stopping", None))
            raise Unavailable("The service is stopping; send the file again") from None
        future.add_done_callback(lambda done: self._cancelled(done, import_id, path))
        return import_id

    def close(self, wait: bool = True) -> None:
        """Stop taking jobs; ``wait`` lets the running ones finish. Pending ones are dropped,
        and show as failed once their heartbeat is stale."""
        self._threads.shutdown(wait=wait, cancel_futures=True)

    def _work(self, options: Options, path: str, import_id: int, request_id: str) -> None:
        """A job's thread: its log lines carry the uploading request's id."""
        logs.REQUEST_ID.set(request_id)
        try:
            self._run_job(options, path, import_id)
        except Exception:
            log.exception("background import %d failed", import_id)
        finally:
            self.importer.heartbeat.remove(import_id)
            _unlink(path)

    def _run_job(self, options: Options, path: str, import_id: int) -> None:
        db = self.importer.db
        try:
            ledger.started(db, import_id)
        except TablegateError as exc:
            self.importer.end(import_id, ledger.Ending.of_error(exc))
            return
        with open(path, "rb") as stream, contextlib.suppress(TablegateError):
            self.importer.track(import_id, options, stream)  # its ending is in the ledger

    def _cancelled(self, future: concurrent.futures.Future, import_id: int, path: str) -> None:
        """A job that never ran (the pool shut down first): its own thread cleans up
        otherwise."""
        if future.cancelled():
            self._dropped(import_id, path)

    def _dropped(self, import_id: int, path: str) -> None:
        self.importer.heartbeat.remove(import_id)
        _unlink(path)


def in_background(stream: BinaryIO, config: Config, asked: bool | None) -> bool:
    """``?async=`` when given, else whether the upload is over ``TABLEGATE_ASYNC_UPLOAD_BYTES``
    (the request's file is spooled already: its size is known without reading it)."""
    if asked is not None:
        return asked
    size = stream.seek(0, os.SEEK_END)
    stream.seek(0)
    return size > config.async_upload_bytes


def _spool(stream: BinaryIO) -> tuple[str, str, int]:
    """Copy the upload to a file of the job's own, hashing as it copies: (path, SHA-256, size)."""
    with tempfile.NamedTemporaryFile(prefix="tablegate-import-", suffix=".upload",
                                     delete=False) as copy:
        try:
            digest, size = ledger.fingerprint(stream, copy)
        except BaseException:
            _unlink(copy.name)
            raise
    return copy.name, digest, size


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
