#!/usr/bin/env bash
# The test command: lint, migrations in sync, then the whole pytest suite on real Postgres+pgvector,
# a real Celery worker against Redis and the real embedding model.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV=.venv
# As in the web processes (deploy/gunicorn.conf.py): torch threads contend badly on 2 cores.
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
$VENV/bin/ruff format --check .
$VENV/bin/ruff check .
# The layering (pyproject.toml [tool.importlinter]): one direction between apps, facades, no circles.
$VENV/bin/lint-imports
$VENV/bin/python manage.py makemigrations --check --dry-run >/dev/null || {
  echo "models and migrations are out of sync: run manage.py makemigrations" >&2
  exit 1
}
set +e
$VENV/bin/pytest -q "$@"
rc=$?
set -e
# pytest exits 5 when it collected no test: that is a failure here, not a pass.
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
