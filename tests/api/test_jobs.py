"""Background imports (issue 7, item 4): 202 and a job to poll, progress while it runs, state
in the ledger for every worker, jobs cut off by a stopped process marked failed, the limit on
concurrent jobs, automatic background above a size, hostile ids and the keys' scopes."""
from __future__ import annotations

import io
import tempfile
import threading
import time

import pytest

from tablegate.batch import ledger
from tablegate.api.auth import hash_line
from tablegate.config import Config
from tests.conftest import admin_connect, assert_envelope_error, assert_envelope_success

LEDGER = Config().ledger_table
MIXED_CSV = (b"name,email,age\n"
             b"Ann,ann@x.io,30\n"
             b"Bad,bad@x.io,old\n"
             b"Ben,ben@x.io\n"
             b"Cid,cid@x.io,41\n")
MIXED_SUMMARY = {
    "table": "users", "rows_total": 4, "rows_inserted": 2, "rows_skipped": 0, "rows_failed": 2,
    "errors": [{"row": 2, "error_code": "1366", "message": "Value rejected by the database: "
                "Incorrect integer value: 'old' for column `users`.`age`"},
               {"row": 3, "error_code": "400", "message": "Row has 2 fields, the header has 3"}]}
DEADLINE_S = 15


def upload(client, data: bytes, filename: str = "users.csv", query: str = "", headers=None):
    return client.post(f"/api/batch/import{query}", data={"file": (io.BytesIO(data), filename)},
                       content_type="multipart/form-data", headers=headers)


def accepted(response) -> int:
    body = assert_envelope_success(response, 202)
    job_id = body["data"]["job_id"]
    assert body["data"] == {"job_id": job_id, "state": "pending"}
    assert body["message"] == f"Import accepted as job {job_id}"
    assert response.headers["Location"] == f"/api/batch/jobs/{job_id}"
    return job_id


def job(client, job_id: int, headers=None) -> dict:
    body = assert_envelope_success(client.get(f"/api/batch/jobs/{job_id}", headers=headers))
    assert body["message"] == "Import job retrieved successfully"
    return body["data"]


def wait_for(client, job_id: int, until, headers=None) -> dict:
    """Poll the job until ``until(job)`` holds; fails at the deadline with the last state."""
    deadline = time.monotonic() + DEADLINE_S
    while True:
        seen = job(client, job_id, headers)
        if until(seen):
            return seen
        assert time.monotonic() < deadline, seen
        time.sleep(0.05)


def ended(seen: dict) -> bool:
    return seen["state"] in ("done", "failed")


def wait_in_sql(sql, statement: str, expected) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while (found := sql(statement)) != expected:
        assert time.monotonic() < deadline, found
        time.sleep(0.05)


def users(sql) -> tuple:
    return sql("SELECT name, email, age FROM users ORDER BY id")


def live_row(sql, *, state: str = "running", table: str = "users", age_s: int = 0,
             background: bool = True) -> int:
    """A ledger row as another worker's job leaves it, its heartbeat ``age_s`` old."""
    sql(ledger.DDL.format(table=LEDGER))
    sql(f"INSERT INTO {LEDGER} (sha256, table_name, format, mode, background, state, "
        "size_bytes, created_at, started_at, heartbeat_at) VALUES (%s, %s, 'csv', 'insert', "
        "%s, %s, 10, NOW(6), NOW(6), NOW(6) - INTERVAL %s SECOND)",
        ("0" * 64, table, background, state, age_s))
    return sql("SELECT LAST_INSERT_ID()")[0][0]


