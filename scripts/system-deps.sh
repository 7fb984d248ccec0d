#!/usr/bin/env bash
# Install the system programs the test suite runs for real: redis-server (broker), Debian's
# chromium (browser tests) and PostgreSQL's initdb/pg_ctl (CI's second database). Does
# nothing for what is already there. Needs root (or sudo) and apt-get for what is missing.
# `system-deps.sh bench` also installs wrk, the load generator of benchmarks/web.py.
set -euo pipefail

need=()
if [ "${1:-}" = "bench" ]; then
  command -v wrk >/dev/null 2>&1 || need+=(wrk)
fi
command -v redis-server >/dev/null 2>&1 || [ -x /usr/bin/redis-server ] || need+=(redis-server)
[ -x /usr/bin/chromium ] || need+=(chromium)
if ! command -v initdb >/dev/null 2>&1 && ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "system-deps: installing ${need[*]}" >&2
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "system-deps: missing ${need[*]}; install them as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "system-deps: missing ${need[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a system-wide redis on 6379; the tests start their own.
