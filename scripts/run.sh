#!/usr/bin/env bash
# Serve Paperpost for `make run`. Without REDIS_URL everything runs in this one process;
# with it, a Celery worker and beat run beside the web server and stop with it.
set -euo pipefail
PY=${PY:-.venv/bin/python}
PORT=${PORT:-8000}
# DEBUG stays off unless asked for, so the demo shows the site's own error pages.
export DEBUG=${DEBUG:-0}
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT INT TERM
if [ -n "${REDIS_URL:-}" ]; then
  "$PY" -m celery -A paperpost worker -l INFO -Q default,mail,ingest & pids+=($!)
  "$PY" -m celery -A paperpost beat -l INFO -s var/celerybeat-schedule & pids+=($!)
  echo "run: Celery worker and beat started against $REDIS_URL"
else
  echo "run: REDIS_URL unset: tasks run in-process; emails are written to var/outbox/*.eml"
  # No beat without a broker: queue the deliveries whose local hour has come once a minute.
  ( while sleep 60; do "$PY" manage.py send_due >/dev/null || true; done ) & pids+=($!)
fi
echo "run: serving on http://127.0.0.1:$PORT  (admin: http://127.0.0.1:$PORT/admin/, create a login with '$PY manage.py createsuperuser')"
"$PY" manage.py runserver "127.0.0.1:$PORT" --noreload
