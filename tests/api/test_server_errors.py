"""A catalogue of errors the server reports, each provoked for real on MariaDB, never mocked
(issue 13): each is answered with its status and ``details.mysql_errno`` and
``details.sqlstate`` on a JSON endpoint, and again through an import, where a row's own fault
is that row's error while every good row lands, and a fault of the whole statement (a view
that cannot take it, a privilege, a misconfiguration) fails the import with the same status.

Imports cannot provoke some: an import only inserts (a delete refused by a foreign key, an
update's trigger), and sends DEFAULT, never NULL, for an empty cell of a NOT NULL column."""
from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from tests.conftest import admin_connect, assert_envelope_error, assert_envelope_success
from tests.helpers import upload

TRIGGER = """CREATE TRIGGER cat_{event} BEFORE {event} ON cat FOR EACH ROW
IF NEW.qty < 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'qty must not be negative';
ELSEIF NEW.qty = 999 THEN SIGNAL SQLSTATE '22003' SET MESSAGE_TEXT = 'qty is out of stock range';
ELSEIF NEW.qty = 404 THEN
  SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'qty 404 is reserved', MYSQL_ERRNO = 30001;
END IF"""

SCHEMA = [
    "CREATE TABLE cat_parent (id INT PRIMARY KEY)",
    "INSERT INTO cat_parent VALUES (1)",
    """CREATE TABLE cat (
        id INT PRIMARY KEY,
        code VARCHAR(10) NULL UNIQUE,
        parent_id INT NULL,
        name VARCHAR(5) NULL,
        amount INT NULL,
        born DATE NULL,
        size ENUM('s', 'm', 'l') NULL,
        place POINT NULL,
        label VARCHAR(10) CHARACTER SET latin1 NULL,
        required INT NOT NULL DEFAULT 0,
        score INT NULL CHECK (score >= 0),
        divisor INT NULL,
        ratio INT AS (100 DIV divisor) STORED,
        base INT NULL,
        big BIGINT AS (base * 4611686018427387904) STORED,
        qty INT NULL,
        FOREIGN KEY (parent_id) REFERENCES cat_parent (id))""",
    "INSERT INTO cat (id, code, parent_id) VALUES (1, 'A', 1)",
    TRIGGER.format(event="INSERT"),
    TRIGGER.format(event="UPDATE"),
    "CREATE TABLE cat_strict (id INT PRIMARY KEY, must INT NOT NULL)",
    "CREATE VIEW cat_positive AS SELECT id, amount FROM cat WHERE amount >= 0 WITH CHECK OPTION",
    "CREATE VIEW cat_join AS SELECT c.id, c.code, p.id AS parent FROM cat c "
    "JOIN cat_parent p ON p.id = c.parent_id",
    "CREATE VIEW cat_shout AS SELECT id, UPPER(code) AS shout FROM cat",
    "CREATE SEQUENCE cat_seq",
    # A view whose definer does not exist (a dropped account, a dump from another server).
    f"CREATE DEFINER = 'tg_gone_{uuid.uuid4().hex[:8]}'@'%' VIEW cat_orphan AS SELECT id FROM cat",
]
OBJECTS = ["VIEW stale_insert", "VIEW stale_update", "VIEW stale_broken", "VIEW cat_positive",
           "VIEW cat_join", "VIEW cat_shout", "VIEW cat_orphan", "SEQUENCE cat_seq",
           "TABLE stale_gen", "TABLE stale_col", "TABLE stale_drop", "TABLE stale_base",
           "TABLE cat_strict", "TABLE cat", "TABLE cat_parent"]


@pytest.fixture(scope="module")
def catalogue(database_name):
    with admin_connect(database_name) as conn, conn.cursor() as cursor:
        for statement in SCHEMA:
            cursor.execute(statement)
    yield
    with admin_connect(database_name) as conn, conn.cursor() as cursor:
        for kind_and_name in OBJECTS:
            kind, name = kind_and_name.split()
            cursor.execute(f"DROP {kind} IF EXISTS {name}")


