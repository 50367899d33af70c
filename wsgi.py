"""The WSGI entry point for gunicorn: ``gunicorn -c gunicorn.conf.py wsgi:app``."""
import sys

from tablegate import create_app
from tablegate.config import ConfigError

try:
    app = create_app()
except ConfigError as exc:
    sys.exit(f"tablegate: configuration error: {exc}")
