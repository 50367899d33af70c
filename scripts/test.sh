#!/usr/bin/env bash
# Run the test suite: venv, a reachable MariaDB, then pytest with any extra args.
# The tests create their own uniquely named database.
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ensure_venv
ensure_db
ensure_chromium

rc=0
.venv/bin/python -m pytest "$@" || rc=$?
# pytest exits 5 when it collected no tests: that must never pass as green.
if [ "$rc" -eq 5 ]; then
  log "pytest collected no tests; failing (exit 1) so an empty run is not taken for a pass"
  exit 1
fi
exit "$rc"