@pytest.fixture(scope="module")
def accounts(database_name, catalogue):
    """Settings that the server refuses in each way, with the accounts they need."""
    tag = uuid.uuid4().hex[:8]
    users = {kind: f"tg_{kind}_{tag}" for kind in ("ro", "cols", "none", "socket", "locked")}
    grants = [
        f"CREATE USER '{users['ro']}'@'%' IDENTIFIED BY 'pw'",
        f"GRANT SELECT ON `{database_name}`.* TO '{users['ro']}'@'%'",
        f"CREATE USER '{users['cols']}'@'%' IDENTIFIED BY 'pw'",
        # Columns without SELECT are still listed when another privilege names them.
        f"GRANT SELECT (id), INSERT (code) ON `{database_name}`.cat TO '{users['cols']}'@'%'",
        f"CREATE USER '{users['none']}'@'%' IDENTIFIED BY 'pw'",
        f"CREATE USER '{users['socket']}'@'%' IDENTIFIED VIA unix_socket",
        f"CREATE USER '{users['locked']}'@'%' IDENTIFIED BY 'pw' ACCOUNT LOCK",
    ]
    with admin_connect() as conn, conn.cursor() as cursor:
        for statement in grants:
            cursor.execute(statement)
    yield {
        "readonly": {"db_user": users["ro"], "db_password": "pw"},
        "columns": {"db_user": users["cols"], "db_password": "pw"},
        "no-access": {"db_user": users["none"], "db_password": "pw"},
        "bad-password": {"db_user": users["ro"], "db_password": "wrong"},
        "socket": {"db_user": users["socket"], "db_password": ""},
        "locked": {"db_user": users["locked"], "db_password": "pw"},
        "no-database": {"db_name": f"tablegate_nosuch_{tag}"},
    }
    with admin_connect() as conn, conn.cursor() as cursor:
        for user in users.values():
            cursor.execute(f"DROP USER IF EXISTS '{user}'@'%'")


# --- reflections made stale on purpose: the server, not tablegate, then refuses --------------

def stale_view(name: str, later: str) -> Callable:
    """A view read while it could take writes, then replaced by one that cannot."""
    def setup(sql, client) -> None:
        sql(f"CREATE OR REPLACE VIEW {name} AS SELECT id, amount FROM cat")
        assert_envelope_success(client.get(f"/api/{name}/schema"))
        sql(f"CREATE OR REPLACE VIEW {name} AS {later}")
    return setup


def stale_table(name: str, ddl: str, later: str) -> Callable:
    def setup(sql, client) -> None:
        sql(f"DROP TABLE IF EXISTS {name}")
        sql(f"CREATE TABLE {name} ({ddl})")
        assert_envelope_success(client.get(f"/api/{name}/schema"))
        sql(later)
    return setup


def broken_view(sql, client) -> None:
    """A view read while its table was there; then the table is dropped."""
    sql("CREATE TABLE IF NOT EXISTS stale_base (id INT PRIMARY KEY)")
    sql("CREATE OR REPLACE VIEW stale_broken AS SELECT id FROM stale_base")
    assert_envelope_success(client.get("/api/stale_broken/schema"))
    sql("DROP TABLE stale_base")


AGGREGATE = "SELECT amount, COUNT(*) AS n FROM cat GROUP BY amount"


@dataclass(frozen=True)
class Case:
    errno: int
    sqlstate: str
    status: int
    method: str
    path: str
    body: dict | None = None
    query: dict | None = None
    #: The import that provokes it: (table, CSV text). The second data row fails alone, the
    #: first and third land; with ``whole``, the import fails with ``status``.
    csv: tuple[str, str] | None = None
    whole: bool = False
    #: The exact message: a SIGNAL's MESSAGE_TEXT is the message, as the trigger wrote it.
    message: str | None = None
    #: (sql, client) -> None, run before the request and before the import.
    setup: Callable | None = None
    #: The ``accounts`` entry to connect with.
    account: str | None = None
    #: ``details.problem`` of a misconfiguration.
    problem: str | None = None


def case(id: str, *args, **kwargs):
    return pytest.param(Case(*args, **kwargs), id=id)


