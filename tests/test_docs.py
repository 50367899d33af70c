"""The docs are the user's manual: they name every setting and every route, and every example in
them runs.

Each page's ```console blocks are run in order, command by command, with bash, against the real
service (gunicorn with gunicorn.conf.py) serving a fresh copy of the demo database
(examples/demo.sql, the one scripts/serve.sh serves) in a uniquely named database; each
command's output must be the one the page shows, up to what differs from run to run
(timestamps, request ids, Date headers, import rates, row estimates, retry counts). So a page can be followed from
top to bottom on a fresh demo and gives what it says. ```sh blocks are shown, never run: docker,
serve.sh itself, the hash command.

A page whose examples need other settings says so in a comment that the test reads,
``<!-- examples run with: TABLEGATE_X=... -->``, and shows the same assignments in a ```sh
block, so that the reader starts the service as the examples did.
"""
from __future__ import annotations

import contextlib
import dataclasses
import os
import pathlib
import re
import shlex
import shutil
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest
from pymysql.constants import CLIENT

from conftest import admin_connect
from tablegate import create_app
from tablegate.config import Config, env_names

ROOT = pathlib.Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = ROOT / "docs"
PAGES = [README, *sorted(DOCS.glob("*.md"))]
OPERATIONS = DOCS / "operations.md"
API = DOCS / "api.md"
GUNICORN_ENV = re.findall(r"TABLEGATE_[A-Z_]+", (ROOT / "gunicorn.conf.py").read_text())
# (TABLEGATE_DB_* in a comment names no variable.)
SCRIPTS_ENV = re.findall(r"TABLEGATE_[A-Z_]*[A-Z]\b",
                         "".join(p.read_text() for p in (ROOT / "scripts").glob("*.sh")))
README_MAX_LINES = 250

#: The settings that say where the test server is; the service gets no other from outside.
SERVER_ADDRESS = frozenset({"TABLEGATE_DB_HOST", "TABLEGATE_DB_PORT", "TABLEGATE_DB_USER",
                            "TABLEGATE_DB_PASSWORD", "TABLEGATE_DB_SOCKET"})

#: What the examples call the service; rewritten to the test's own port.
DOCUMENTED_ADDRESS = "localhost:8000"
COMMAND_TIMEOUT_S = 120

FENCE = re.compile(r"^```(\w*)\n(.*?)^```$", re.S | re.M)
SETTINGS_COMMENT = re.compile(r"<!-- examples run with: (.*?) -->")

#: Parts of an output that differ from run to run, each replaced by a fixed word on both sides.
VOLATILE = [
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z"), "<timestamp>"),
    (re.compile(r"^Date: .*$", re.M), "Date: <date>"),
    (re.compile(r"^X-Request-ID: [0-9a-f]{32}$", re.M), "X-Request-ID: <request id>"),
    (re.compile(r'"rows_per_second":[0-9.]+'), '"rows_per_second":<rate>'),
    # InnoDB's estimate, from statistics that are refreshed in the background.
    (re.compile(r'"estimated_rows":(?:\d+|null)'), '"estimated_rows":<estimate>'),
    # A loaded machine may take longer than the first attempt's 200 ms for a statement (the
    # ledger's CREATE TABLE on first use, say); the retry changes nothing else in the answer.
    (re.compile(r'"retry_count":\d+'), '"retry_count":<retries>'),
]


@dataclasses.dataclass(frozen=True)
class Example:
    command: str
    output: str
    line: int  # of the command in its page, for failure messages


def fenced(text: str, language: str) -> list[tuple[int, str]]:
    """(line of the first line inside, body) of each block fenced as ``language``."""
    return [(text.count("\n", 0, m.start(2)) + 1, m.group(2))
            for m in FENCE.finditer(text) if m.group(1) == language]


