#!/usr/bin/env bash
# The demo (`make demo`): embedded Postgres+pgvector, real Online Retail data, embeddings,
# item-CF neighbours and popularity, a Celery worker when Redis is reachable, gunicorn on :8000.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
export REDIS_URL=${REDIS_URL:-redis://127.0.0.1:6379/0}
PORT=${PORT:-8000}
# DEBUG off (no debug pages with settings and code): production settings, but over plain HTTP on
# 127.0.0.1, with a secret key of its own kept under var/ across runs.
mkdir -p var
[ -s var/demo-secret-key ] || (umask 077; $PY -c 'import secrets; print(secrets.token_urlsafe(50))' >var/demo-secret-key)
export DJANGO_DEBUG=0 DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-$(cat var/demo-secret-key)} \
  DJANGO_SECURE_SSL_REDIRECT=0 DJANGO_SECURE_COOKIES=0 DJANGO_HSTS_SECONDS=0

step() { printf '\n==> %s\n' "$*"; }

step "Database (embedded PostgreSQL with pgvector under var/, unless DATABASE_URL is set) and migrations"
$PY manage.py migrate --no-input
$PY manage.py collectstatic --no-input -v 0

step "Loading the UCI Online Retail data (CC BY 4.0; see data/online-retail/ATTRIBUTION.md)"
$PY manage.py load_demo

step "Embedding the catalog with all-MiniLM-L6-v2 (only products whose text changed)"
$PY manage.py embed

step "Building item-CF neighbours and time-decayed popularity"
$PY manage.py build_neighbors

broker_up=0
if $PY - <<'PYEOF'
import os, sys
import redis
try:
    redis.Redis.from_url(os.environ["REDIS_URL"], socket_connect_timeout=1).ping()
except Exception:
    sys.exit(1)
PYEOF
then broker_up=1; fi

if [ "$broker_up" = 1 ]; then
  step "Redis is reachable at $REDIS_URL: starting a Celery worker (queues default,gpu)"
  mkdir -p var/log
  mkdir -p var/run
  .venv/bin/celery -A recsite worker -Q default,gpu --concurrency 1 -l info --pidfile var/run/worker.pid \
    >var/log/worker.log 2>&1 &
  WORKER_PID=$!
  # Beat queues the periodic tasks (snapshots, guardrails, drift, quality, embeddings): without it
  # the results, overview and monitoring pages never refresh by themselves.
  step "Starting Celery beat (schedule in var/run/, log in var/log/beat.log)"
  .venv/bin/celery -A recsite beat -l info -s var/run/celerybeat-schedule --pidfile var/run/beat.pid \
    >var/log/beat.log 2>&1 &
  BEAT_PID=$!
  trap 'kill $WORKER_PID $BEAT_PID 2>/dev/null || true' EXIT
else
  step "No broker at $REDIS_URL: no Celery worker is started. Products added later through the API"
  echo "    stay marked for embedding (by their text hash) until 'manage.py embed' runs or a worker is started."
fi

step "Demo accounts"
ADMIN_PASSWORD=$($PY manage.py shell --no-imports -v 0 -c "
import secrets
from django.contrib.auth import get_user_model
User = get_user_model()
if User.objects.filter(username='admin').exists():
    print('(unchanged since the first run; manage.py changepassword admin sets a new one)')
else:
    password = secrets.token_urlsafe(12)
    User.objects.create_superuser('admin', 'admin@example.com', password)
    print(password)
")
# One valid demo key: this run's replaces the last run's.
API_KEY=$($PY manage.py create_api_key --replace demo-storefront)
read -r CUSTOMER PRODUCT < <($PY manage.py shell --no-imports -v 0 -c "
from django.db.models import Count
from catalog.models import Customer, Product
c = Customer.objects.annotate(n=Count('events')).order_by('-n').values_list('external_id', flat=True)[5]
p = Product.objects.annotate(n=Count('events')).order_by('-n').values_list('external_id', flat=True)[0]
print(c, p)
")

cat <<EOT

recsite is starting on http://127.0.0.1:$PORT
  admin:     http://127.0.0.1:$PORT/admin/   (user admin, password $ADMIN_PASSWORD)
  API docs:  http://127.0.0.1:$PORT/api/docs/
  overview:  http://127.0.0.1:$PORT/admin/overview/   (traffic, experiments, models, drift, bad cases, workers)
  logs:      var/log/worker.log, var/log/beat.log (when Redis is up); stop everything: make stop
  API key:   $API_KEY

Try:
  curl -H 'Authorization: Api-Key $API_KEY' 'http://127.0.0.1:$PORT/api/v1/recommendations/?customer=$CUSTOMER&k=5'
  curl -H 'Authorization: Api-Key $API_KEY' 'http://127.0.0.1:$PORT/api/v1/products/$PRODUCT/similar/?k=5'
  curl -H 'Authorization: Api-Key $API_KEY' 'http://127.0.0.1:$PORT/api/v1/search/?q=red+heart+candle+holder&k=5'
  curl -H 'Authorization: Api-Key $API_KEY' -H 'Content-Type: application/json' \\
       -d '{"customer": "$CUSTOMER", "product": "$PRODUCT", "type": "click", "timestamp": "2011-12-10T10:00:00Z"}' \\
       http://127.0.0.1:$PORT/api/v1/events/
  .venv/bin/python manage.py evaluate --cutoff 2011-11-01 --k 10

Stop with Ctrl-C.
EOT

# A pid file, so `make stop` (scripts/stop.sh) finds gunicorn from another shell.
export GUNICORN_CMD_ARGS="${GUNICORN_CMD_ARGS:-} --pid var/run/gunicorn.pid"
mkdir -p var/run
GUNICORN_BIND=${GUNICORN_BIND:-127.0.0.1:$PORT} .venv/bin/gunicorn recsite.wsgi -c deploy/gunicorn.conf.py
