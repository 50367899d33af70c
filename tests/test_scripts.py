"""scripts/serve.sh and scripts/stop.sh, run for real with a throwaway MariaDB of their own.

The scripts are copied into a directory of the test's (they find the checkout from their own
place), so their ``.tablegate/`` is the test's and never this checkout's. The database address
they are given has nothing listening, so serve.sh takes the throwaway-server path, on a free
port; the server the rest of the suite uses is checked to be still there afterwards.
"""
from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import signal
import socket
import subprocess
import time
import urllib.request

import pytest

from conftest import admin_connect

ROOT = pathlib.Path(__file__).resolve().parent.parent

pytestmark = pytest.mark.skipif(
    shutil.which("mariadbd", path=os.environ.get("PATH", "") + ":/usr/sbin") is None,
    reason="mariadbd is not installed (the scripts would install it with apt)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def checkout(tmp_path_factory) -> pathlib.Path:
    """The scripts in a copy of their own, beside links to what they run."""
    root = tmp_path_factory.mktemp("checkout")
    shutil.copytree(ROOT / "scripts", root / "scripts")
    for name in (".venv", "requirements.txt", "gunicorn.conf.py", "wsgi.py", "tablegate",
                 "examples"):
        (root / name).symlink_to(ROOT / name)
    yield root
    subprocess.run(["bash", "scripts/stop.sh", "--clean"], cwd=root, timeout=90)


@pytest.fixture(scope="module")
def env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("TABLEGATE_DB_SOCKET", "TABLEGATE_DB_NAME", "TABLEGATE_DEMO")}
    return env | {"TABLEGATE_DB_HOST": "127.0.0.1", "TABLEGATE_DB_PORT": str(free_port()),
                  "TABLEGATE_LOCAL_DB_PORT": str(free_port()),
                  "TABLEGATE_BIND": f"127.0.0.1:{free_port()}", "TABLEGATE_WORKERS": "1"}


def serve(checkout: pathlib.Path, env: dict[str, str]) -> subprocess.Popen:
    """serve.sh leading a process group of its own, as in a terminal; up once it answers. Its
    output goes to ``serve.log``: a pipe nobody reads while it runs could fill and stall it."""
    with open(checkout / "serve.log", "w") as log:
        process = subprocess.Popen(["bash", "scripts/serve.sh"], cwd=checkout, env=env,
                                   stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{env['TABLEGATE_BIND']}/api/tables"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert process.poll() is None, (checkout / "serve.log").read_text()
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(url, timeout=2) as response:
                assert b'"users"' in response.read()
                return process
        time.sleep(0.5)
    process.kill()
    raise AssertionError("serve.sh did not come up")


def local_db_pid(checkout: pathlib.Path) -> int | None:
    pid_file = checkout / ".tablegate" / "mariadb" / "mariadbd.pid"
    return int(pid_file.read_text()) if pid_file.exists() else None


def running(pid: int | None) -> bool:
    """Alive and not a zombie."""
    try:
        return pid is not None and pathlib.Path(f"/proc/{pid}/cmdline").read_bytes() != b""
    except OSError:
        return False


def listening(address: str) -> bool:
    host, port = address.split(":")
    with contextlib.suppress(OSError), socket.create_connection((host, int(port)), 1):
        return True
    return False


def test_a_named_database_that_does_not_answer_is_an_error(checkout, env):
    """Not a throwaway server with an empty database in its place."""
    result = subprocess.run(["bash", "scripts/serve.sh"], cwd=checkout, timeout=60,
                            env=env | {"TABLEGATE_DB_NAME": "shop"}, capture_output=True,
                            text=True)
    assert result.returncode == 1
    assert "no MariaDB answers at" in result.stderr
    assert not (checkout / ".tablegate").exists()


def test_ctrl_c_stops_gunicorn_and_the_server_this_run_started(checkout, env):
    process = serve(checkout, env)
    pid = local_db_pid(checkout)
    assert running(pid)
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C sends to the terminal's foreground job
    process.wait(timeout=90)
    output = (checkout / "serve.log").read_text()
    assert process.returncode == 130, output
    assert f"stopped the local MariaDB (pid {pid})" in output
    assert not running(pid) and not listening(env["TABLEGATE_BIND"])
    with admin_connect() as conn:  # the suite's own server is untouched
        conn.ping()


def test_a_server_that_was_running_is_left_to_stop_sh(checkout, env):
    started = subprocess.run(["bash", "-c", "source scripts/lib.sh && start_local_db"],
                             cwd=checkout, env=env, capture_output=True, text=True, timeout=90)
    assert started.returncode == 0, started.stderr
    pid = local_db_pid(checkout)
    process = serve(checkout, env)
    process.terminate()  # SIGTERM to serve.sh alone, as a service manager sends it
    process.wait(timeout=90)
    output = (checkout / "serve.log").read_text()
    assert process.returncode == 143, output
    assert "using the local MariaDB already running" in output
    assert running(pid) and not listening(env["TABLEGATE_BIND"])

    stop = subprocess.run(["bash", "scripts/stop.sh"], cwd=checkout, env=env,
                          capture_output=True, text=True, timeout=90)
    assert stop.returncode == 0 and f"stopped the local MariaDB (pid {pid})" in stop.stderr
    assert not running(pid)
    assert (checkout / ".tablegate" / "mariadb" / "data").is_dir()

    clean = subprocess.run(["bash", "scripts/stop.sh", "--clean"], cwd=checkout, env=env,
                           capture_output=True, text=True, timeout=90)
    assert clean.returncode == 0, clean.stderr
    assert not (checkout / ".tablegate").exists()
    with admin_connect() as conn:
        conn.ping()