def examples(text: str) -> list[Example]:
    """``$ `` starts a command (a line ending in ``\\`` continues it); the lines up to the next
    command are its output, trailing blank lines aside."""
    found = []
    for first, body in fenced(text, "console"):
        lines = body.splitlines()
        index = 0
        while index < len(lines):
            if not lines[index].startswith("$ "):
                raise AssertionError(f"line {first + index}: output before any `$ ` command")
            line, command = first + index, lines[index][2:]
            while command.endswith("\\") and index + 1 < len(lines):
                index += 1
                command += "\n" + lines[index]
            index += 1
            output = []
            while index < len(lines) and not lines[index].startswith("$ "):
                output.append(lines[index])
                index += 1
            found.append(Example(command, "\n".join(output).rstrip(), line))
    return found


def page_settings(text: str) -> dict[str, str]:
    comment = SETTINGS_COMMENT.search(text)
    if comment is None:
        return {}
    settings = dict(word.split("=", 1) for word in shlex.split(comment.group(1)))
    assert not {"TABLEGATE_DB_NAME", "TABLEGATE_BIND"} & set(settings), (
        "the test chooses the database and the address itself")
    shown = "\n".join(body for _, body in fenced(text, "sh"))
    assert comment.group(1) in shown, (
        f"the settings the examples run with, {comment.group(1)}, are not shown in a sh block")
    return settings


def normalise(output: str) -> str:
    output = output.replace("\r\n", "\n").rstrip()
    for pattern, word in VOLATILE:
        output = pattern.sub(word, output)
    return output


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def demo_database() -> Iterator[str]:
    """A fresh copy of the demo database under a name no other test uses; dropped after."""
    name = f"tablegate_test_{uuid.uuid4().hex[:12]}"
    with admin_connect(client_flag=CLIENT.MULTI_STATEMENTS) as conn, conn.cursor() as cursor:
        cursor.execute(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        cursor.execute(f"USE `{name}`")
        cursor.execute((ROOT / "examples" / "demo.sql").read_text(encoding="utf-8"))
        while cursor.nextset():
            pass
    try:
        yield name
    finally:
        with admin_connect() as conn:
            conn.cursor().execute(f"DROP DATABASE IF EXISTS `{name}`")


@contextlib.contextmanager
def service(database: str, settings: dict[str, str], workdir: pathlib.Path) -> Iterator[str]:
    """gunicorn as serve.sh runs it, on a free loopback port; yields its address. Of the
    environment's settings only where the server is: the service runs with its defaults unless
    the page says otherwise. One worker: the answers do not depend on how many, and the machine
    is shared."""
    address = f"127.0.0.1:{free_port()}"
    metrics_dir = workdir / "metrics"
    metrics_dir.mkdir()
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TABLEGATE_") or name in SERVER_ADDRESS}
    env |= {"TABLEGATE_WORKERS": "1", **settings, "TABLEGATE_DB_NAME": database,
            "TABLEGATE_BIND": address, "PROMETHEUS_MULTIPROC_DIR": str(metrics_dir)}
    log = workdir / "gunicorn.log"
    gunicorn = pathlib.Path(sys.executable).with_name("gunicorn")
    with open(log, "wb") as out:
        process = subprocess.Popen([str(gunicorn), "-c", "gunicorn.conf.py", "wsgi:app"],
                                   cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        _wait_for_listener(address, process, log)
        yield address
    finally:
        process.terminate()
        try:
            process.wait(timeout=40)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_listener(address: str, process: subprocess.Popen, log: pathlib.Path) -> None:
    """A TCP connect, not an HTTP request: a request would count in the metrics the examples
    show. A request made before the worker is up waits in the listen queue."""
    host, port = address.split(":")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"gunicorn exited:\n{log.read_text(errors='replace')}")
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 0.5):
            return
        time.sleep(0.1)
    raise AssertionError(f"gunicorn did not listen on {address}")


def run(example: Example, address: str, workdir: pathlib.Path) -> str:
    result = subprocess.run(["bash", "-c", example.command.replace(DOCUMENTED_ADDRESS, address)],
                            cwd=workdir, capture_output=True, text=True,
                            timeout=COMMAND_TIMEOUT_S)
    assert result.returncode == 0 and not result.stderr, (
        f"line {example.line}: `{example.command}` exited {result.returncode}:\n"
        f"{result.stdout}{result.stderr}")
    return result.stdout


