"""Settings, read once from ``TABLEGATE_*`` environment variables.

Every knob lives in one frozen object so that tests build a ``Config(...)`` directly instead
of patching the environment, and so that a typo in the environment fails at start-up with one
clear line instead of as a 500 on the first request.
"""
from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass

from tablegate.names import could_name_a_table

PREFIX = "TABLEGATE_"


class ConfigError(ValueError):
    """A setting that cannot be used; the message names the variable."""


@dataclass(frozen=True)
class Config:
    db_host: str = "127.0.0.1"
    db_port: int = 3306
    db_user: str = "root"
    db_password: str = ""
    db_name: str = "test"
    db_socket: str | None = None
    #: Connections in the pool, and worker threads in the executor: one per connection.
    pool_size: int = 8
    #: Attempt timeouts (CONTRACT.md "Resiliency").
    retry_timeouts_ms: tuple[int, ...] = (200, 400, 800, 1600)
    #: Waits before retries 1..n; one fewer than the timeouts.
    retry_waits_ms: tuple[int, ...] = (400, 800, 1600)
    #: Seconds MariaDB lets a transaction of the gateway sit idle before it rolls it back and
    #: drops the connection; unset: ``idle_transaction_s`` derives it from the schedule.
    idle_transaction_timeout_s: int | None = None
    #: Largest JSON body accepted (413 above).
    max_body_bytes: int = 1024 * 1024
    #: Largest CSV upload accepted (413 above).
    max_upload_bytes: int = 1024 * 1024 * 1024
    default_limit: int = 100
    max_limit: int = 10_000
    #: Rows in one bulk insert request (413 above).
    max_bulk_rows: int = 10_000
    import_chunk_rows: int = 1000
    import_max_errors: int = 100
    export_batch_rows: int = 2000
    #: Largest total an XLSX upload may inflate to, as its zip declares it (413 above).
    import_max_inflated_bytes: int = 512 * 1024 * 1024
    log_level: str = "INFO"
    #: API keys as ``sha256:<hex>=<table>:<r|w|rw>,...`` entries separated by ``;`` (docs/
    #: security.md); parsed and checked by ``tablegate.api.auth``. Empty with no file: keys are off.
    api_keys: str = ""
    #: A file of the same entries, one per line, ``#`` comments allowed.
    api_keys_file: str | None = None
    #: Allow-list of exposed tables; empty exposes every table of the database.
    tables: tuple[str, ...] = ()
    #: Tables never exposed, even when the allow-list names them.
    deny_tables: tuple[str, ...] = ()
    #: Refuse every write with 403.
    read_only: bool = False
    #: Origins allowed by CORS; empty sends no CORS headers at all.
    cors_origins: tuple[str, ...] = ()
    #: The import ledger, a table of tablegate's own in the served database, never exposed.
    ledger_table: str = "tablegate_imports"
    #: Threads per process that run background imports; more jobs wait as ``pending``.
    job_threads: int = 2
    #: Background imports pending or running at once across every worker (429 beyond).
    max_jobs: int = 4
    #: An upload larger than this runs in the background unless ``?async=false``.
    async_upload_bytes: int = 64 * 1024 * 1024
    #: A pending or running import whose heartbeat is older than this was cut off: failed.
    job_stale_seconds: int = 30
    #: ``POST /api/console/ask`` (docs/console.md): off unless true and a provider is set.
    console: bool = False
    #: The model behind the console: ``anthropic`` (the Messages API) or ``openai`` (any
    #: OpenAI-compatible chat completions endpoint at ``llm_base_url``); empty: no model.
    llm_provider: str = ""
    llm_model: str = ""
    #: Empty for ``anthropic``: the SDK reads ``ANTHROPIC_API_KEY``.
    llm_api_key: str = ""
    #: Required for ``openai`` (``http://127.0.0.1:8080/v1``); optional for ``anthropic``.
    llm_base_url: str | None = None
    llm_timeout_seconds: int = 60
    #: Rows the console returns at most; more are cut off and marked ``truncated``.
    console_max_rows: int = 1000
    #: The server stops a console query after this long (``max_statement_time``).
    console_statement_ms: int = 3000
    #: Rows per table shown to the model as examples; 0 (the default) sends the schema only.
    console_sample_rows: int = 0
    #: A database user with SELECT only, for console queries: the strongest guard.
    console_db_user: str | None = None
    console_db_password: str = ""

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise ConfigError(problems[0])

    @property
    def schedule(self) -> tuple[tuple[int, int], ...]:
        """``(timeout_ms, wait_before_ms)`` per attempt; the first attempt waits 0."""
        return tuple(zip(self.retry_timeouts_ms, (0, *self.retry_waits_ms)))

    @property
    def idle_transaction_s(self) -> int:
        """The server-side bound on an idle transaction of the gateway, in whole seconds
        (issue 20): what frees the locks of an attempt that was given up when its KILL cannot get
        through and its client side never speaks again.

        Unset, it is the longest attempt rounded up, plus two seconds: a transaction is idle only
        between the statements of its attempt, but a COMMIT held up by the network is still
        waited for, and rolling it back under that wait would turn a write that could have
        landed into a "commit unknown"."""
        if self.idle_transaction_timeout_s is not None:
            return self.idle_transaction_timeout_s
        return math.ceil(max(self.retry_timeouts_ms, default=0) / 1000) + 2

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for field in dataclasses.fields(cls):
            name = PREFIX + field.name.upper()
            raw = environ.get(name)
            if raw is None:
                continue
            values[field.name] = _parse(name, raw, field.type)
        # One pooled connection per gunicorn thread unless told otherwise: fewer makes threads
        # queue for a connection inside their attempt's timeout, more are never used.
        threads = environ.get(PREFIX + "THREADS")
        if "pool_size" not in values and threads is not None:
            values["pool_size"] = _parse(PREFIX + "THREADS", threads, "int")
        return cls(**values)