CASES = [
    # 23xxx integrity: conflicts with other rows are 409, a value this row cannot have 422
    case("duplicate-key", 1062, "23000", 409, "POST", "/api/cat",
         {"input": {"id": 2, "code": "A"}}, csv=("cat", "id,code\n101,b1\n102,A\n103,b3\n")),
    case("foreign-key-missing-parent", 1452, "23000", 409, "POST", "/api/cat",
         {"input": {"id": 3, "parent_id": 99}},
         csv=("cat", "id,parent_id\n111,1\n112,99\n113,1\n")),
    case("foreign-key-referenced-row", 1451, "23000", 409, "DELETE", "/api/cat_parent",
         {"input": {"id": 1}}),
    case("not-null", 1048, "23000", 422, "PUT", "/api/cat",
         {"input": {"required": None}, "where": {"id": 1}}),
    case("check-constraint", 4025, "23000", 422, "POST", "/api/cat",
         {"input": {"id": 4, "score": -1}}, csv=("cat", "id,score\n121,1\n122,-1\n123,2\n")),
    # 45000: a trigger's SIGNAL, its MESSAGE_TEXT as the message
    case("signal-on-insert", 1644, "45000", 422, "POST", "/api/cat",
         {"input": {"id": 5, "qty": -1}}, csv=("cat", "id,qty\n131,1\n132,-1\n133,2\n"),
         message="qty must not be negative"),
    case("signal-on-update", 1644, "45000", 422, "PUT", "/api/cat",
         {"input": {"qty": -1}, "where": {"id": 1}}, message="qty must not be negative"),
    case("signal-with-a-data-class", 1644, "22003", 422, "POST", "/api/cat",
         {"input": {"id": 6, "qty": 999}}, csv=("cat", "id,qty\n141,1\n142,999\n143,2\n"),
         message="qty is out of stock range"),
    case("signal-with-its-own-errno", 30001, "45000", 422, "POST", "/api/cat",
         {"input": {"id": 7, "qty": 404}}, csv=("cat", "id,qty\n151,1\n152,404\n153,2\n"),
         message="qty 404 is reserved"),
    # 22xxx data exceptions, and the warnings strict mode raises (01000)
    case("too-long", 1406, "22001", 422, "POST", "/api/cat",
         {"input": {"id": 8, "name": "toolong"}},
         csv=("cat", "id,name\n161,ok\n162,toolong\n163,ok\n")),
    case("out-of-range", 1264, "22003", 422, "POST", "/api/cat",
         {"input": {"id": 9, "amount": 2**31}},
         csv=("cat", "id,amount\n171,1\n172,2147483648\n173,2\n")),
    case("not-an-integer", 1366, "22007", 422, "POST", "/api/cat",
         {"input": {"id": 10, "amount": "many"}},
         csv=("cat", "id,amount\n181,1\n182,many\n183,2\n")),
    case("impossible-date", 1292, "22007", 422, "POST", "/api/cat",
         {"input": {"id": 11, "born": "2024-02-30"}},
         csv=("cat", "id,born\n191,2024-02-28\n192,2024-02-30\n193,2024-03-01\n")),
    case("not-in-the-enum", 1265, "01000", 422, "POST", "/api/cat",
         {"input": {"id": 12, "size": "xl"}}, csv=("cat", "id,size\n201,s\n202,xl\n203,m\n")),
    case("not-a-geometry", 1416, "22003", 422, "POST", "/api/cat",
         {"input": {"id": 13, "place": "nowhere"}},
         csv=("cat", "id,place\n211,\n212,nowhere\n213,\n")),
    case("generated-column-divides-by-zero", 1365, "22012", 422, "POST", "/api/cat",
         {"input": {"id": 14, "divisor": 0}},
         csv=("cat", "id,divisor\n221,1\n222,0\n223,2\n")),
    case("generated-column-overflows", 1690, "22003", 422, "POST", "/api/cat",
         {"input": {"id": 15, "base": 4}}, csv=("cat", "id,base\n231,1\n232,4\n233,1\n")),
    case("collation-mix-in-a-filter", 1267, "HY000", 422, "GET", "/api/cat/query",
         query={"label": "😀"}),
    # HY000, by errno
    case("no-default", 1364, "HY000", 422, "POST", "/api/cat_strict", {"input": {"id": 1}},
         csv=("cat_strict", "id,must\n241,1\n242,\n243,2\n")),
    case("check-option", 1369, "44000", 422, "POST", "/api/cat_positive",
         {"input": {"id": 16, "amount": -5}},
         csv=("cat_positive", "id,amount\n251,1\n252,-5\n253,2\n")),
    case("join-view-two-tables", 1393, "HY000", 405, "POST", "/api/cat_join",
         {"input": {"code": "j", "parent": 5}}, csv=("cat_join", "code,parent\nj1,5\n"),
         whole=True),
    case("join-view-no-columns", 1394, "HY000", 405, "POST", "/api/cat_join", {"input": {}}),
    case("join-view-delete", 1395, "HY000", 405, "DELETE", "/api/cat_join",
         {"input": {"id": 1}}),
    case("sequence-update", 1031, "HY000", 405, "PUT", "/api/cat_seq",
         {"input": {"cycle_count": 1}, "where": {"cycle_count": 0}}),
    case("sequence-options", 4085, "HY000", 422, "POST", "/api/cat_seq", {"input": dict.fromkeys(
        ("next_not_cached_value", "minimum_value", "maximum_value", "start_value", "increment",
         "cache_size", "cycle_option", "cycle_count"), 1)}),
    case("view-expression-column", 1348, "HY000", 400, "PUT", "/api/cat_shout",
         {"input": {"shout": "X"}, "where": {"id": 1}}),
    case("view-no-longer-insertable", 1471, "HY000", 405, "POST", "/api/stale_insert",
         {"input": {"amount": 1}}, csv=("stale_insert", "amount\n1\n2\n"), whole=True,
         setup=stale_view("stale_insert", AGGREGATE)),
    case("view-no-longer-updatable", 1288, "HY000", 405, "PUT", "/api/stale_update",
         {"input": {"amount": 1}, "where": {"amount": 0}},
         setup=stale_view("stale_update", AGGREGATE)),
    case("column-now-generated", 1906, "HY000", 400, "POST", "/api/stale_gen",
         {"input": {"id": 1, "c": 5}}, csv=("stale_gen", "id,a,c\n1,1,2\n"), whole=True,
         setup=stale_table("stale_gen", "id INT PRIMARY KEY, a INT, c INT",
                           "ALTER TABLE stale_gen DROP COLUMN c, "
                           "ADD COLUMN c INT AS (a + 1) VIRTUAL")),
    # 42xxx: syntax or access rule, 403 for a missing privilege
    case("column-dropped", 1054, "42S22", 400, "POST", "/api/stale_col",
         {"input": {"id": 1, "gone": 2}}, csv=("stale_col", "id,gone\n1,2\n"), whole=True,
         setup=stale_table("stale_col", "id INT PRIMARY KEY, gone INT",
                           "ALTER TABLE stale_col DROP COLUMN gone")),
    case("table-dropped", 1146, "42S02", 404, "GET", "/api/stale_drop/query",
         csv=("stale_drop", "id\n1\n"), whole=True,
         setup=stale_table("stale_drop", "id INT PRIMARY KEY", "DROP TABLE stale_drop")),
    case("command-denied", 1142, "42000", 403, "POST", "/api/cat", {"input": {"id": 17}},
         csv=("cat", "id\n261\n"), whole=True, account="readonly"),
    case("column-denied", 1143, "42000", 403, "GET", "/api/cat/query", account="columns"),
    # misconfiguration: 503 naming the kind of problem, on every request
    case("unknown-database", 1049, "42000", 503, "GET", "/api/cat/query",
         csv=("cat", "id\n271\n"), whole=True, account="no-database",
         problem="unknown_database"),
    case("no-access-to-the-database", 1044, "42000", 503, "GET", "/api/cat/query",
         csv=("cat", "id\n281\n"), whole=True, account="no-access", problem="no_access"),
    case("wrong-password", 1045, "28000", 503, "GET", "/api/cat/query",
         csv=("cat", "id\n291\n"), whole=True, account="bad-password",
         problem="login_refused"),
    case("login-by-another-plugin", 1698, "28000", 503, "GET", "/api/cat/query",
         account="socket", problem="login_refused"),
    case("account-locked", 4151, "HY000", 503, "GET", "/api/cat/query", account="locked",
         problem="login_refused"),
    case("view-definer-gone", 1449, "HY000", 503, "GET", "/api/cat_orphan/query",
         problem="broken_definition"),
    case("view-of-a-dropped-table", 1356, "HY000", 503, "GET", "/api/stale_broken/query",
         setup=broken_view, problem="broken_definition"),
]

