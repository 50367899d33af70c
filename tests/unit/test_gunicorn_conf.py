"""gunicorn.conf.py: the warning for a service open beyond localhost without keys, and the
metrics directory shared by the workers."""
from __future__ import annotations

import logging
import os
import pathlib
import runpy
import tempfile

import pytest

CONF = pathlib.Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


class FakeServer:
    def __init__(self) -> None:
        self.log = logging.getLogger("test.gunicorn")


def load(monkeypatch, **env: str) -> dict:
    for name in ("TABLEGATE_BIND", "TABLEGATE_API_KEYS", "TABLEGATE_API_KEYS_FILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return runpy.run_path(str(CONF))


@pytest.mark.parametrize("bind, env, warned", [
    pytest.param(None, {}, True, id="default-all-interfaces"),
    pytest.param("0.0.0.0:8000", {}, True, id="all-interfaces"),
    pytest.param("10.1.2.3:8000", {}, True, id="lan-address"),
    pytest.param("[::]:8000", {}, True, id="ipv6-any"),
    pytest.param("127.0.0.1:8000", {}, False, id="loopback"),
    pytest.param("localhost:8000", {}, False, id="localhost"),
    pytest.param("[::1]:8000", {}, False, id="ipv6-loopback"),
    pytest.param("unix:/run/tablegate.sock", {}, False, id="unix-socket"),
    pytest.param("0.0.0.0:8000", {"TABLEGATE_API_KEYS": "sha256:..."}, False, id="keys"),
    pytest.param("0.0.0.0:8000", {"TABLEGATE_API_KEYS_FILE": "/keys"}, False, id="keys-file"),
])
def test_warns_when_open_beyond_localhost_without_keys(monkeypatch, caplog, bind, env, warned):
    conf = load(monkeypatch, **({"TABLEGATE_BIND": bind} if bind else {}), **env)
    with caplog.at_level(logging.WARNING, logger="test.gunicorn"):
        conf["when_ready"](FakeServer())
    assert any("without API keys" in r.getMessage() for r in caplog.records) is warned


def test_sets_up_an_empty_multiprocess_directory(monkeypatch, tmp_path):
    stale = tmp_path / "counter_123.db"
    stale.write_bytes(b"old")
    conf = load(monkeypatch)
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf["on_starting"](FakeServer())
    assert not stale.exists()


def test_makes_a_multiprocess_directory_when_none_is_given(monkeypatch):
    conf = load(monkeypatch)
    previous = os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    try:
        conf["on_starting"](FakeServer())
        made = os.environ["PROMETHEUS_MULTIPROC_DIR"]
        assert made.startswith(tempfile.gettempdir())
        assert os.path.isdir(made) and os.listdir(made) == []
        os.rmdir(made)
    finally:  # this process's metrics must stay single-process for the other tests
        os.environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
        if previous is not None:
            os.environ["PROMETHEUS_MULTIPROC_DIR"] = previous


def test_settings_against_slow_clients(monkeypatch):
    conf = load(monkeypatch)
    assert conf["worker_class"] == "gthread"
    assert conf["timeout"] <= 60 and conf["keepalive"] <= 10
    assert conf["limit_request_line"] and conf["limit_request_fields"]
    assert conf["accesslog"] is None  # tablegate writes its own JSON line per request
