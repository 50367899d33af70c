"""gunicorn settings, each overridable by environment.

gthread workers: the DB layer is synchronous and the executor waits on threads, so threads per
worker are the concurrency; the pool has one connection per executor thread. A slow client
holds one of those threads only while gunicorn reads its request or writes its response, and
both are bounded below (``timeout``, the request-line and header limits); idle keep-alive
connections wait in the worker's event loop, not on a thread.

Every setting is checked here, before gunicorn binds the port or forks a worker: one that
cannot be used stops gunicorn with one line (issue 13). Left to the workers, each would fail
on it in turn while the master kept booting new ones.
"""
import glob
import ipaddress
import os
import sys
import tempfile

from tablegate.config import Config, ConfigError


def _stop(problem: str) -> None:
    sys.exit(f"tablegate: configuration error: {problem}")


def _whole_number(name: str, default: str) -> int:
    raw = os.environ.get(name, default)
    try:
        return int(raw)
    except ValueError:
        _stop(f"{name} must be a whole number, got {raw!r}")


try:
    Config.from_env()  # API keys are parsed by the app: a bad one halts gunicorn (wsgi.py)
except ConfigError as exc:
    _stop(str(exc))

bind = os.environ.get("TABLEGATE_BIND", "0.0.0.0:8000")
worker_class = "gthread"
workers = _whole_number("TABLEGATE_WORKERS", "2")
threads = _whole_number("TABLEGATE_THREADS", "8")
# Well above the retry schedule's worst case (1.6 + 0.8 + 0.4 + 0.2 s of attempts plus
# 0.4 + 0.8 + 1.6 s of waits = 5.8 s), so gunicorn never kills a worker mid-schedule; also the
# bound on a client that trickles its request.
timeout = _whole_number("TABLEGATE_WORKER_TIMEOUT", "30")
graceful_timeout = 30
# Seconds an idle keep-alive connection is kept: short, so idle clients cannot pile up.
keepalive = _whole_number("TABLEGATE_KEEPALIVE", "5")
# Connections a worker holds at once (idle keep-alive ones included); beyond it new ones wait.
worker_connections = 1000
# Slow clients: cap header size and count so that a trickling request cannot hold a thread.
limit_request_line = 8190
limit_request_fields = 100
limit_request_field_size = 8190
# tablegate writes one JSON line per request itself (tablegate/logs.py): no second access log.
accesslog = None
errorlog = "-"
# gunicorn 27 opens a control socket at one per-user path (~/.gunicorn/gunicorn.ctl): a second
# server on the machine (a test, a bench, another instance) would take it over. Unused here.
control_socket_disable = True

def on_starting(server):
    """prometheus-client's multiprocess mode needs a directory shared by the workers, set before
    they start; stale files from an earlier run would add old counts, so it starts empty."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="tablegate-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    os.makedirs(directory, exist_ok=True)
    for stale in glob.glob(os.path.join(directory, "*.db")):
        os.remove(stale)


def when_ready(server):
    if _beyond_localhost(bind) and not (os.environ.get("TABLEGATE_API_KEYS", "").strip()
                                        or os.environ.get("TABLEGATE_API_KEYS_FILE", "").strip()):
        server.log.warning(
            "tablegate listens on %s without API keys: anyone who reaches it can read and write "
            "every exposed table. Set TABLEGATE_API_KEYS or TABLEGATE_API_KEYS_FILE, or bind "
            "to 127.0.0.1.", bind)


def child_exit(server, worker):
    """A dead worker's live gauges (pool connections in use) must stop counting."""
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def _beyond_localhost(address: str) -> bool:
    if address.startswith(("unix:", "fd://")):
        return False
    host = address.rsplit(":", 1)[0] if ":" in address else address
    host = host.strip("[]")
    if host == "localhost":
        return False
    try:
        return not ipaddress.ip_address(host).is_loopback
    except ValueError:
        return True  # all interfaces (":8000") or a host name: assume it is reachable