def env_names() -> list[str]:
    """Every environment variable the service reads (the docs test checks docs/operations.md)."""
    return [PREFIX + f.name.upper() for f in dataclasses.fields(Config)]


def _parse(name: str, raw: str, kind: str) -> object:
    raw = raw.strip()
    if kind == "int":
        try:
            return int(raw)
        except ValueError:
            raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if kind == "tuple[int, ...]":
        try:
            return tuple(int(part) for part in raw.split(","))
        except ValueError:
            raise ConfigError(
                f"{name} must be comma-separated whole numbers of milliseconds, got {raw!r}"
            ) from None
    if kind == "tuple[str, ...]":
        return tuple(part.strip() for part in raw.split(",") if part.strip())
    if kind == "bool":
        if raw and raw.lower() not in TRUE_WORDS | FALSE_WORDS:
            raise ConfigError(f"{name} must be true or false, got {raw!r}")
        return raw.lower() in TRUE_WORDS
    if kind == "str | None":
        return raw or None
    if kind == "int | None":
        return _parse(name, raw, "int") if raw else None
    return raw


#: The console's model providers; empty is none.
LLM_PROVIDERS = ("", "anthropic", "openai")

#: The words for true and false, in settings and in query strings alike (case-insensitive); an
#: empty setting is false too.
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off"})


def _problems(config: Config) -> list[str]:
    problems = []
    for name in ("db_port", "pool_size", "max_body_bytes", "max_upload_bytes", "default_limit",
                 "max_limit", "max_bulk_rows", "import_chunk_rows", "import_max_errors",
                 "export_batch_rows", "import_max_inflated_bytes", "job_threads", "max_jobs",
                 "async_upload_bytes", "llm_timeout_seconds", "console_max_rows",
                 "console_statement_ms"):
        if getattr(config, name) < 1:
            problems.append(f"{PREFIX}{name.upper()} must be at least 1")
    if not 1 <= config.db_port <= 65535:
        problems.append(f"{PREFIX}DB_PORT must be between 1 and 65535, got {config.db_port}")
    if not config.retry_timeouts_ms or min(config.retry_timeouts_ms) < 1:
        problems.append(f"{PREFIX}RETRY_TIMEOUTS_MS needs at least one timeout, each at least 1")
    if len(config.retry_waits_ms) != len(config.retry_timeouts_ms) - 1:
        problems.append(
            f"{PREFIX}RETRY_WAITS_MS needs one wait per retry: {len(config.retry_timeouts_ms) - 1} "
            f"for {len(config.retry_timeouts_ms)} timeouts, got {len(config.retry_waits_ms)}"
        )
    elif config.retry_waits_ms and min(config.retry_waits_ms) < 0:
        problems.append(f"{PREFIX}RETRY_WAITS_MS must not be negative")
    idle_s, longest_ms = config.idle_transaction_timeout_s, max(config.retry_timeouts_ms, default=0)
    if idle_s is not None and idle_s * 1000 <= longest_ms:
        problems.append(
            f"{PREFIX}IDLE_TRANSACTION_TIMEOUT_S must be above the longest of "
            f"{PREFIX}RETRY_TIMEOUTS_MS ({longest_ms} ms), or an attempt's own transaction "
            f"could be rolled back under it; got {idle_s}")
    if config.default_limit > config.max_limit:
        problems.append(f"{PREFIX}DEFAULT_LIMIT must not exceed {PREFIX}MAX_LIMIT")
    if config.log_level.upper() not in ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"):
        problems.append(
            f"{PREFIX}LOG_LEVEL must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL, "
            f"got {config.log_level!r}"
        )
    if config.job_stale_seconds < 3:
        problems.append(f"{PREFIX}JOB_STALE_SECONDS must be at least 3: running imports beat "
                        "once a second")
    if config.llm_provider not in LLM_PROVIDERS:
        problems.append(f"{PREFIX}LLM_PROVIDER must be one of {', '.join(LLM_PROVIDERS[1:])} "
                        f"or empty, got {config.llm_provider!r}")
    if config.console_sample_rows < 0:
        problems.append(f"{PREFIX}CONSOLE_SAMPLE_ROWS must not be negative")
    if not could_name_a_table(config.ledger_table):
        problems.append(f"{PREFIX}LEDGER_TABLE must be a table name of 1 to 64 characters")
    for origin in config.cors_origins:
        if origin != "*" and not origin.startswith(("http://", "https://")):
            problems.append(f"{PREFIX}CORS_ORIGINS entries must be * or start with http:// or "
                            f"https://, got {origin!r}")
    return problems
