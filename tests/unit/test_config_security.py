"""The settings of issue 6 (keys, exposure, read-only, CORS) read from the environment."""
from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from tablegate.config import Config, ConfigError

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_defaults_are_open_and_quiet():
    config = Config()
    assert (config.api_keys, config.api_keys_file, config.tables, config.deny_tables,
            config.read_only, config.cors_origins) == ("", None, (), (), False, ())


def test_from_env_reads_lists_and_flags():
    config = Config.from_env({
        "TABLEGATE_TABLES": "users, orders,,", "TABLEGATE_DENY_TABLES": "audit_log",
        "TABLEGATE_READ_ONLY": "True", "TABLEGATE_CORS_ORIGINS": "https://a.example,*",
        "TABLEGATE_API_KEYS": " sha256:ab=*:r ", "TABLEGATE_API_KEYS_FILE": "",
    })
    assert config.tables == ("users", "orders")
    assert config.deny_tables == ("audit_log",)
    assert config.read_only is True
    assert config.cors_origins == ("https://a.example", "*")
    assert config.api_keys == "sha256:ab=*:r"  # checked by tablegate.api.auth at start-up
    assert config.api_keys_file is None


@pytest.mark.parametrize("raw, expected", [("1", True), ("yes", True), ("on", True),
                                           ("0", False), ("false", False), ("", False)])
def test_read_only_spellings(raw, expected):
    assert Config.from_env({"TABLEGATE_READ_ONLY": raw}).read_only is expected


@pytest.mark.parametrize("environ, fragment", [
    pytest.param({"TABLEGATE_READ_ONLY": "maybe"}, "TABLEGATE_READ_ONLY must be true or false",
                 id="read-only-word"),
    pytest.param({"TABLEGATE_CORS_ORIGINS": "app.example"},
                 "TABLEGATE_CORS_ORIGINS entries must be * or start with http",
                 id="origin-without-scheme"),
])
def test_misconfiguration_is_one_clear_line(environ, fragment):
    with pytest.raises(ConfigError) as raised:
        Config.from_env(environ)
    assert fragment in str(raised.value) and "\n" not in str(raised.value)


def test_a_bad_key_entry_stops_the_service_with_one_line():
    """The entry may be a key pasted by mistake: the line names its number, never its text."""
    env = dict(os.environ, TABLEGATE_API_KEYS="my-secret-key")
    result = subprocess.run([sys.executable, "-c", "import wsgi"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3  # gunicorn's worker-boot-error status (issue 13)
    assert result.stderr.strip().splitlines() == [
        "tablegate: configuration error: TABLEGATE_API_KEYS entry 1 must look like "
        "sha256:<64 hex digits>=<table>:<r|w|rw>[,...]"]
