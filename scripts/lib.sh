# shellcheck shell=bash
# Shared by serve.sh and test.sh (source it, don't run it): sets up the
# virtualenv and makes sure a MariaDB is reachable, exporting TABLEGATE_DB_*.

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO_ROOT/.venv"
LOCAL_DB_DIR="$REPO_ROOT/.tablegate/mariadb"

export TABLEGATE_DB_HOST="${TABLEGATE_DB_HOST:-127.0.0.1}"
export TABLEGATE_DB_PORT="${TABLEGATE_DB_PORT:-3306}"
export TABLEGATE_DB_USER="${TABLEGATE_DB_USER:-root}"
export TABLEGATE_DB_PASSWORD="${TABLEGATE_DB_PASSWORD:-}"

# Python prelude that opens a pymysql connection `conn` from TABLEGATE_DB_*.
# read_timeout: a port that accepts connections but never answers must not hang us.
# MULTI_STATEMENTS: serve.sh loads examples/demo.sql in one execute, as the docs test does.
DB_CONNECT_PY='import os, pymysql
from pymysql.constants import CLIENT
env = os.environ.get
conn = pymysql.connect(host=env("TABLEGATE_DB_HOST"), port=int(env("TABLEGATE_DB_PORT")),
    user=env("TABLEGATE_DB_USER"), password=env("TABLEGATE_DB_PASSWORD", ""),
    unix_socket=env("TABLEGATE_DB_SOCKET") or None, connect_timeout=2, read_timeout=5,
    autocommit=True, client_flag=CLIENT.MULTI_STATEMENTS)'

# Prefix for system changes (apt): sudo only when we are not root and it exists.
SUDO=""
if [ "$(id -u)" != 0 ] && command -v sudo >/dev/null; then SUDO=sudo; fi

log() { echo "tablegate: $*" >&2; }

# Run Python code ($1) with `conn` already connected.
db_python() { "$VENV/bin/python" -c "$DB_CONNECT_PY"$'\n'"$1"; }

db_reachable() { db_python 'conn.cursor().execute("SELECT 1")' >/dev/null 2>&1; }

apt_install() {
  $SUDO apt-get update
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "$@"
}

ensure_venv() {
  # A venv without pip is broken (e.g. created while python3-venv was missing): rebuild it.
  if ! "$VENV/bin/python" -m pip --version >/dev/null 2>&1; then
    # Debian's own python3 can only make venvs once python3-venv is installed.
    python3 -m venv --clear "$VENV" || { apt_install python3-venv && python3 -m venv --clear "$VENV"; }
  fi
  # Reinstall only when requirements.txt changed since the last successful install.
  local want
  want="$(sha256sum "$REPO_ROOT/requirements.txt" | cut -d' ' -f1)"
  if [ "$want" != "$(cat "$VENV/.requirements.sha256" 2>/dev/null)" ]; then
    "$VENV/bin/python" -m pip install --disable-pip-version-check -q -r "$REPO_ROOT/requirements.txt"
    echo "$want" >"$VENV/.requirements.sha256"
  fi
}

# Debian's Chromium for the browser test (tests/api/test_docs_browser.py), which playwright
# drives through executable_path: playwright's own browser download does not work everywhere.
# A failed install is not fatal: that test then skips and says why.
CHROMIUM=/usr/bin/chromium
ensure_chromium() {
  [ -x "$CHROMIUM" ] && return
  log "$CHROMIUM not found; installing Debian's chromium for the browser test"
  apt_install chromium || log "could not install chromium; tests/api/test_docs_browser.py will skip"
}

install_mariadb() {
  log "mariadbd not found; installing mariadb-server from apt"
  # The package starts its own system service in postinst and fails the install if
  # that start fails (as it can in a container without systemd); we run our own server,
  # so deny service starts for the install with a policy-rc.d, unless one already exists.
  local policy=/usr/sbin/policy-rc.d rc=0
  if [ -e "$policy" ]; then policy=""; else printf '#!/bin/sh\nexit 101\n' | $SUDO install -m 755 /dev/stdin "$policy"; fi
  apt_install mariadb-server mariadb-client || rc=$?
  if [ -n "$policy" ]; then $SUDO rm -f "$policy"; fi
  return "$rc"
}

# The pid of the throwaway MariaDB this shell started, if it started one: serve.sh stops that
# server when it stops, and never one it found running.
LOCAL_DB_STARTED=""

