"""Operations: CORS, readiness, metrics and the JSON request log (issue 6, items 3 to 6)."""
from __future__ import annotations

import dataclasses
import io
import json
import threading
import time

from prometheus_client import REGISTRY

from tablegate import create_app
from tablegate.api.auth import hash_line
from tests.conftest import (admin_connect, assert_envelope_error, assert_envelope_success,
                            make_config)

ORIGIN = "https://app.example"


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# --- CORS ---------------------------------------------------------------------------------

def test_no_cors_headers_unless_configured(client):
    response = client.get("/api/users/query", headers={"Origin": ORIGIN})
    assert response.status_code == 200
    assert not any(h.lower().startswith("access-control-") for h in response.headers.keys())


def test_cors_for_configured_origins_only(make_app):
    client = make_app(cors_origins=(ORIGIN,)).test_client()
    response = client.get("/api/users/query", headers={"Origin": ORIGIN})
    assert response.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "X-Request-ID" in response.headers["Access-Control-Expose-Headers"]
    other = client.get("/api/users/query", headers={"Origin": "https://evil.example"})
    assert "Access-Control-Allow-Origin" not in other.headers


def test_cors_preflight_needs_no_key_but_the_request_does(make_app):
    client = make_app(cors_origins=(ORIGIN,),
                      api_keys=f"{hash_line('k')}=*:rw").test_client()
    preflight = client.options("/api/users", headers={
        "Origin": ORIGIN, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "X-API-Key, Content-Type"})
    assert preflight.status_code == 200
    assert preflight.headers["Access-Control-Allow-Origin"] == ORIGIN
    assert "x-api-key" in preflight.headers["Access-Control-Allow-Headers"].lower()
    denied = client.post("/api/users", json={"input": {"name": "x"}}, headers={"Origin": ORIGIN})
    assert_envelope_error(denied, 401)
    assert denied.headers["Access-Control-Allow-Origin"] == ORIGIN  # the browser may read why


# --- readiness ----------------------------------------------------------------------------

def test_ready_when_the_database_answers(client):
    assert assert_envelope_success(client.get("/ready"))["data"] == {"status": "ready"}


def test_not_ready_when_the_database_is_down_and_quickly(database_name):
    """Port 9 (discard) is closed: connecting is refused at once."""
    app = create_app(dataclasses.replace(make_config(database_name), db_socket=None,
                                         db_host="127.0.0.1", db_port=9))
    client = app.test_client()
    started = time.monotonic()
    body = assert_envelope_error(client.get("/ready"), 503)
    assert time.monotonic() - started < 1.5  # one short try, not the retry schedule
    assert body["retry_count"] == 0
    assert_envelope_success(client.get("/health"))  # liveness does not care
    app.extensions["tablegate"].executor.close()


# --- metrics ------------------------------------------------------------------------------

SERIES = ["tablegate_http_requests_total", "tablegate_http_request_duration_seconds_bucket",
          "tablegate_db_attempts_total", "tablegate_db_retries_total",
          "tablegate_db_timeouts_total", "tablegate_db_cancellations_total",
          "tablegate_db_kill_unconfirmed_total", "tablegate_db_pool_connections_in_use",
          "tablegate_rows_imported_total", "tablegate_rows_exported_total"]


def test_metrics_count_requests_by_route_template(client, sql):
    labels = {"route": "/api/<table>/query", "method": "GET", "status": "200"}
    before = sample("tablegate_http_requests_total", **labels)
    attempts = sample("tablegate_db_attempts_total", outcome="ok")
    assert client.get("/api/users/query?name=Ann").status_code == 200
    assert sample("tablegate_http_requests_total", **labels) == before + 1
    assert sample("tablegate_db_attempts_total", outcome="ok") > attempts
    response = client.get("/metrics")
    assert response.status_code == 200
    assert response.mimetype == "text/plain"
    text = response.get_data(as_text=True)
    for name in SERIES:
        assert f"\n{name}" in text, name
    assert 'route="/api/<table>/query"' in text
    assert "Ann" not in text and "users" not in text  # no paths, no values


def test_metrics_count_rows_imported_and_exported(client, sql):
    imported, exported = (sample("tablegate_rows_imported_total"),
                          sample("tablegate_rows_exported_total"))
    upload = {"file": (io.BytesIO(b"name,email\na,a@x\nb,b@x\nc,c@x\n"), "users.csv")}
    assert client.post("/api/batch/import", data=upload,
                       content_type="multipart/form-data").status_code == 200
    assert client.get("/api/users/export").get_data(as_text=True).count("\n") == 4
    assert sample("tablegate_rows_imported_total") == imported + 3
    assert sample("tablegate_rows_exported_total") == exported + 3


