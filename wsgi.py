"""The WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``.

A setting that cannot be used exits with gunicorn's worker-boot-error status, on which the
arbiter stops altogether instead of booting the worker again and again on the same setting
(issue 13: 46 boots in 6 s with status 1). gunicorn.conf.py checks the settings before it forks
too; this is for a gunicorn started without it.
"""
import sys

from tablegate import create_app
from tablegate.config import ConfigError

#: gunicorn's ``Arbiter.WORKER_BOOT_ERROR``: a worker exiting with it halts the arbiter.
WORKER_BOOT_ERROR = 3

try:
    app = create_app()
except ConfigError as exc:
    print(f"tablegate: configuration error: {exc}", file=sys.stderr)
    sys.exit(WORKER_BOOT_ERROR)
