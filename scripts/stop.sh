#!/usr/bin/env bash
# Stop the throwaway MariaDB that serve.sh or test.sh started in .tablegate/mariadb and left
# running (found by its pid file; a server that is not this checkout's is never touched).
# With --clean, also remove .tablegate/: the throwaway server's data and logs.
set -euo pipefail
source "$(dirname "$0")/lib.sh"

case "${1:-}" in
  "") clean=0 ;;
  --clean) clean=1 ;;
  *) echo "usage: bash scripts/stop.sh [--clean]" >&2; exit 2 ;;
esac

stop_local_db
if [ "$clean" = 1 ]; then
  rm -rf "$REPO_ROOT/.tablegate"
  log "removed $REPO_ROOT/.tablegate"
fi