@contextlib.contextmanager
def page_service(text: str, workdir: pathlib.Path) -> Iterator[str]:
    """The service on a fresh demo database with the page's settings; the examples run in
    ``workdir``, which holds a copy of examples/ (an example may write a file there) and the
    venv."""
    shutil.copytree(ROOT / "examples", workdir / "examples")
    (workdir / ".venv").symlink_to(ROOT / ".venv")
    with demo_database() as database, service(database, page_settings(text), workdir) as address:
        yield address


# --- the pages -------------------------------------------------------------------------------

PAGES_WITH_EXAMPLES = [p for p in PAGES if examples(p.read_text(encoding="utf-8"))]


@pytest.mark.parametrize("page", PAGES_WITH_EXAMPLES, ids=lambda p: p.name)
def test_examples_give_what_the_page_shows(page, tmp_path):
    text = page.read_text(encoding="utf-8")
    with page_service(text, tmp_path) as address:
        for example in examples(text):
            output = run(example, address, tmp_path)
            assert normalise(output) == normalise(example.output), (
                f"{page.name} line {example.line}: `{example.command}` printed:\n{output}")


def test_pages_have_examples():
    """The pages that teach by example still do (a broken fence would skip them silently)."""
    names = {p.name for p in PAGES_WITH_EXAMPLES}
    assert {"README.md", "api.md", "values.md", "import-export.md", "security.md",
            "resiliency.md", "operations.md"} <= names


def test_readme_is_short_and_links_every_page():
    readme = README.read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= README_MAX_LINES
    for page in DOCS.glob("*.md"):
        assert f"](docs/{page.name})" in readme, f"README does not link docs/{page.name}"


def _anchors(text: str) -> set[str]:
    """GitHub's ids for the page's headings."""
    return {re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
            for title in re.findall(r"^#+ (.*)$", text, re.M)}


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_links_between_pages_resolve(page):
    text = page.read_text(encoding="utf-8")
    for target, anchor in re.findall(r"\]\(([^)#:\s]*)(?:#([^)\s]+))?\)", text):
        linked = (page.parent / target).resolve() if target else page
        assert linked.exists(), f"{page.name}: no {target}"
        if anchor:
            assert anchor in _anchors(linked.read_text(encoding="utf-8")), (
                f"{page.name}: no heading #{anchor} in {linked.name}")


def test_readme_starts_with_the_two_commands():
    first_block = fenced(README.read_text(encoding="utf-8"), "sh")[0][1]
    assert "bash scripts/serve.sh" in first_block and "bash scripts/test.sh" in first_block


def test_examples_use_only_shipped_files():
    """An uploaded file is under examples/ (shipped, or generated there by an earlier command of
    the page), or standard input: what a reader has at the repository's root."""
    for page in PAGES_WITH_EXAMPLES:
        for example in examples(page.read_text(encoding="utf-8")):
            for path in re.findall(r"file=@([^\s;\"']+)", example.command):
                if path == "-":
                    continue
                assert path.startswith("examples/"), (page.name, example.line, path)


# --- settings and routes ---------------------------------------------------------------------

@pytest.mark.parametrize("name", sorted(set(env_names() + GUNICORN_ENV + SCRIPTS_ENV)))
def test_every_setting_is_documented(name):
    assert re.search(rf"^\|\s*`{name}`\s*\|", OPERATIONS.read_text(encoding="utf-8"), re.M), (
        f"{name} is missing from the settings table of docs/operations.md")


def _routes() -> list[tuple[str, str]]:
    app = create_app(Config())  # opens no connection
    found = []
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            found.append((method, path))
    return found


@pytest.mark.parametrize("method, path", _routes())
def test_every_route_is_documented(method, path):
    assert re.search(rf"\|\s*{method}\s*\|\s*`{re.escape(path)}`", API.read_text("utf-8")), (
        f"{method} {path} is missing from the endpoint table of docs/api.md")
