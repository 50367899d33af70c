"""Recorded imports, now or in the background (README "Import ledger and background jobs").

Every import but a dry run goes through here: hashed, recorded in the ledger
(``tablegate.ledger``), run by ``imports.run`` and its ending written back. A background import
(``?async=true``, or an upload over ``TABLEGATE_ASYNC_UPLOAD_BYTES``) is first copied to a file
of its own, hashing as it copies, because the request's file is gone once the request has
answered; it then runs on this process's bounded pool of ``TABLEGATE_JOB_THREADS`` threads and
its file is deleted when it ends.

Its state lives in the ledger, not here, so that any gunicorn worker answers
``GET /api/batch/jobs/{id}``. While an import of this process is live, one thread writes its
heartbeat and latest counts once a second: a process that dies stops beating, and its imports
are marked failed by the first process that looks after ``TABLEGATE_JOB_STALE_SECONDS``,
starting with the sweep ``init_app`` starts.
"""
from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from typing import BinaryIO

from flask import Flask, current_app, g

from tablegate import bulk, imports, ledger
from tablegate.config import Config
from tablegate.db import Database, schema
from tablegate.errors import TablegateError, Unavailable

log = logging.getLogger("tablegate.jobs")

#: Seconds between two heartbeats (and progress writes) of the live imports.
BEAT_S = 1.0