AT_ROW = re.compile(r" at row \d+$")


def test_the_catalogue_covers_at_least_25_server_errors():
    errors = {(c.values[0].errno, c.values[0].sqlstate) for c in CASES}
    assert len({number for number, _ in errors}) >= 25
    assert len({state[:2] for _, state in errors}) >= 8  # classes, not a list of numbers


def test_discovery_lists_a_broken_view_as_taking_nothing(catalogue, client):
    """Its definer is gone: reading it is a 503, but the listing of every table still works."""
    tables = {t["name"]: t for t in assert_envelope_success(client.get("/api/tables"))[
        "data"]["tables"]}
    assert tables["cat_orphan"]["insertable"] is False
    assert client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize("case", CASES)
def test_server_error(case, catalogue, accounts, make_client, sql):
    client = make_client(**(accounts[case.account] if case.account else {}))
    if case.setup:
        case.setup(sql, client)
    response = client.open(case.path, method=case.method, json=case.body,
                           query_string=case.query)
    body = assert_envelope_error(response, case.status)
    details = body["details"]
    assert (details["mysql_errno"], details["sqlstate"]) == (case.errno, case.sqlstate)
    assert body["retry_count"] == 0  # the request's own fault, or the settings': never retried
    if case.message:
        assert body["message"] == case.message
    if case.problem:
        assert details["problem"] == case.problem
        assert body["message"].startswith("Database misconfigured: ")
    if case.status == 405:
        assert case.method not in response.headers["Allow"]
    if case.csv:
        if case.setup:
            case.setup(sql, client)
        table, text = case.csv
        imported = upload(client, text, table)
        if case.whole:
            failed = assert_envelope_error(imported, case.status)["details"]
            assert (failed["mysql_errno"], failed["sqlstate"]) == (case.errno, case.sqlstate)
        else:
            data = assert_envelope_success(imported, 207)["data"]
            assert (data["rows_inserted"], data["rows_failed"]) == (2, 1)
            assert data["errors"] == [{"row": 2, "error_code": str(case.errno),
                                       "message": AT_ROW.sub("", body["message"])}]
