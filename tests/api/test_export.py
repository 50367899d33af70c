"""GET /api/batch/{table}/export and /api/{table}/export against the real MariaDB (CONTRACT.md
"Batch", "Long and streaming operations"): the CSV itself, filters, large tables, and what
happens to the connection when the client goes away or the database fails mid-stream."""
from __future__ import annotations

import base64
import csv
import http.client
import io
import os
import socket
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path
from urllib.parse import quote

import pytest

from tests.conftest import admin_connect, assert_envelope_error, assert_envelope_success

REPO = Path(__file__).resolve().parents[2]

TRICKY = [  # id, name, email, age: every value the CSV quoting has to survive
    (1, "plain", "p@x.io", 1),
    (2, "comma, inside", "c@x.io", None),
    (3, 'quote " inside', "", 3),
    (4, "new\nline and \r\n crlf", None, 4),
    (5, "\u00e9t\u00e9 \u4e2d\u6587 \U0001F600", "u@x.io", 5),
    (6, "", None, 0),
    (7, '"', ",", -1),
    (8, "  spaces  ", "tab\there", 8),
]


def body_of(response) -> str:
    assert response.status_code == 200, response.get_data(as_text=True)
    return response.get_data().decode("utf-8")


def parse(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


@pytest.fixture
def tricky(sql, seed_tables):
    sql("INSERT INTO users (id, name, email, age) VALUES " + ", ".join(["(%s, %s, %s, %s)"] * 8),
        [v for row in TRICKY for v in row])


# --- the CSV --------------------------------------------------------------------------------

def test_export_is_a_csv_attachment(client, sql):
    sql("INSERT INTO users (name, email, age) VALUES ('Alice', 'alice@example.com', 30),"
        " ('Bob', 'bob@example.com', 25)")
    response = client.get("/api/batch/users/export")
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="users.csv"'
    assert response.headers.get("X-Request-ID")
    assert "Content-Length" not in response.headers  # streamed
    assert body_of(response) == ("id,name,email,age\r\n1,Alice,alice@example.com,30\r\n"
                                 "2,Bob,bob@example.com,25\r\n")


def test_alias_route_gives_the_same_csv(client, tricky):
    assert body_of(client.get("/api/users/export")) == body_of(
        client.get("/api/batch/users/export"))


def test_empty_table_exports_the_header(client):
    assert body_of(client.get("/api/users/export")) == "id,name,email,age\r\n"


def test_quoting_null_and_empty_string(client, tricky):
    rows = parse(body_of(client.get("/api/users/export")))
    assert rows[0] == ["id", "name", "email", "age"]
    expected = [[str(i), n, "" if e is None else e, "" if a is None else str(a)]
                for i, n, e, a in TRICKY]
    assert rows[1:] == expected
    text = body_of(client.get("/api/users/export?id=in.2,3,4"))
    # NULL is an empty cell, the empty string a quoted empty cell.
    assert '2,"comma, inside",c@x.io,\r\n' in text
    assert '3,"quote "" inside","",3\r\n' in text
    assert '4,"new\nline and \r\n crlf",,4\r\n' in text


def test_values_are_written_as_text(client, sql):
    blob = bytes(range(256))
    sql("INSERT INTO kinds (price, born, seen_at, notes, doc, blob_data, flag, label) VALUES"
        " (12.5, '2024-02-29', '2024-01-02 03:04:05.123456', 'n', '{\"a\": [1, 2]}', %s, 1,"
        " 'l'), (NULL, NULL, NULL, NULL, NULL, NULL, NULL, '')", (blob,))
    rows = parse(body_of(client.get("/api/kinds/export")))
    assert rows[0] == ["id", "price", "born", "seen_at", "notes", "doc", "blob_data", "flag",
                       "label"]
    assert rows[1] == ["1", "12.5000", "2024-02-29", "2024-01-02T03:04:05.123456", "n",
                       '{"a": [1, 2]}', base64.b64encode(blob).decode(), "1", "l"]
    assert rows[2] == ["2", "", "", "", "", "", "", "", ""]


def test_every_type_imports_back_unchanged(client, sql):
    sql("INSERT INTO kinds (price, born, seen_at, notes, doc, blob_data, flag, label) VALUES"
        " (-0.0001, '1999-12-31', '2024-01-02 03:04:05.000001', 'a,b\n\"c\"', '[]', %s, 0, ''),"
        " (NULL, NULL, NULL, '', NULL, '', NULL, 'x')", (bytes(range(256)),))
    before = sql("SELECT * FROM kinds ORDER BY id")
    exported = body_of(client.get("/api/kinds/export"))
    sql("DELETE FROM kinds")
    response = client.post("/api/batch/import",
                           data={"file": (io.BytesIO(exported.encode()), "kinds.csv")},
                           content_type="multipart/form-data")
    assert_envelope_success(response)
    assert sql("SELECT * FROM kinds ORDER BY id") == before


def test_binary_is_base64_as_in_the_json_api(client, sql):
    sql("INSERT INTO kinds (blob_data) VALUES (%s)", (b"\x00\x01\xff",))
    json_value = assert_envelope_success(client.get("/api/kinds/query"))["data"]["rows"][0]
    csv_value = parse(body_of(client.get("/api/kinds/export?columns=blob_data")))[1][0]
    assert csv_value == json_value["blob_data"] == "AAH/"


# --- filters --------------------------------------------------------------------------------

@pytest.mark.parametrize("query, ids", [
    pytest.param("", [1, 2, 3, 4, 5, 6, 7, 8], id="all"),
    pytest.param("?age=gte.4", [4, 5, 8], id="gte"),
    pytest.param("?age=is.null", [2], id="is-null"),
    pytest.param("?id=in.1,7", [1, 7], id="in"),
    pytest.param("?name=like.%25inside", [2, 3], id="like"),
    pytest.param("?age=not.is.null&age=lt.3", [1, 6, 7], id="anded"),
    pytest.param("?order_by=-id&limit=3", [8, 7, 6], id="order-limit"),
    pytest.param("?order_by=id&limit=2&offset=3", [4, 5], id="offset"),
    pytest.param("?offset=6", [7, 8], id="offset-without-limit"),
])
def test_query_string_filters_as_in_query(client, tricky, query, ids):
    rows = parse(body_of(client.get(f"/api/users/export{query}")))
    assert [int(r[0]) for r in rows[1:]] == ids


def test_columns_choose_and_order_the_output(client, tricky):
    rows = parse(body_of(client.get("/api/users/export?columns=age,id&id=lte.2")))
    assert rows == [["age", "id"], ["1", "1"], ["", "2"]]


def test_unknown_column_filter_is_400(client):
    body = assert_envelope_error(client.get("/api/users/export?nickname=x"), 400)
    assert body["details"] == {"column": "nickname"}


def test_unknown_column_in_columns_is_400(client):
    assert_envelope_error(client.get("/api/users/export?columns=id,nickname"), 400)


def test_bad_operator_is_400(client):
    assert_envelope_error(client.get("/api/users/export?age=not.between.1"), 400)


def test_bad_limit_is_400(client):
    assert_envelope_error(client.get("/api/users/export?limit=-1"), 400)


def test_unknown_table_is_404(client):
    assert_envelope_error(client.get("/api/nosuch/export"), 404)
    assert_envelope_error(client.get("/api/batch/nosuch/export"), 404)


@pytest.mark.parametrize("name, disposition", [
    pytest.param("we`ird", 'attachment; filename="we`ird.csv"', id="backtick"),
    pytest.param('say "hi"', "attachment; filename=\"say _hi_.csv\"; "
                 "filename*=UTF-8''say%20%22hi%22.csv", id="quotes"),
    pytest.param("donn\u00e9es", "attachment; filename=\"donnees.csv\"; "
                 "filename*=UTF-8''donn%C3%A9es.csv", id="unicode"),
    pytest.param("a\nb\\c", "attachment; filename=\"a_b_c.csv\"; "
                 "filename*=UTF-8''a%0Ab%5Cc.csv", id="newline-backslash"),
])
def test_odd_table_names_get_a_safe_content_disposition(client, sql, name, disposition):
    quoted = "`" + name.replace("`", "``") + "`"
    sql(f"CREATE TABLE {quoted} (id INT PRIMARY KEY)")
    try:
        sql(f"INSERT INTO {quoted} VALUES (1)")
        response = client.get(f"/api/batch/{quote(name, safe='')}/export")
        assert body_of(response) == "id\r\n1\r\n"
        assert response.headers["Content-Disposition"] == disposition
    finally:
        sql(f"DROP TABLE {quoted}")


# --- large tables ---------------------------------------------------------------------------

def test_table_of_many_batches_is_exported_row_for_row(make_client, sql):
    client = make_client(export_batch_rows=100)
    sql("INSERT INTO users (id, name, email, age) SELECT seq, CONCAT('n,', seq),"
        " IF(seq % 7 = 0, NULL, CONCAT('e', seq, '@x.io')), seq % 100 FROM seq_1_to_1050")
    response = client.get("/api/users/export")
    pieces = list(response.response)
    assert len(pieces) >= 11  # header, then at least one piece per batch of 100
    rows = parse(b"".join(pieces).decode())
    expected = [[str(n), f"n,{n}", "" if n % 7 == 0 else f"e{n}@x.io", str(n % 100)]
                for n in range(1, 1051)]
    assert rows[1:] == expected


def test_export_imports_back_unchanged(client, sql, tricky):
    """NULL and the empty string survive the round trip, as every quoting case does."""
    exported = body_of(client.get("/api/users/export"))
    sql("DELETE FROM users")
    response = client.post("/api/batch/import",
                           data={"file": (io.BytesIO(exported.encode()), "users.csv")},
                           content_type="multipart/form-data")
    assert_envelope_success(response)
    assert sql("SELECT id, name, email, age FROM users ORDER BY id") == tuple(TRICKY)


def test_opening_is_bounded_by_the_schedule_and_leaves_no_query(make_client, sql,
                                                                database_name):
    """The first batch is fetched inside the executor: a query slower than every attempt is a
    504 envelope before any byte of CSV, and each attempt's query was killed."""
    sql("CREATE OR REPLACE VIEW slow AS SELECT SLEEP(2) AS s")
    try:
        client = make_client(retry_timeouts_ms=(100, 150), retry_waits_ms=(10,))
        body = assert_envelope_error(client.get("/api/slow/export"), 504)
        assert body["details"] == {"attempts": 2}
        assert wait_for(lambda: not export_queries(database_name, "SLEEP"))
    finally:
        sql("DROP VIEW slow")


# --- memory ---------------------------------------------------------------------------------

def test_memory_stays_flat_importing_and_exporting_100k_rows(client, sql, tmp_path):
    """Peak Python memory stays below the size of the file (4.4 MB of CSV, about 30 MB as
    Python rows), so it does not grow with the number of rows. 100k rows, not more: tracemalloc
    makes every allocation several times slower."""
    rows = 100_000
    path = tmp_path / "users.csv"
    with path.open("w", newline="") as out:
        out.write("id,name,email,age\r\n")
        out.writelines(f"{n},name {n},user{n}@example.com,{n % 90}\r\n"
                       for n in range(1, rows + 1))
    assert path.stat().st_size > 4_000_000
    tracemalloc.start()
    try:
        with path.open("rb") as upload:
            response = client.post("/api/batch/import", data={"file": (upload, "users.csv")},
                                   content_type="multipart/form-data")
        imported_peak = tracemalloc.get_traced_memory()[1]
        assert assert_envelope_success(response)["data"]["rows_inserted"] == rows
        tracemalloc.reset_peak()
        exported = 0
        lines = 0
        for piece in client.get("/api/users/export").response:
            exported += len(piece)
            lines += piece.count(b"\r\n")
        exported_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert lines == rows + 1
    assert exported == path.stat().st_size
    assert imported_peak < 4_000_000, imported_peak
    assert exported_peak < 4_000_000, exported_peak


# --- a real server: disconnects and failures mid-stream -------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(predicate, timeout_s: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.1)
    return predicate()


def export_queries(database_name: str, needle: str = "`big`") -> list[tuple]:
    with admin_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT ID, COMMAND, INFO FROM information_schema.PROCESSLIST"
                       " WHERE DB = %s AND ID <> CONNECTION_ID() AND INFO LIKE %s",
                       (database_name, f"%{needle}%"))
        return list(cursor.fetchall())


