"""The question console (issue 19): the endpoint and the command against a fake model server
(tests/fake_llm.py), and a battery of hostile answers, each refused or bounded with the database
unchanged."""
from __future__ import annotations

import json
import os
import pathlib
import subprocess
import sys

import pytest

from conftest import assert_envelope_error, assert_envelope_success, server_settings
from tablegate.api.auth import hash_line
from tablegate.console import guard

ROOT = pathlib.Path(__file__).resolve().parents[2]
QUESTION = {"question": "who is older than 26?"}


@pytest.fixture
def people(sql, seed_tables):
    sql("INSERT INTO users (name, email, age) VALUES ('Alice', 'alice@example.com', 30), "
        "('Bob', 'bob@example.com', 25), ('Carol', 'carol@example.com', 41)")
    sql("DROP TABLE IF EXISTS secret")
    sql("CREATE TABLE secret (id INT PRIMARY KEY, token VARCHAR(20))")
    sql("INSERT INTO secret VALUES (1, 'hunter2')")
    yield
    sql("DROP TABLE IF EXISTS secret")


def console_settings(fake_llm, provider: str = "anthropic", **more) -> dict:
    base = fake_llm.url if provider == "anthropic" else fake_llm.url + "/v1"
    return {"console": True, "llm_provider": provider, "llm_model": "fake-model",
            "llm_api_key": "fake-key", "llm_base_url": base, "deny_tables": ("secret",), **more}


def snapshot(sql) -> tuple:
    """Every table of the test database and its checksum, and mysql.user's row count."""
    tables = tuple(row[0] for row in sql("SHOW TABLES"))
    sums = sql("CHECKSUM TABLE " + ", ".join(f"`{t}`" for t in tables)) if tables else ()
    return tables, tuple(sums), sql("SELECT COUNT(*) FROM mysql.user")


