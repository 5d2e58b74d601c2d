#!/usr/bin/env bash
# The full check, as CI runs it: set-up, lint, format, types, then the tests
# (every store and concurrency test on SQLite and on PostgreSQL).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
export PATH="$PWD/.venv/bin:$PATH"
echo "== ruff check"; ruff check src tests examples bench
echo "== ruff format --check"; ruff format --check src tests examples bench
echo "== mypy --strict src"; mypy --strict src
echo "== pytest"; python -m pytest "$@"
