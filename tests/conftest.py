"""Fixtures shared by every layer: connection settings for the real MariaDB and a uniquely named
database per test session, dropped afterwards. Tests never touch any other database."""
from __future__ import annotations

import io
import uuid

import openpyxl
import pymysql
import pytest

from tablegate.config import Config

SEED_DDL = [
    """CREATE TABLE users (
        id INT AUTO_INCREMENT PRIMARY KEY,
        name VARCHAR(100),
        email VARCHAR(100) UNIQUE,
        age INT
    )""",
    """CREATE TABLE kinds (
        id INT AUTO_INCREMENT PRIMARY KEY,
        price DECIMAL(12, 4) NULL,
        born DATE NULL,
        seen_at DATETIME(6) NULL,
        notes TEXT NULL,
        doc JSON NULL,
        blob_data BLOB NULL,
        flag TINYINT(1) NULL,
        label VARCHAR(10) NOT NULL DEFAULT 'x'
    )""",
]


#: A schema as real databases have them (issue 13): a table with triggers that SIGNAL, CHECK
#: constraints, stored and virtual generated columns, an invisible column and a foreign key; an
#: aggregate view (takes no write) and a view WITH CHECK OPTION (takes the rows it shows).
HOSTILE_DDL = [
    """CREATE TABLE customers (
        id INT PRIMARY KEY,
        name VARCHAR(40) NOT NULL,
        dept VARCHAR(10) NOT NULL DEFAULT 'dev'
    )""",
    """CREATE TABLE orders (
        id INT AUTO_INCREMENT PRIMARY KEY,
        customer_id INT NULL,
        price DECIMAL(10, 2) NOT NULL DEFAULT 1.00,
        qty INT NOT NULL,
        total DECIMAL(12, 2) AS (price * qty) STORED,
        dbl INT AS (qty * 2) VIRTUAL,
        note VARCHAR(20) NULL,
        secret VARCHAR(20) INVISIBLE NULL DEFAULT 'hidden',
        CONSTRAINT price_positive CHECK (price > 0),
        CONSTRAINT orders_customer FOREIGN KEY (customer_id) REFERENCES customers (id)
    )""",
    *(f"""CREATE TRIGGER orders_qty_{event} BEFORE {event} ON orders FOR EACH ROW
        IF NEW.qty <= 0 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'qty must be positive';
        END IF""" for event in ("insert", "update")),
    """CREATE VIEW order_counts AS
        SELECT customer_id, COUNT(*) AS n, SUM(total) AS spent FROM orders GROUP BY customer_id""",
    """CREATE VIEW big_orders AS
        SELECT id, customer_id, price, qty, note FROM orders WHERE qty >= 10
        WITH CHECK OPTION""",
    "INSERT INTO customers (id, name, dept) VALUES (1, 'Ann', 'dev'), (2, 'Bob', 'ops')",
    "INSERT INTO orders (id, customer_id, price, qty, note, secret) VALUES "
    "(1, 1, 2.50, 4, 'small', 's1'), (2, 2, 1.00, 12, 'big', 's2')",
]
HOSTILE_OBJECTS = ("VIEW big_orders", "VIEW order_counts", "TABLE orders", "TABLE customers")


def server_settings() -> dict:
    """Where the test server is: the same TABLEGATE_DB_* variables the service reads."""
    env = Config.from_env()
    return dict(host=env.db_host, port=env.db_port, user=env.db_user, password=env.db_password,
                unix_socket=env.db_socket)


def admin_connect(database: str | None = None, **kwargs) -> pymysql.connections.Connection:
    return pymysql.connect(database=database, charset="utf8mb4", autocommit=True,
                           **server_settings(), **kwargs)


@pytest.fixture(scope="session")
def database_name():
    name = f"tablegate_test_{uuid.uuid4().hex[:12]}"
    with admin_connect() as conn:
        conn.cursor().execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    yield name
    with admin_connect() as conn:
        conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