def connections(database_name: str) -> int:
    with admin_connect() as conn, conn.cursor() as cursor:
        cursor.execute("SELECT COUNT(*) FROM information_schema.PROCESSLIST"
                       " WHERE DB = %s AND ID <> CONNECTION_ID()", (database_name,))
        return cursor.fetchone()[0]


@pytest.fixture(scope="module")
def big_table(database_name):
    """200,000 rows, about 9 MB of CSV: far more than the socket buffers hold."""
    with admin_connect(database_name) as conn, conn.cursor() as cursor:
        cursor.execute("CREATE TABLE big (id INT PRIMARY KEY, payload VARCHAR(40))")
        cursor.execute("INSERT INTO big SELECT seq, CONCAT('payload number ', seq, ', quoted')"
                       " FROM seq_1_to_200000")
    yield "big"
    with admin_connect(database_name) as conn:
        conn.cursor().execute("DROP TABLE big")


@pytest.fixture(scope="module")
def server(database_name, big_table):
    """The service under gunicorn with the production settings file, one worker."""
    port = free_port()
    env = {**os.environ, "TABLEGATE_DB_NAME": database_name, "TABLEGATE_BIND": f"127.0.0.1:{port}",
           "TABLEGATE_WORKERS": "1", "TABLEGATE_THREADS": "4", "TABLEGATE_LOG_LEVEL": "WARNING"}
    gunicorn = Path(sys.executable).with_name("gunicorn")
    process = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "--access-logfile",
                                "/dev/null", "wsgi:app"], cwd=REPO, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def healthy() -> bool:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            connection.request("GET", "/health")
            return connection.getresponse().status == 200
        except OSError:
            return False

    try:
        assert wait_for(healthy, 20), "gunicorn did not start"
        yield port
    finally:
        process.terminate()
        process.wait(10)


