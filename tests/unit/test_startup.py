"""Start-up: a bad setting stops the service with one clear line; a missing database does not
stop it at all."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

from tablegate import create_app
from tablegate.config import Config

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_misconfiguration_fails_at_startup_with_one_line():
    env = dict(os.environ, TABLEGATE_RETRY_TIMEOUTS_MS="200,fast")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    assert result.stderr.strip().splitlines() == [
        "tablegate: configuration error: TABLEGATE_RETRY_TIMEOUTS_MS must be comma-separated "
        "whole numbers of milliseconds, got '200,fast'"]


def test_app_starts_without_a_database():
    # Port 9 (discard) on loopback: nothing listens, and creating the app must not try.
    app = create_app(Config(db_port=9, retry_timeouts_ms=(50,), retry_waits_ms=()))
    response = app.test_client().get("/health")
    assert response.status_code == 200
    assert app.extensions["tablegate"].pool.borrowed == 0