class Ticker:
    """One thread per process that beats for every live import of the process, started with
    the first and ending with the last: an idle process runs no thread."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._live: dict[int, bulk.Tally | None] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def add(self, import_id: int) -> None:
        with self._lock:
            self._live[import_id] = None
            if self._thread is None and not self._stop.is_set():
                self._thread = threading.Thread(target=self._beat, name="tablegate-heartbeat",
                                                daemon=True)
                self._thread.start()

    def progress(self, import_id: int) -> Callable[[bulk.Tally], None]:
        """The callback ``imports.run`` calls after each chunk: it keeps a copy of the counts
        for the next beat and writes nothing itself, so a chunk never waits for the ledger."""
        def record(tally: bulk.Tally) -> None:
            snapshot = bulk.Tally(tally.max_errors, tally.inserted, tally.skipped, tally.failed,
                                  list(tally.errors))
            with self._lock:
                if import_id in self._live:
                    self._live[import_id] = snapshot

        return record

    def remove(self, import_id: int) -> None:
        with self._lock:
            self._live.pop(import_id, None)

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            thread = self._thread
        if thread is not None:
            thread.join()

    def _beat(self) -> None:
        while not self._stop.wait(BEAT_S):
            with self._lock:
                if not self._live:
                    self._thread = None
                    return
                batch = dict(self._live)
                self._live.update(dict.fromkeys(batch))
            try:
                ledger.beat(self._db, batch)
            except Exception as exc:  # the next beat tries again; staleness is the backstop
                log.warning("could not write the heartbeat of imports %s: %s",
                            sorted(batch), getattr(exc, "message", type(exc).__name__))


class Jobs:
    """This process's job threads and heartbeat; ``app.extensions["tablegate.jobs"]``."""

    def __init__(self, app: Flask, db: Database) -> None:
        self.app, self.db = app, db
        self.ticker = Ticker(db)
        self._threads = concurrent.futures.ThreadPoolExecutor(
            max_workers=db.config.job_threads, thread_name_prefix="tablegate-job")
        self._sweep = threading.Thread(target=ledger.expire_stale, args=(db.config,),
                                       name="tablegate-ledger-sweep", daemon=True)
        self._sweep.start()

    def run_now(self, options: imports.Options, stream: BinaryIO) -> imports.Outcome:
        """Import on the request's thread; recorded unless it is a dry run."""
        if options.dry_run:
            return imports.run(self.db, options, stream)
        self._require_table(options)
        digest, size = ledger.fingerprint(stream)
        import_id = self._begin(options, digest, size, background=False)
        return self._tracked(import_id, options, stream)

    def submit(self, options: imports.Options, stream: BinaryIO) -> int:
        """Copy the upload, record the job (409, 429) and queue it; its id."""
        self._require_table(options)
        path, digest, size = _spool(stream)
        try:
            import_id = self._begin(options, digest, size, background=True)
        except BaseException:
            _unlink(path)
            raise
        try:
            future = self._threads.submit(self._work, options, path, import_id,
                                          g.get("request_id"))
        except RuntimeError:  # the pool is shut down: the process is stopping
            self._dropped(import_id, path)
            self._end(import_id, ledger.Ending(ledger.FAILED, 503, "The service is stopping",
                                               None))
            raise Unavailable("The service is stopping; send the file again") from None
        future.add_done_callback(lambda done: self._cancelled(done, import_id, path))
        return import_id

    def close(self, wait: bool = True) -> None:
        """Stop taking jobs; ``wait`` lets the running ones finish. Pending ones are dropped,
        and show as failed once their heartbeat is stale."""
        self._threads.shutdown(wait=wait, cancel_futures=True)
        self.ticker.close()
        self._sweep.join()

    def _require_table(self, options: imports.Options) -> None:
        """A table that is missing or not exposed is a 404 before anything is recorded or
        copied, unless the import is to create it (an exposed name, then)."""
        name = options.table
        if not (options.create and self.db.catalog.exposed(name)
                and schema.could_name_a_table(name)):
            self.db.catalog.require(name)

    def _begin(self, options: imports.Options, digest: str, size: int, background: bool) -> int:
        import_id = ledger.begin(self.db, options.table, options.format, options.mode, digest,
                                 size, force=options.force, background=background)
        self.ticker.add(import_id)
        return import_id

    def _work(self, options: imports.Options, path: str, import_id: int,
              request_id: str | None) -> None:
        """A job's thread: the app context carries the uploading request's id into the log."""
        with self.app.app_context():
            g.request_id = request_id
            try:
                self._run_job(options, path, import_id)
            except Exception:
                log.exception("background import %d failed", import_id)
            finally:
                self.ticker.remove(import_id)
                _unlink(path)

    def _run_job(self, options: imports.Options, path: str, import_id: int) -> None:
        try:
            ledger.started(self.db, import_id)
        except TablegateError as exc:
            self._end(import_id, ledger.Ending.of_error(exc))
            return
        with open(path, "rb") as stream, contextlib.suppress(TablegateError):
            self._tracked(import_id, options, stream)  # its ending is in the ledger

    def _tracked(self, import_id: int, options: imports.Options,
                 stream: BinaryIO) -> imports.Outcome:
        try:
            outcome = imports.run(self.db, options, stream, self.ticker.progress(import_id))
        except TablegateError as exc:
            self._end(import_id, ledger.Ending.of_error(exc))
            raise
        except Exception:
            self._end(import_id, ledger.Ending(ledger.FAILED, 500,
                                               TablegateError.message, None))
            raise
        finally:
            self.ticker.remove(import_id)
        self._end(import_id, ledger.Ending(ledger.DONE, outcome.status, outcome.message,
                                           outcome.summary))
        return outcome

    def _end(self, import_id: int, ending: ledger.Ending) -> None:
        """The import's own answer stands even when its ending cannot be written: the row then
        goes stale and is marked failed."""
        try:
            ledger.finish(self.db, import_id, ending)
        except Exception:
            log.exception("could not record the end of import %d", import_id)

    def _cancelled(self, future: concurrent.futures.Future, import_id: int, path: str) -> None:
        """A job that never ran (the pool shut down first): its own thread cleans up
        otherwise."""
        if future.cancelled():
            self._dropped(import_id, path)

    def _dropped(self, import_id: int, path: str) -> None:
        self.ticker.remove(import_id)
        _unlink(path)


def init_app(app: Flask, config: Config) -> None:
    """After ``db.init_app``. Starts the sweep for imports cut off by a stopped process, on a
    thread with a connection of its own: start-up itself still opens no connection."""
    app.extensions["tablegate.jobs"] = Jobs(app, app.extensions["tablegate"])


def jobs() -> Jobs:
    return current_app.extensions["tablegate.jobs"]


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
    digest, size = hashlib.sha256(), 0
    with tempfile.NamedTemporaryFile(prefix="tablegate-import-", suffix=".upload",
                                     delete=False) as copy:
        try:
            for block in iter(lambda: stream.read(ledger.BLOCK_SIZE), b""):
                digest.update(block)
                size += len(block)
                copy.write(block)
        except BaseException:
            _unlink(copy.name)
            raise
    return copy.name, digest.hexdigest(), size


def _unlink(path: str) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
