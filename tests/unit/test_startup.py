"""Start-up: a bad setting stops the service with one clear line, gunicorn included; a missing
database does not stop it at all."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from tablegate import create_app
from tablegate.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[2]
GUNICORN = pathlib.Path(sys.executable).with_name("gunicorn")

#: gunicorn's worker-boot-error status: its arbiter halts when a worker exits with it.
WORKER_BOOT_ERROR = 3


def test_misconfiguration_fails_at_startup_with_one_line():
    env = dict(os.environ, TABLEGATE_RETRY_TIMEOUTS_MS="200,fast")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == WORKER_BOOT_ERROR
    assert result.stderr.strip().splitlines() == [
        "tablegate: configuration error: TABLEGATE_RETRY_TIMEOUTS_MS must be comma-separated "
        "whole numbers of milliseconds, got '200,fast'"]


def gunicorn(tmp_path, *args: str, **settings: str) -> subprocess.CompletedProcess:
    """gunicorn on a free loopback port with ``settings`` in its environment; the timeout fails
    the test if it keeps running (issue 13: the master booted workers in a loop)."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith("TABLEGATE_")}
    env |= {"TABLEGATE_BIND": "127.0.0.1:0", "TABLEGATE_WORKERS": "1",
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path), **settings}
    return subprocess.run([str(GUNICORN), *args, "wsgi:app"], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("name, value, line", [
    pytest.param("TABLEGATE_DB_PORT", "abc",
                 "TABLEGATE_DB_PORT must be a whole number, got 'abc'", id="service-setting"),
    pytest.param("TABLEGATE_WORKERS", "many",
                 "TABLEGATE_WORKERS must be a whole number, got 'many'", id="gunicorn-setting"),

])
def test_a_bad_setting_stops_gunicorn_before_it_forks(tmp_path, name, value, line):
    """Issue 13: ``TABLEGATE_DB_PORT=abc gunicorn -c gunicorn.conf.py wsgi:app`` kept the port
    and booted 46 workers in 6 s. The configuration file checks every setting first."""
    result = gunicorn(tmp_path, "-c", "gunicorn.conf.py", **{name: value})
    assert result.returncode != 0
    assert result.stderr.strip().splitlines() == [f"tablegate: configuration error: {line}"]
    assert "Booting worker" not in result.stdout + result.stderr


@pytest.mark.parametrize("configuration, name, value, line", [
    pytest.param(None, "TABLEGATE_DB_PORT", "abc",
                 "TABLEGATE_DB_PORT must be a whole number, got 'abc'",
                 id="without-the-configuration-file"),
    pytest.param("gunicorn.conf.py", "TABLEGATE_API_KEYS", "my-secret-key",
                 "TABLEGATE_API_KEYS entry 1 must look like "
                 "sha256:<64 hex digits>=<table>:<r|w|rw>[,...]", id="api-keys-parsed-by-the-app"),
])
def test_a_setting_the_worker_refuses_halts_gunicorn(tmp_path, configuration, name, value, line):
    """The worker that finds the setting exits with the worker-boot-error status, and gunicorn
    stops after that one worker instead of booting another."""
    if configuration is None:
        configuration = tmp_path / "bare.conf.py"
        configuration.write_text("control_socket_disable = True\n")  # no shared socket taken
    result = gunicorn(tmp_path, "-c", str(configuration), "--bind", "127.0.0.1:0",
                      **{name: value})
    assert result.returncode == WORKER_BOOT_ERROR
    log = result.stdout + result.stderr
    assert log.count("Booting worker") == 1
    assert log.count(f"tablegate: configuration error: {line}") == 1


def test_app_starts_without_a_database():
    # Port 9 (discard) on loopback: nothing listens, and creating the app must not try.
    app = create_app(Config(db_port=9, retry_timeouts_ms=(50,), retry_waits_ms=()))
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert app.extensions["tablegate"].pool.borrowed == 0