def assert_console_error(response, status: int) -> dict:
    """``assert_envelope_error`` less its ban on SQL text: a console refusal shows the model's
    SQL on purpose (``details.sql``); nothing else internal may leak."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"timestamp", "error_code", "message", "retry_count", "details"}
    assert body["error_code"] == str(status) and body["timestamp"].endswith("Z")
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "tablegate_test_", "pymysql", "fake-key"):
        assert leak not in text, text
    assert response.headers.get("X-Request-ID")
    return body


def ask(client, **headers):
    return client.post("/api/console/ask", json=QUESTION, headers=headers)


def test_off_unless_switched_on(make_client, fake_llm):
    assert_envelope_error(ask(make_client()), 404)
    assert_envelope_error(ask(make_client(console=True)), 404)  # no provider: still off
    settings = console_settings(fake_llm)
    settings.pop("console")
    assert_envelope_error(ask(make_client(**settings)), 404)  # a provider, but not switched on


@pytest.mark.parametrize("provider", ["anthropic", "openai"])
def test_a_question_answered_end_to_end(make_client, fake_llm, people, provider):
    fake_llm.answer = "```sql\nSELECT name, age FROM users WHERE age > 26 ORDER BY name;\n```"
    fake_llm.requests.clear()
    body = assert_envelope_success(ask(make_client(**console_settings(fake_llm, provider))))
    assert body["data"] == {"sql": "SELECT name, age FROM users WHERE age > 26 ORDER BY name "
                                   "LIMIT 1001",
                            "columns": ["name", "age"], "rows": [["Alice", 30], ["Carol", 41]],
                            "truncated": False}
    (request,) = fake_llm.requests
    sent = json.dumps(request["body"])
    assert request["path"] == ("/v1/messages" if provider == "anthropic"
                               else "/v1/chat/completions")
    assert "who is older than 26?" in sent
    # the reflected schema, with types and keys; no row data, no hidden table
    assert "TABLE users" in sent and "email varchar(100) NULL UNIQUE" in sent
    assert "id int(11) NOT NULL PRIMARY KEY" in sent
    for leak in ("alice@example.com", "Alice", "secret", "hunter2", "tablegate_imports"):
        assert leak not in sent


def test_sample_rows_only_when_asked(make_client, fake_llm, people):
    fake_llm.answer = "SELECT COUNT(*) AS n FROM users"
    fake_llm.requests.clear()
    ask(make_client(**console_settings(fake_llm, console_sample_rows=1)))
    assert "example row:" in json.dumps(fake_llm.requests[0]["body"])


def test_foreign_keys_are_in_the_prompt(make_client, fake_llm, people, sql):
    sql("DROP TABLE IF EXISTS pets")
    sql("CREATE TABLE pets (id INT PRIMARY KEY, owner INT, FOREIGN KEY (owner) REFERENCES "
        "users(id))")
    try:
        fake_llm.answer = "SELECT COUNT(*) FROM pets"
        fake_llm.requests.clear()
        assert_envelope_success(ask(make_client(**console_settings(fake_llm))))
        assert "FOREIGN KEY (owner) REFERENCES users(id)" in json.dumps(
            fake_llm.requests[0]["body"])
    finally:
        sql("DROP TABLE pets")


HOSTILE = [
    pytest.param("DROP TABLE users", "not a SELECT but DROP", id="drop-table"),
    pytest.param("SELECT 1; DROP TABLE users", "2 statements", id="two-statements"),
    pytest.param("SELECT * FROM users INTO OUTFILE '/tmp/tablegate-console'", "writes a file",
                 id="into-outfile"),
    pytest.param("SELECT * FROM users INTO DUMPFILE '/tmp/tablegate-console'", "writes a file",
                 id="into-dumpfile"),
    pytest.param("SELECT SLEEP(100)", "SLEEP()", id="sleep"),
    pytest.param("SELECT BENCHMARK(100000000000, MD5('x'))", "BENCHMARK()", id="benchmark"),
    pytest.param("SELECT LOAD_FILE('/etc/passwd')", "LOAD_FILE()", id="load-file"),
    pytest.param("SELECT GET_LOCK('x', 100)", "GET_LOCK()", id="get-lock"),
    pytest.param("SELECT User, Password FROM mysql.user", "another database (mysql)",
                 id="mysql-user"),
    pytest.param("SELECT * FROM information_schema.tables", "another database", id="i-s"),
    pytest.param("SELECT * FROM secret", "'secret'", id="denied-table"),
    pytest.param("SELECT * FROM tablegate_imports", "'tablegate_imports'", id="ledger-table"),
    pytest.param("SELECT name FROM users WHERE id IN (SELECT id FROM secret)", "'secret'",
                 id="denied-table-in-subquery"),
    pytest.param("SELECT * FROM users FOR UPDATE", "locks", id="for-update"),
    pytest.param("SELECT * FROM users LOCK IN SHARE MODE", "locks", id="lock-in-share-mode"),
    pytest.param("SELECT @@datadir", "variables", id="system-variable"),
    pytest.param("SELECT 1 INTO @x", "SELECT ... INTO", id="into-variable"),
    pytest.param("SELECT USER()", "USER()", id="user-function"),
    pytest.param("UPDATE users SET age = 0", "not a SELECT", id="update"),
    pytest.param("DELETE FROM users", "not a SELECT", id="delete"),
    pytest.param("INSERT INTO users (name) VALUES ('x')", "not a SELECT", id="insert"),
    pytest.param("CALL p()", "not a SELECT", id="call"),
    pytest.param("", "no SQL", id="empty"),
    pytest.param("I cannot help with that.", "parse", id="prose"),
]


@pytest.mark.parametrize("hostile, reason", HOSTILE)
def test_a_hostile_answer_is_refused(make_client, fake_llm, people, sql, hostile, reason):
    before = snapshot(sql)
    fake_llm.answer = hostile
    body = assert_console_error(ask(make_client(**console_settings(fake_llm))), 422)
    assert body["message"].startswith("Refused: ")
    assert reason in body["details"]["reason"]
    assert snapshot(sql) == before
    assert not os.path.exists("/tmp/tablegate-console")


def test_an_executable_comment_never_reaches_the_server(make_client, fake_llm, people, sql):
    """MariaDB runs ``/*! ... */``; the SQL that runs is written back from the parsed tree."""
    before = snapshot(sql)
    fake_llm.answer = "SELECT 1 AS one /*! , SLEEP(5) */"
    body = assert_envelope_success(ask(make_client(**console_settings(fake_llm))))
    assert body["data"]["rows"] == [[1]] and "SLEEP" not in body["data"]["sql"]
    assert snapshot(sql) == before


def test_a_huge_cross_join_stops_at_the_row_cap(make_client, fake_llm, people, sql):
    sql("INSERT INTO users (name) SELECT CONCAT('u', seq) FROM seq_1_to_1000")
    before = snapshot(sql)
    fake_llm.answer = "SELECT a.id, b.id, c.id FROM users a, users b, users c"  # 1e9 rows
    client = make_client(**console_settings(fake_llm, console_max_rows=50))
    data = assert_envelope_success(ask(client))["data"]
    assert data["truncated"] is True and len(data["rows"]) == 50
    assert snapshot(sql) == before


def test_a_slow_query_is_stopped_by_the_server(make_client, fake_llm, people, sql):
    sql("INSERT INTO users (name) SELECT CONCAT('u', seq) FROM seq_1_to_1000")
    before = snapshot(sql)
    fake_llm.answer = ("SELECT a.id FROM users a, users b, users c "
                       "ORDER BY MD5(CONCAT(a.id, b.id, c.id)) LIMIT 5")
    client = make_client(**console_settings(fake_llm, console_statement_ms=300))
    body = assert_console_error(ask(client), 504)
    assert "stopped" in body["message"]
    assert snapshot(sql) == before
    assert not sql("SELECT ID FROM information_schema.PROCESSLIST WHERE INFO LIKE "
                   "'%%MD5(CONCAT(a.id%%' AND INFO NOT LIKE '%%PROCESSLIST%%'")


def test_the_transaction_is_read_only_whatever_the_guard_says(make_app, fake_llm, people, sql):
    """The second line: a write that got past the guard fails in START TRANSACTION READ
    ONLY."""
    app = make_app(**console_settings(fake_llm))
    console = app.extensions["tablegate.console"]
    before = snapshot(sql)
    with pytest.raises(Exception) as caught:
        console.run(guard.Checked("UPDATE users SET age = 0", ("users",)))
    assert "read" in str(caught.value).lower()
    assert snapshot(sql) == before


def test_the_database_refusing_the_query_is_a_422(make_client, fake_llm, people):
    fake_llm.answer = "SELECT no_such_column FROM users"
    body = assert_console_error(ask(make_client(**console_settings(fake_llm))), 422)
    assert "Unknown column" in body["message"]


def test_a_key_needs_r_on_every_table_the_sql_reads(make_client, fake_llm, people):
    entry = f"{hash_line('users-reader')}=users:r;{hash_line('writer')}=users:w,kinds:r"
    client = make_client(**console_settings(fake_llm, api_keys=entry))
    fake_llm.answer = "SELECT u.name FROM users u JOIN kinds k ON k.id = u.id"
    assert_envelope_error(ask(client), 401)
    fake_llm.requests.clear()
    body = assert_console_error(ask(client, **{"X-API-Key": "users-reader"}), 403)
    assert body["details"]["tables"] == ["kinds"]
    prompt = json.dumps(fake_llm.requests[0]["body"])
    assert "TABLE users" in prompt and "TABLE kinds" not in prompt  # only the key's tables
    assert_console_error(ask(client, **{"X-API-Key": "writer"}), 403)
    fake_llm.answer = "SELECT name FROM users WHERE age > 26 ORDER BY name"
    assert_envelope_success(ask(client, **{"X-API-Key": "users-reader"}))


@pytest.mark.parametrize("body", [{}, {"question": ""}, {"question": 5}, {"question": "x",
                                                                          "more": 1}])
def test_a_bad_body_is_a_400(make_client, fake_llm, body):
    client = make_client(**console_settings(fake_llm))
    assert_envelope_error(client.post("/api/console/ask", json=body), 400)


def test_an_unreachable_model_is_a_502(make_client, fake_llm):
    client = make_client(**console_settings(fake_llm, "openai",
                                            llm_base_url="http://127.0.0.1:9/v1"))
    assert_envelope_error(ask(client), 502)


def command(database_name, fake_llm, *args, **env):
    settings = server_settings()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TABLEGATE_")}
    environ.update({"TABLEGATE_DB_HOST": settings["host"], "TABLEGATE_DB_PORT":
                    str(settings["port"]), "TABLEGATE_DB_USER": settings["user"],
                    "TABLEGATE_DB_PASSWORD": settings["password"],
                    "TABLEGATE_DB_NAME": database_name, "COLUMNS": "100", **env})
    return subprocess.run([sys.executable, "-m", "tablegate.console", *args], cwd=ROOT,
                          env=environ, capture_output=True, text=True, timeout=60)


MODEL_ENV = {"TABLEGATE_LLM_PROVIDER": "openai", "TABLEGATE_LLM_MODEL": "fake-model"}


def test_the_command_answers_one_question(database_name, fake_llm, people):
    fake_llm.answer = "SELECT name, age FROM users WHERE age > 26 ORDER BY name"
    done = command(database_name, fake_llm, "--ask", "who is older than 26?",
                   **MODEL_ENV, TABLEGATE_LLM_BASE_URL=fake_llm.url + "/v1")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == "SELECT name, age FROM users WHERE age > 26 ORDER BY name LIMIT 1001"
    assert any("Alice" in line and "30" in line for line in lines)
    assert any("Carol" in line and "41" in line for line in lines)
    assert lines[-1].startswith("2 rows in ")


def test_the_command_prints_json_and_refusals(database_name, fake_llm, people):
    env = {**MODEL_ENV, "TABLEGATE_LLM_PROVIDER": "anthropic",
           "TABLEGATE_LLM_BASE_URL": fake_llm.url, "TABLEGATE_LLM_API_KEY": "fake"}
    fake_llm.answer = "SELECT COUNT(*) AS n FROM users"
    done = command(database_name, fake_llm, "--ask", "how many?", "--json", **env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["data"] == {"sql": "SELECT COUNT(*) AS n FROM users LIMIT "
                                                      "1001", "columns": ["n"], "rows": [[3]],
                                               "truncated": False}
    fake_llm.answer = "DROP TABLE users"
    done = command(database_name, fake_llm, "--ask", "drop it", **env)
    assert done.returncode == 1
    assert "Refused: it is not a SELECT but DROP" in done.stdout


def test_the_command_interactive(database_name, fake_llm, people):
    fake_llm.answer = "SELECT COUNT(*) AS n FROM users"
    environ_home = {"HOME": str(ROOT / ".tablegate")}
    (ROOT / ".tablegate").mkdir(exist_ok=True)
    settings = server_settings()
    environ = {k: v for k, v in os.environ.items() if not k.startswith("TABLEGATE_")}
    environ.update({"TABLEGATE_DB_HOST": settings["host"], "TABLEGATE_DB_PORT":
                    str(settings["port"]), "TABLEGATE_DB_USER": settings["user"],
                    "TABLEGATE_DB_PASSWORD": settings["password"],
                    "TABLEGATE_DB_NAME": database_name, **MODEL_ENV,
                    "TABLEGATE_LLM_BASE_URL": fake_llm.url + "/v1", **environ_home})
    done = subprocess.run([sys.executable, "-m", "tablegate.console"], cwd=ROOT, env=environ,
                          input="how many?\nand again?\n", capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.count("1 row in ") == 2


def test_the_command_says_what_to_set(database_name, fake_llm):
    done = command(database_name, fake_llm, "--ask", "anything")
    assert done.returncode == 2
    assert "TABLEGATE_LLM_PROVIDER=anthropic" in done.stderr
    assert "TABLEGATE_LLM_PROVIDER=openai with TABLEGATE_LLM_BASE_URL" in done.stderr


def test_the_openapi_document_has_the_console_when_it_is_on(make_client, fake_llm):
    from openapi_spec_validator import validate

    assert "/api/console/ask" not in make_client().get("/openapi.json").get_json()["paths"]
    document = make_client(**console_settings(fake_llm)).get("/openapi.json").get_json()
    validate(document)
    assert "post" in document["paths"]["/api/console/ask"]
