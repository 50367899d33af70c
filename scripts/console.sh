#!/usr/bin/env bash
# The question console (docs/console.md): venv, a reachable MariaDB, then
# python -m tablegate.console with any arguments (--ask "...", --json).
# Serves TABLEGATE_DB_NAME, or the demo database that serve.sh loads; needs a model:
# TABLEGATE_LLM_PROVIDER and TABLEGATE_LLM_MODEL (see docs/console.md).
set -euo pipefail
source "$(dirname "$0")/lib.sh"
cd "$REPO_ROOT"

ensure_venv
ensure_db
export TABLEGATE_DB_NAME="${TABLEGATE_DB_NAME:-tablegate_demo}"
exec "$VENV/bin/python" -m tablegate.console "$@"