def test_client_disconnect_mid_download_leaves_no_query_or_connection(server, database_name):
    warm = http.client.HTTPConnection("127.0.0.1", server, timeout=5)
    warm.request("GET", "/api/big/query?limit=1")  # the pool opens the connection it keeps
    assert warm.getresponse().status == 200
    warm.close()
    baseline = connections(database_name)
    with socket.create_connection(("127.0.0.1", server), timeout=5) as client:
        client.sendall(b"GET /api/big/export HTTP/1.1\r\nHost: x\r\n\r\n")
        received = b""
        while len(received) < 16 * 1024:
            received += client.recv(4096)
        assert received.startswith(b"HTTP/1.1 200")
        assert export_queries(database_name), "the export should be streaming now"
    assert wait_for(lambda: not export_queries(database_name)), export_queries(database_name)
    assert wait_for(lambda: connections(database_name) <= baseline)


def test_failure_mid_stream_aborts_the_transfer(server, database_name):
    """The export's connection is killed after the first bytes: the client must see a broken
    transfer, not a CSV that ends cleanly, nor error text inside it."""
    connection = http.client.HTTPConnection("127.0.0.1", server, timeout=10)
    connection.request("GET", "/api/big/export")
    response = connection.getresponse()
    assert response.status == 200
    start = response.read(8 * 1024)
    assert start.startswith(b"id,payload\r\n1,")
    for thread_id, _, _ in export_queries(database_name):
        with admin_connect() as admin:
            admin.cursor().execute(f"KILL {int(thread_id)}")
    with pytest.raises(http.client.IncompleteRead) as caught:
        response.read()
    rest = caught.value.partial
    assert b"error" not in rest.lower() and b"{" not in rest
    assert len(start) + len(rest) < 9_000_000
    connection.close()
    assert wait_for(lambda: not export_queries(database_name))


def test_a_slow_reader_outlasts_the_opening_attempts_deadline(client, big_table,
                                                              database_name):
    """Every other statement carries its attempt's time left to the server (issue 20); an
    export's query must not: it runs on the server until its last row is sent, long after the
    attempt that opened it. A reader slower than the whole schedule gets every row."""
    response = client.get("/api/big/export")
    started = time.monotonic()
    lines = 0
    for number, piece in enumerate(response.response):
        lines += piece.count(b"\r\n")
        if number < 20:
            time.sleep(0.1)
        if number == 20:
            assert time.monotonic() - started > 1.6  # the longest attempt of the schedule
            assert export_queries(database_name), "the query should still be streaming"
    assert lines == 200_001


def test_offset_beyond_mysql_range_is_400_not_500(client):
    # Regression: the export read ?offset= with its own helper that lacked the bound the
    # query endpoints have, and MySQL answered LIMIT ... OFFSET 1e23 with a syntax error (500).
    response = client.get("/api/users/export?offset=99999999999999999999999")
    assert_envelope_error(response, 400)
    assert response.get_json()["details"] == {"parameter": "offset"}