@pytest.fixture
def sql(database_name):
    """Run SQL directly in the test database (set-up and checking what the service wrote)."""
    conn = admin_connect(database_name)

    def run(statement: str, params=None):
        with conn.cursor() as cursor:
            cursor.execute(statement, params)
            return cursor.fetchall()

    yield run
    conn.close()


def make_config(database_name: str, **overrides) -> Config:
    """A Config for the test server and database; any field may be overridden."""
    settings = server_settings()
    return Config(**{
        "db_host": settings["host"], "db_port": settings["port"], "db_user": settings["user"],
        "db_password": settings["password"], "db_socket": settings["unix_socket"],
        "db_name": database_name, **overrides})


@pytest.fixture
def seed_tables(sql):
    """Fresh seed tables for each test that asks for them, and an empty import ledger: an
    earlier test's upload of the same file must not make this one's a 409."""
    for table in ("users", "kinds", Config().ledger_table):
        sql(f"DROP TABLE IF EXISTS `{table}`")
    for ddl in SEED_DDL:
        sql(ddl)


@pytest.fixture
def hostile_schema(sql):
    """``HOSTILE_DDL``, fresh for the test, dropped after it."""
    def drop() -> None:
        for kind_and_name in HOSTILE_OBJECTS:
            kind, name = kind_and_name.split()
            sql(f"DROP {kind} IF EXISTS {name}")

    drop()
    for statement in HOSTILE_DDL:
        sql(statement)
    yield
    drop()


@pytest.fixture
def make_app(database_name, seed_tables):
    """Apps built with non-default settings (``make_app(max_limit=5)``), closed afterwards."""
    from tablegate import create_app

    apps = []

    def build(**overrides):
        app = create_app(make_config(database_name, **overrides))
        apps.append(app)
        return app

    yield build
    for app in apps:
        if app.extensions.get("tablegate.console") is not None:
            app.extensions["tablegate.console"].close()
        app.extensions["tablegate.jobs"].close()  # no job thread outlives its test
        app.extensions["tablegate.importer"].close()
        app.extensions["tablegate"].executor.close()
        app.extensions["tablegate"].pool.close()


@pytest.fixture(scope="session")
def fake_llm():
    """A fake model server (tests/fake_llm.py); each test sets ``fake_llm.answer``."""
    from fake_llm import FakeLLM

    server = FakeLLM()
    yield server
    server.stop()


@pytest.fixture
def make_client(make_app):
    return lambda **overrides: make_app(**overrides).test_client()


@pytest.fixture
def app(make_app):
    return make_app()


@pytest.fixture
def client(app):
    return app.test_client()


def assert_envelope_error(response, status: int) -> dict:
    """The contract's error envelope (CONTRACT.md "Envelopes"), and nothing internal in it."""
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"timestamp", "error_code", "message", "retry_count", "details"}
    assert body["error_code"] == str(status)
    assert body["timestamp"].endswith("Z")
    assert isinstance(body["retry_count"], int)
    assert body["details"] is None or isinstance(body["details"], dict)
    text = response.get_data(as_text=True)
    for leak in ("Traceback", "SELECT ", "INSERT INTO", "tablegate_test_", "pymysql"):
        assert leak not in text, text
    assert response.headers.get("X-Request-ID")
    return body


def assert_envelope_success(response, status: int = 200) -> dict:
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"timestamp", "message", "data", "retry_count"}
    assert body["timestamp"].endswith("Z")
    assert response.headers.get("X-Request-ID")
    return body


def xlsx(*rows, sheets: dict | None = None) -> bytes:
    """A workbook whose first sheet, ``first``, holds ``rows``; ``sheets`` adds more by title."""
    workbook = openpyxl.Workbook()
    workbook.active.title = "first"
    for row in rows:
        workbook.active.append(row)
    for title, more in (sheets or {}).items():
        sheet = workbook.create_sheet(title)
        for row in more:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
