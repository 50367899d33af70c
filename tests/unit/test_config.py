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


# --- the idle transaction timeout (issue 20) ----------------------------------------------

@pytest.mark.parametrize("overrides, seconds", [
    pytest.param({}, 4, id="default-schedule"),
    pytest.param({"retry_timeouts_ms": (200, 250, 300, 350), "retry_waits_ms": (50, 100, 150)},
                 3, id="short-schedule"),
    pytest.param({"retry_timeouts_ms": (1000, 2000, 4000, 8000)}, 10, id="raised-schedule"),
    pytest.param({"idle_transaction_timeout_s": 2}, 2, id="explicit"),
])
def test_idle_transaction_timeout_is_above_the_longest_attempt(overrides, seconds):
    config = Config(**overrides)
    assert config.idle_transaction_s == seconds
    assert config.idle_transaction_s * 1000 > max(config.retry_timeouts_ms)


def test_idle_transaction_timeout_from_env():
    assert Config.from_env({"TABLEGATE_IDLE_TRANSACTION_TIMEOUT_S": "7"}).idle_transaction_s == 7
    assert Config.from_env({"TABLEGATE_IDLE_TRANSACTION_TIMEOUT_S": ""}).idle_transaction_s == 4


@pytest.mark.parametrize("environ", [
    pytest.param({"TABLEGATE_IDLE_TRANSACTION_TIMEOUT_S": "1"}, id="below-longest-attempt"),
    pytest.param({"TABLEGATE_IDLE_TRANSACTION_TIMEOUT_S": "0"}, id="off"),
    pytest.param({"TABLEGATE_IDLE_TRANSACTION_TIMEOUT_S": "2",
                  "TABLEGATE_RETRY_TIMEOUTS_MS": "200,2000", "TABLEGATE_RETRY_WAITS_MS": "10"},
                 id="equal-to-longest-attempt"),
])
def test_idle_transaction_timeout_at_or_below_an_attempt_is_refused(environ):
    with pytest.raises(ConfigError, match="TABLEGATE_IDLE_TRANSACTION_TIMEOUT_S must be above "
                                          "the longest of TABLEGATE_RETRY_TIMEOUTS_MS"):
        Config.from_env(environ)