@pytest.fixture
def job_dir(monkeypatch, tmp_path):
    """The jobs' copies of their uploads go here, so a test can see them deleted."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


# --- a job from start to end ------------------------------------------------------------

def test_async_import_is_202_then_done_with_the_summary_a_synchronous_import_gives(
        client, sql, job_dir):
    job_id = accepted(upload(client, MIXED_CSV, query="?async=true"))
    done = wait_for(client, job_id, ended)
    assert done["state"] == "done"
    assert (done["status"], done["message"]) == (207, "CSV partly imported: 2 rows failed")
    assert done["result"] == MIXED_SUMMARY
    assert (done["rows_processed"], done["rows_inserted"], done["rows_skipped"],
            done["rows_failed"]) == (4, 2, 0, 2)
    assert done["errors"] == MIXED_SUMMARY["errors"]
    assert (done["id"], done["table"], done["format"], done["mode"], done["background"]) == (
        job_id, "users", "csv", "insert", True)
    assert done["bytes"] == len(MIXED_CSV)
    assert done["created_at"] <= done["started_at"] <= done["finished_at"]
    assert done["rows_per_second"] > 0
    assert users(sql) == (("Ann", "ann@x.io", 30), ("Cid", "cid@x.io", 41))  # exactly once
    assert list(job_dir.iterdir()) == []  # the job's copy is gone

    sql("DELETE FROM users")
    synchronous = assert_envelope_success(upload(client, MIXED_CSV, query="?force=true"), 207)
    assert synchronous["data"] == done["result"]
    assert synchronous["message"] == done["message"]


def test_a_failed_job_shows_the_error_envelopes_message_and_status(client, sql, job_dir):
    job_id = accepted(upload(client, b"name,age\na,x\nb,y\n", query="?async=true"))
    failed = wait_for(client, job_id, ended)
    assert (failed["state"], failed["status"]) == ("failed", 422)
    assert failed["message"] == "Nothing imported: every row failed"
    assert failed["result"]["rows_failed"] == 2
    assert [e["row"] for e in failed["result"]["errors"]] == [1, 2]

    job_id = accepted(upload(client, b"name,nickname\nKim,K\n", query="?async=true"))
    failed = wait_for(client, job_id, ended)
    assert (failed["state"], failed["status"], failed["result"]) == (
        "failed", 400, {"column": "nickname"})
    assert failed["message"] == "Unknown column 'nickname' in table 'users'"
    assert users(sql) == ()
    assert list(job_dir.iterdir()) == []


def test_a_job_is_refused_like_an_import_before_it_is_queued(client, sql, job_dir):
    """409 for the same file, 404 for a missing table: nothing queued, nothing copied."""
    assert_envelope_success(upload(client, MIXED_CSV), 207)
    body = assert_envelope_error(upload(client, MIXED_CSV, query="?async=true"), 409)
    assert body["details"]["state"] == "done"
    assert_envelope_error(upload(client, MIXED_CSV, "nosuch.csv", "?async=true"), 404)
    assert_envelope_error(upload(client, MIXED_CSV, query="?async=soon"), 400)
    assert sql(f"SELECT COUNT(*) FROM {LEDGER}") == ((1,),)
    assert list(job_dir.iterdir()) == []


def test_a_job_running_blocks_the_same_file(client, sql):
    running = live_row(sql)
    sql(f"UPDATE {LEDGER} SET sha256 = SHA2(%s, 256) WHERE id = %s", (MIXED_CSV, running))
    body = assert_envelope_error(upload(client, MIXED_CSV), 409)
    assert (body["details"]["import_id"], body["details"]["state"]) == (running, "running")
    assert "is being imported" in body["message"]


# --- progress, and the state seen from anywhere ------------------------------------------

def test_progress_is_visible_while_the_job_runs(make_app, sql):
    """The third chunk waits on a row lock held here; the first two are committed and show,
    with the error of the first chunk, before the job goes on."""
    app = make_app(import_chunk_rows=10, retry_timeouts_ms=(1000, 2000, 4000, 8000),
                   retry_waits_ms=(50, 50, 50))
    client = app.test_client()
    lines = [b"id,name"] + [b"%d,u%d" % (n, n) for n in range(1, 51)]
    lines[3] = b"3"  # row 3: too few fields
    sql("BEGIN")
    sql("INSERT INTO users (id, name) VALUES (25, 'holder')")  # uncommitted: rows 21-30 wait
    try:
        job_id = accepted(upload(client, b"\n".join(lines), query="?async=true"))
        midway = wait_for(client, job_id, lambda seen: seen["rows_processed"] == 20)
        assert midway["state"] == "running"
        assert (midway["rows_inserted"], midway["rows_failed"]) == (19, 1)
        assert [e["row"] for e in midway["errors"]] == [3]
        assert midway["result"] is None and midway["finished_at"] is None
        assert midway["rows_per_second"] > 0
        other_worker = make_app().test_client()
        assert job(other_worker, job_id)["rows_processed"] == 20
    finally:
        sql("ROLLBACK")
    done = wait_for(client, job_id, ended)
    assert (done["state"], done["status"], done["rows_inserted"], done["rows_failed"]) == (
        "done", 207, 49, 1)
    assert sql("SELECT COUNT(*), COUNT(DISTINCT id) FROM users") == ((49, 49),)


def test_another_worker_sees_the_same_job(make_app, sql):
    first, second = make_app().test_client(), make_app().test_client()
    job_id = accepted(upload(first, MIXED_CSV, query="?async=true"))
    done = wait_for(second, job_id, ended)
    assert done == job(first, job_id)
    assert done["result"] == MIXED_SUMMARY


def test_a_synchronous_import_can_be_read_as_a_job_too(client, sql):
    body = assert_envelope_success(upload(client, MIXED_CSV), 207)
    [(import_id,)] = sql(f"SELECT id FROM {LEDGER}")
    seen = job(client, import_id)
    assert (seen["state"], seen["background"], seen["result"]) == ("done", False, body["data"])


# --- jobs cut off by a stopped process ---------------------------------------------------

def test_a_job_without_a_heartbeat_is_failed_at_the_next_start(make_app, sql):
    stale = live_row(sql, age_s=3600)
    pending = live_row(sql, state="pending", age_s=3600)
    alive = live_row(sql)
    make_app()
    query = f"SELECT id, state, status_code FROM {LEDGER} ORDER BY id"
    wait_in_sql(sql, query, ((stale, "failed", 503), (pending, "failed", 503),
                             (alive, "running", None)))
    assert sql(f"SELECT message FROM {LEDGER} WHERE id = %s", (stale,)) == ((ledger.CUT_OFF,),)


def test_a_job_without_a_heartbeat_is_failed_when_it_is_read(client, sql):
    job_id = live_row(sql, age_s=3)
    assert job(client, job_id)["state"] == "running"  # within TABLEGATE_JOB_STALE_SECONDS
    sql(f"UPDATE {LEDGER} SET heartbeat_at = NOW(6) - INTERVAL 31 SECOND WHERE id = %s",
        (job_id,))
    seen = job(client, job_id)
    assert (seen["state"], seen["status"], seen["message"]) == ("failed", 503, ledger.CUT_OFF)
    assert seen["finished_at"] is not None


def test_a_job_dropped_by_a_stopping_process_is_failed_at_the_next_start(make_app, sql):
    """The process stops while a job waits: it never runs, and nobody beats for it."""
    app = make_app(job_threads=1, job_stale_seconds=3)
    client = app.test_client()
    sql("LOCK TABLES users WRITE")  # the first job waits on it, the second in the queue
    try:
        first = accepted(upload(client, b"name\nfirst\n", query="?async=true"))
        second = accepted(upload(client, b"name\nsecond\n", query="?async=true"))
        assert job(client, second)["state"] == "pending"
        app.extensions["tablegate.jobs"].close(wait=False)
    finally:
        sql("UNLOCK TABLES")
    wait_for(client, first, ended)
    wait_in_sql(sql, f"SELECT heartbeat_at < NOW(6) - INTERVAL 3 SECOND FROM {LEDGER} "
                     f"WHERE id = {second}", ((1,),))  # nobody beats for it any more
    make_app(job_stale_seconds=3)
    wait_in_sql(sql, f"SELECT state, message FROM {LEDGER} WHERE id = {second}",
                (("failed", ledger.CUT_OFF),))
    assert sql("SELECT name FROM users") == (("first",),)


# --- limits and automatic background ------------------------------------------------------

def test_429_beyond_the_jobs_limit_counting_every_workers_jobs(make_client, sql, job_dir):
    client = make_client(max_jobs=2)
    live_row(sql)
    live_row(sql, state="pending")
    live_row(sql, age_s=3600)  # cut off: does not count
    live_row(sql, background=False)  # a synchronous import: not a job
    response = upload(client, MIXED_CSV, query="?async=true")
    body = assert_envelope_error(response, 429)
    assert body["details"] == {"max_jobs": 2}
    assert body["message"] == ("Too many background imports: at most 2 run at once; "
                               "try again later")
    assert response.headers["Retry-After"] == str(ledger.RETRY_AFTER_S)
    assert list(job_dir.iterdir()) == []
    assert sql(f"SELECT COUNT(*) FROM {LEDGER}") == ((4,),)
    # A synchronous import is not limited.
    assert_envelope_success(upload(client, MIXED_CSV), 207)


def test_the_jobs_limit_holds_for_uploads_racing_on_two_workers(make_app, sql,
                                                                 database_name):
    """Six uploads on two apps are held at the ledger by a table lock and let go at once: the
    count and the new row are made under GET_LOCK, so exactly two become jobs. The jobs then
    wait on a lock of the users table, so none ends before the others are counted."""
    settings = dict(max_jobs=2, retry_timeouts_ms=(5000,), retry_waits_ms=())
    workers = [make_app(**settings), make_app(**settings)]
    answers: list[int] = []

    def send(number: int) -> None:
        client = workers[number % 2].test_client()
        response = upload(client, b"name\nracer%d\n" % number, query="?async=true")
        answers.append(response.status_code)

    sql(ledger.DDL.format(table=LEDGER))
    sql("LOCK TABLES users WRITE")
    gate = admin_connect(database_name)
    try:
        gate.cursor().execute(f"LOCK TABLES {LEDGER} WRITE")
        threads = [threading.Thread(target=send, args=(n,)) for n in range(6)]
        for thread in threads:
            thread.start()
        wait_in_sql(sql, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE DB = %s "
                         "AND STATE LIKE 'Waiting for table%%'" % repr(database_name), ((6,),))
        gate.cursor().execute("UNLOCK TABLES")
        for thread in threads:
            thread.join()
    finally:
        gate.close()
        sql("UNLOCK TABLES")
    assert sorted(answers) == [202, 202, 429, 429, 429, 429]
    client = workers[0].test_client()
    for (job_id,) in sql(f"SELECT id FROM {LEDGER}"):
        assert wait_for(client, job_id, ended)["state"] == "done"
    assert sql("SELECT COUNT(*) FROM users") == ((2,),)


def test_uploads_over_the_size_run_in_the_background(make_client, sql):
    client = make_client(async_upload_bytes=len(MIXED_CSV) - 1)
    job_id = accepted(upload(client, MIXED_CSV))
    assert wait_for(client, job_id, ended)["result"] == MIXED_SUMMARY
    small = b"name\nsmall\n"
    assert_envelope_success(upload(client, small))
    sql("DELETE FROM users")
    body = assert_envelope_success(upload(client, MIXED_CSV, query="?async=false&force=true"),
                                   207)
    assert body["data"] == MIXED_SUMMARY


# --- ids and keys -------------------------------------------------------------------------

@pytest.mark.parametrize("job_id", [
    "999999", "0", "-1", "1.0", "01", "1e3", "abc", "%20%31", "1%00", "%D9%A1",
    "99999999999999999999999999", "1%3B%20DROP%20TABLE%20users", "1%27%20OR%20%271%27=%271",
    "%E2%80%AE1", "x" * 300])
def test_an_unknown_or_hostile_job_id_is_404(client, sql, job_id):
    assert_envelope_success(upload(client, b"name\nkept\n"))
    body = assert_envelope_error(client.get(f"/api/batch/jobs/{job_id}"), 404)
    assert body["message"] == "Import job not found"
    assert users(sql) == (("kept", None, None),)


def test_an_unknown_job_is_404_before_any_import_was_recorded(client):
    body = assert_envelope_error(client.get("/api/batch/jobs/1"), 404)
    assert body["message"] == "Import job not found"


KEYS = {"users-r": "users:r", "users-w": "users:w", "kinds-rw": "kinds:rw", "all-r": "*:r"}


def test_a_job_is_read_with_a_key_that_has_a_right_on_its_table(make_client, sql):
    client = make_client(api_keys=";".join(f"{hash_line(key)}={scopes}"
                                           for key, scopes in KEYS.items()))
    job_id = accepted(upload(client, MIXED_CSV, query="?async=true",
                             headers={"X-API-Key": "users-w"}))
    done = wait_for(client, job_id, ended, {"X-API-Key": "users-w"})
    assert done["result"] == MIXED_SUMMARY
    for key in ("users-r", "all-r"):
        assert job(client, job_id, {"X-API-Key": key}) == done
    path = f"/api/batch/jobs/{job_id}"
    hidden = assert_envelope_error(client.get(path, headers={"X-API-Key": "kinds-rw"}), 404)
    assert hidden["message"] == "Import job not found"
    assert_envelope_error(client.get(path), 401)
    assert_envelope_error(client.get(path, headers={"X-API-Key": "wrong"}), 401)
    assert_envelope_error(client.get("/api/batch/jobs/abc"), 401)  # the key comes first


def test_a_job_needs_the_write_right_to_start(make_client, sql):
    client = make_client(api_keys=f"{hash_line('users-r')}=users:r")
    assert_envelope_error(upload(client, MIXED_CSV, query="?async=true",
                                 headers={"X-API-Key": "users-r"}), 403)
    assert sql(f"SHOW TABLES LIKE '{LEDGER}'") == ()


def test_no_job_thread_or_copy_outlives_its_job(make_app, sql, job_dir):
    app = make_app()
    client = app.test_client()
    job_id = accepted(upload(client, MIXED_CSV, query="?async=true"))
    wait_for(client, job_id, ended)
    app.extensions["tablegate.jobs"].close()
    app.extensions["tablegate.importer"].close()  # the heartbeat is the importer's
    assert list(job_dir.iterdir()) == []
    assert [thread.name for thread in threading.enumerate()
            if thread.name.startswith(("tablegate-job", "tablegate-heartbeat"))] == []


def test_a_dry_run_is_never_a_job(make_client, sql):
    client = make_client(async_upload_bytes=10)
    body = assert_envelope_error(upload(client, MIXED_CSV, query="?dry_run=true&async=true"),
                                 400)
    assert body["details"] == {"parameter": "async"}
    body = assert_envelope_success(upload(client, MIXED_CSV, query="?dry_run=true"), 207)
    assert body["data"]["dry_run"] is True
    assert users(sql) == ()
    assert sql(f"SHOW TABLES LIKE '{LEDGER}'") == ()


def test_a_job_sent_to_a_stopping_process_is_503_and_recorded_failed(make_app, sql, job_dir):
    app = make_app()
    app.extensions["tablegate.jobs"].close()
    body = assert_envelope_error(upload(app.test_client(), MIXED_CSV, query="?async=true"), 503)
    assert body["message"] == "The service is stopping; send the file again"
    assert sql(f"SELECT state, status_code, message FROM {LEDGER}") == (
        ("failed", 503, "The service is stopping"),)
    assert list(job_dir.iterdir()) == []
    assert users(sql) == ()
