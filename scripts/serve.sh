#!/usr/bin/env bash
# Run the tablegate service: venv, a reachable MariaDB, the demo database, then gunicorn.
# Ctrl-C or SIGTERM stops what this run started: gunicorn, and the throwaway MariaDB if this run
# started it (never a server that was running already; scripts/stop.sh stops that one).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

# The demo database is rebuilt only when no database was named: one chosen by
# TABLEGATE_DB_NAME is served as it is, never written to here.
demo="${TABLEGATE_DEMO:-1}"
named="${TABLEGATE_DB_NAME:-}"
if [ -n "$named" ]; then
  demo=0
fi
export TABLEGATE_DB_NAME="${TABLEGATE_DB_NAME:-tablegate_demo}"
export TABLEGATE_BIND="${TABLEGATE_BIND:-0.0.0.0:8000}"  # read by gunicorn.conf.py

gunicorn_pid=""
stop_started() {
  trap - EXIT HUP INT TERM
  if [ -n "$gunicorn_pid" ]; then
    kill -TERM "$gunicorn_pid" 2>/dev/null || true  # gunicorn's graceful stop
    wait "$gunicorn_pid" 2>/dev/null || true
  fi
  if [ -n "$LOCAL_DB_STARTED" ]; then
    # Reaped once it has stopped; not waited for if it would not stop.
    { stop_local_db "$LOCAL_DB_STARTED" && wait "$LOCAL_DB_STARTED" 2>/dev/null; } || true
  fi
}
# On any exit, also a failure half-way; a signal ends the script, which runs the EXIT trap.
trap stop_started EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM

ensure_venv
# A database the user named lives on the server they pointed us at: when that server does not
# answer (down, wrong address or password), say so rather than serve an empty local one.
if [ -n "$named" ] && ! db_reachable; then
  log "no MariaDB answers at ${TABLEGATE_DB_SOCKET:-$TABLEGATE_DB_HOST:$TABLEGATE_DB_PORT} as user '$TABLEGATE_DB_USER'; check TABLEGATE_DB_HOST, _PORT, _USER and _PASSWORD"
  exit 1
fi
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

# In the background and waited for, not exec'd: the shell stays to stop what it started. In a
# session of its own, so that a Ctrl-C reaches this script only, which stops gunicorn with
# SIGTERM (a SIGINT to master and workers at once can leave a worker hung until gunicorn's 30 s
# graceful timeout kills it).
setsid .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app &
gunicorn_pid=$!
wait "$gunicorn_pid"