def test_metrics_count_retries_timeouts_and_cancellations(make_app, sql, database_name):
    """A row held by another transaction makes every attempt of a PATCH time out; each is
    killed on the server."""
    sql("INSERT INTO users (id, name) VALUES (1, 'Ann')")
    client = make_app(retry_timeouts_ms=(150, 150), retry_waits_ms=(10,)).test_client()
    before = {name: sample(name) for name in ("tablegate_db_retries_total",
                                               "tablegate_db_timeouts_total",
                                               "tablegate_db_cancellations_total")}
    holder = admin_connect(database_name)
    try:
        holder.autocommit(False)
        holder.cursor().execute("SELECT * FROM users WHERE id = 1 FOR UPDATE")
        response = client.patch("/api/users/1", json={"input": {"name": "Bo"}})
        assert_envelope_error(response, 504)
    finally:
        holder.rollback()
        holder.close()
    assert sample("tablegate_db_retries_total") == before["tablegate_db_retries_total"] + 1
    assert sample("tablegate_db_timeouts_total") == before["tablegate_db_timeouts_total"] + 2
    assert (sample("tablegate_db_cancellations_total")
            == before["tablegate_db_cancellations_total"] + 2)


def test_pool_gauge_follows_connections_in_use(client):
    client.get("/api/users/query")
    client.get("/metrics")
    assert sample("tablegate_db_pool_connections_in_use") == 0


# --- request log --------------------------------------------------------------------------

def access_lines(captured: str) -> list[dict]:
    lines = [json.loads(line) for line in captured.splitlines() if line.startswith("{")]
    return [line for line in lines if line["logger"] == "tablegate.access"]


def test_one_json_line_per_request_without_secrets(make_app, capsys):
    key = "k-very-secret-1"
    client = make_app(api_keys=f"{hash_line(key)}=*:rw").test_client()
    capsys.readouterr()
    response = client.post("/api/users", json={"input": {"name": "Zelda Private"}},
                           headers={"X-API-Key": key, "X-Request-ID": "req-42"})
    assert response.status_code == 201
    client.get("/api/users/query?name=Zelda%20Private", headers={"Authorization": f"Bearer {key}"})
    client.get("/api/users/1")  # no key: 401, logged too
    out = capsys.readouterr().out
    lines = access_lines(out)
    assert len(lines) == 3
    first = lines[0]
    assert set(first) >= {"time", "level", "request_id", "method", "route", "table", "status",
                          "duration_ms", "retry_count", "remote_addr"}
    assert first["request_id"] == "req-42"
    assert (first["method"], first["route"], first["table"], first["status"]) == (
        "POST", "/api/<table>", "users", 201)
    assert first["retry_count"] == 0 and first["duration_ms"] >= 0
    assert first["remote_addr"] == "127.0.0.1"
    assert lines[2]["status"] == 401
    for secret in (key, hash_line(key), "Zelda"):
        assert secret not in out


def test_attempt_lines_are_json_too(client, capsys):
    client.get("/api/users/query", headers={"X-Request-ID": "req-43"})
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    attempts = [line for line in lines if line["logger"] == "tablegate.db"]
    assert attempts and all(line["request_id"] == "req-43" for line in attempts)
    assert "outcome=ok" in attempts[-1]["message"]


def test_log_level_hides_request_lines_but_metrics_still_count(make_app, capsys):
    client = make_app(log_level="WARNING").test_client()
    attempts = sample("tablegate_db_attempts_total", outcome="ok")
    capsys.readouterr()
    client.get("/api/users/query")
    assert capsys.readouterr().out == ""
    assert sample("tablegate_db_attempts_total", outcome="ok") > attempts
    make_app()  # the next app's level applies again


def test_import_line_names_the_table(client, capsys):
    upload = {"file": (io.BytesIO(b"name\nx\n"), "users.csv")}
    capsys.readouterr()
    client.post("/api/batch/import", data=upload, content_type="multipart/form-data")
    line = access_lines(capsys.readouterr().out)[-1]
    assert (line["route"], line["table"], line["status"]) == ("/api/batch/import", "users", 200)


def test_concurrent_requests_each_get_one_line(client, capsys):
    capsys.readouterr()
    threads = [threading.Thread(target=lambda: client.get("/health")) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(access_lines(capsys.readouterr().out)) == 8

