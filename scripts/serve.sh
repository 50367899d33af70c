#!/usr/bin/env bash
# Run the tablegate service: venv, a reachable MariaDB, the demo table, then gunicorn.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

export TABLEGATE_DB_NAME="${TABLEGATE_DB_NAME:-tablegate_demo}"
export TABLEGATE_BIND="${TABLEGATE_BIND:-0.0.0.0:8000}"  # read by gunicorn.conf.py

ensure_venv
ensure_db

# Fresh seed data on every start, so the demo always begins from the same state.
if [ "${TABLEGATE_DEMO:-1}" != 0 ]; then
  db_python '
db = "`%s`" % env("TABLEGATE_DB_NAME").replace("`", "``")
cur = conn.cursor()
cur.execute(f"CREATE DATABASE IF NOT EXISTS {db}")
cur.execute(f"USE {db}")
cur.execute("DROP TABLE IF EXISTS users")
cur.execute("CREATE TABLE users(id INT AUTO_INCREMENT PRIMARY KEY, name VARCHAR(100), "
            "email VARCHAR(100) UNIQUE, age INT)")
cur.executemany("INSERT INTO users(name, email, age) VALUES (%s, %s, %s)",
                [("Alice", "alice@example.com", 30), ("Bob", "bob@example.com", 25),
                 ("Carol", "carol@example.com", 41)])
'
  log "demo table $TABLEGATE_DB_NAME.users created with 3 rows"
fi

exec .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app
