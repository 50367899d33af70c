#!/usr/bin/env bash
# Run the tablegate service: venv, a reachable MariaDB, the demo database, then gunicorn.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

# The demo database is rebuilt only when no database was named: one chosen by
# TABLEGATE_DB_NAME is served as it is, never written to here.
demo="${TABLEGATE_DEMO:-1}"
if [ -n "${TABLEGATE_DB_NAME:-}" ]; then
  demo=0
fi
export TABLEGATE_DB_NAME="${TABLEGATE_DB_NAME:-tablegate_demo}"
export TABLEGATE_BIND="${TABLEGATE_BIND:-0.0.0.0:8000}"  # read by gunicorn.conf.py

ensure_venv
ensure_db

# A fresh demo database on every start, so that the docs' examples always begin from the same
# state: examples/demo.sql and nothing else (no import ledger, no table an example created).
if [ "$demo" != 0 ]; then
  db_python '
cur = conn.cursor()
cur.execute("DROP DATABASE IF EXISTS tablegate_demo")
cur.execute("CREATE DATABASE tablegate_demo CHARACTER SET utf8mb4")
cur.execute("USE tablegate_demo")
cur.execute(open("examples/demo.sql", encoding="utf-8").read())
while cur.nextset():
    pass
'
  log "demo database tablegate_demo created afresh from examples/demo.sql"
fi

exec .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app