# Start (or reuse) a throwaway MariaDB owned by this checkout, in .tablegate/mariadb.
start_local_db() {
  local port="${TABLEGATE_LOCAL_DB_PORT:-3307}" mariadbd pid
  export TABLEGATE_DB_HOST=127.0.0.1 TABLEGATE_DB_PORT="$port" TABLEGATE_DB_USER=root TABLEGATE_DB_PASSWORD=""
  unset TABLEGATE_DB_SOCKET
  # Reuse whatever answers there: ours from an earlier call, or another checkout's
  # throwaway server (starting a second one on the same port would only fail).
  if db_reachable; then
    log "using the local MariaDB already running at 127.0.0.1:$port"
    return
  fi
  mariadbd="$(PATH="$PATH:/usr/sbin" command -v mariadbd)" || { install_mariadb; mariadbd=/usr/sbin/mariadbd; }
  mkdir -p "$LOCAL_DB_DIR"
  if [ ! -d "$LOCAL_DB_DIR/data/mysql" ]; then
    # 'normal' auth: root logs in with an empty password over TCP too.
    # --force: don't insist that the hostname or 'localhost' resolve (bare containers).
    PATH="$PATH:/usr/sbin" mariadb-install-db --no-defaults --datadir="$LOCAL_DB_DIR/data" \
      --auth-root-authentication-method=normal --skip-test-db --force \
      >"$LOCAL_DB_DIR/install.log" 2>&1 || { cat "$LOCAL_DB_DIR/install.log" >&2; return 1; }
  fi
  # --user: mariadbd refuses to run as root unless told to. utf8mb4 as in Debian's packaged
  # config (--no-defaults would give latin1). Output goes to files so the server never
  # holds our caller's stdout/stderr pipes open.
  "$mariadbd" --no-defaults --datadir="$LOCAL_DB_DIR/data" --socket="$LOCAL_DB_DIR/mysqld.sock" \
    --port="$port" --bind-address=127.0.0.1 --pid-file="$LOCAL_DB_DIR/mariadbd.pid" \
    --log-error="$LOCAL_DB_DIR/mariadbd.log" --user="$(id -un)" \
    --character-set-server=utf8mb4 --collation-server=utf8mb4_general_ci \
    </dev/null >>"$LOCAL_DB_DIR/mariadbd.log" 2>&1 &
  pid=$!
  LOCAL_DB_STARTED=$pid
  local deadline=$((SECONDS + 30))
  while [ "$SECONDS" -lt "$deadline" ]; do
    if db_reachable; then
      log "started a local MariaDB at 127.0.0.1:$port (pid $pid, data in $LOCAL_DB_DIR)"
      return
    fi
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.5
  done
  log "local MariaDB did not come up on 127.0.0.1:$port; end of $LOCAL_DB_DIR/mariadbd.log:"
  tail -n 20 "$LOCAL_DB_DIR/mariadbd.log" >&2
  return 1
}

# Whether pid $1 is a mariadbd on this checkout's data directory (an exited one, a zombie
# until its parent reaps it, has an empty command line and is not).
is_local_db() {
  tr '\0' ' ' 2>/dev/null <"/proc/$1/cmdline" | grep -qF -- "--datadir=$LOCAL_DB_DIR/data "
}

# Stop the throwaway MariaDB of this checkout: the pid given, or the one in its pid file. Only a
# mariadbd on this checkout's data directory is stopped: a stale pid file may name another
# process by now. SIGTERM is mariadbd's clean shutdown; we wait until it has finished.
stop_local_db() {
  local pid="${1:-}" deadline
  if [ -z "$pid" ]; then
    pid="$(cat "$LOCAL_DB_DIR/mariadbd.pid" 2>/dev/null)" || {
      log "no local MariaDB is running (no pid file in $LOCAL_DB_DIR)"
      return 0
    }
  fi
  if ! is_local_db "$pid"; then
    log "no local MariaDB is running (pid $pid is not this checkout's mariadbd)"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  deadline=$((SECONDS + 60))
  while is_local_db "$pid"; do
    if [ "$SECONDS" -ge "$deadline" ]; then
      log "the local MariaDB (pid $pid) did not stop within 60 s; see $LOCAL_DB_DIR/mariadbd.log"
      return 1
    fi
    sleep 0.2
  done
  log "stopped the local MariaDB (pid $pid)"
}

ensure_db() {
  if db_reachable; then
    log "using MariaDB at ${TABLEGATE_DB_SOCKET:-$TABLEGATE_DB_HOST:$TABLEGATE_DB_PORT}"
  else
    log "no MariaDB at ${TABLEGATE_DB_SOCKET:-$TABLEGATE_DB_HOST:$TABLEGATE_DB_PORT}; using a local one"
    start_local_db
  fi
}
