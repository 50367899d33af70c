from __future__ import annotations

import pytest

from tablegate.config import Config, ConfigError


def test_defaults_are_the_contract_schedule():
    assert Config().schedule == ((200, 0), (400, 400), (800, 800), (1600, 1600))


def test_from_env_reads_prefixed_variables():
    config = Config.from_env({
        "TABLEGATE_DB_HOST": "db.internal", "TABLEGATE_DB_PORT": "3307",
        "TABLEGATE_RETRY_TIMEOUTS_MS": "100, 200", "TABLEGATE_RETRY_WAITS_MS": "50",
        "TABLEGATE_DB_SOCKET": "", "OTHER": "ignored",
    })
    assert (config.db_host, config.db_port) == ("db.internal", 3307)
    assert config.schedule == ((100, 0), (200, 50))
    assert config.db_socket is None


@pytest.mark.parametrize("environ, pool_size", [
    pytest.param({}, 8, id="default"),
    pytest.param({"TABLEGATE_THREADS": "12"}, 12, id="one-per-gunicorn-thread"),
    pytest.param({"TABLEGATE_THREADS": "12", "TABLEGATE_POOL_SIZE": "4"}, 4, id="explicit-wins"),
])
def test_pool_follows_gunicorn_threads(environ, pool_size):
    assert Config.from_env(environ).pool_size == pool_size


def test_threads_that_are_not_a_number_are_one_clear_line():
    with pytest.raises(ConfigError, match="TABLEGATE_THREADS must be a whole number"):
        Config.from_env({"TABLEGATE_THREADS": "many"})


@pytest.mark.parametrize("environ, fragment", [
    pytest.param({"TABLEGATE_DB_PORT": "abc"}, "TABLEGATE_DB_PORT must be a whole number",
                 id="port-not-number"),
    pytest.param({"TABLEGATE_DB_PORT": "70000"}, "between 1 and 65535", id="port-range"),
    pytest.param({"TABLEGATE_POOL_SIZE": "0"}, "TABLEGATE_POOL_SIZE must be at least 1",
                 id="pool-zero"),
    pytest.param({"TABLEGATE_RETRY_TIMEOUTS_MS": "200,x"}, "comma-separated",
                 id="timeouts-not-numbers"),
    pytest.param({"TABLEGATE_RETRY_WAITS_MS": "400,800"}, "one wait per retry",
                 id="waits-count"),
    pytest.param({"TABLEGATE_LOG_LEVEL": "LOUD"}, "TABLEGATE_LOG_LEVEL must be one of",
                 id="log-level"),
    pytest.param({"TABLEGATE_DEFAULT_LIMIT": "20000"}, "must not exceed", id="limit-order"),
    pytest.param({"TABLEGATE_LEDGER_TABLE": "x" * 65}, "TABLEGATE_LEDGER_TABLE must be a table",
                 id="ledger-name-too-long"),
    pytest.param({"TABLEGATE_LEDGER_TABLE": "bad\udc80name"}, "TABLEGATE_LEDGER_TABLE must be",
                 id="ledger-name-not-utf8"),
])
def test_misconfiguration_is_one_clear_line(environ, fragment):
    with pytest.raises(ConfigError) as raised:
        Config.from_env(environ)
    assert fragment in str(raised.value)
    assert "\n" not in str(raised.value)
