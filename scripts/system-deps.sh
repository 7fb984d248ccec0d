#!/usr/bin/env bash
# Install the system programs Paperpost's make targets need, before they are needed. Does
# nothing for what is already there; needs root (or sudo) and apt-get for what is missing.
#   system-deps.sh venv    what `python3 -m venv` needs: Debian and Ubuntu ship venv's pip
#                          bootstrap (ensurepip) apart, in python3-venv (`make install` runs
#                          this when the venv does not exist yet and ensurepip is missing)
#   system-deps.sh         that, and what the test suite runs for real: redis-server (the
#                          broker), Debian's chromium (browser tests), PostgreSQL's initdb and
#                          pg_ctl (CI's second database) and GNU time (benchmarks/delivery.py)
#   system-deps.sh bench   that, and wrk (the load generator of benchmarks/web.py)
# PYTHON names the interpreter the venv is made from (python3), VENV the venv (.venv).
# Only shell builtins decide what is missing, so tests can run this with a PATH of stand-ins.
set -euo pipefail
mode=${1:-test}
PYTHON=${PYTHON:-python3}
VENV=${VENV:-.venv}

have() { type -P "$1" >/dev/null; }

python_version() { "$1" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null; }

need=()
if [ ! -x "$VENV/bin/python" ] && ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
  # python3-venv is the default python3's; another version has its own package.
  version=$(python_version "$PYTHON")
  if [ "$version" = "$(python_version python3)" ]; then need+=(python3-venv); else need+=("python$version-venv"); fi
fi
if [ "$mode" != venv ]; then
  have time || need+=(time)
  have redis-server || [ -x /usr/bin/redis-server ] || need+=(redis-server)
  [ -x /usr/bin/chromium ] || need+=(chromium)
  if ! have initdb && ! compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null; then
    need+=(postgresql)
  fi
fi
if [ "$mode" = bench ]; then
  have wrk || need+=(wrk)
fi
[ ${#need[@]} -eq 0 ] && exit 0

echo "system-deps: installing ${need[*]}" >&2
SUDO=""
if [ "$EUID" -ne 0 ]; then
  if have sudo; then SUDO="sudo"; else
    echo "system-deps: missing ${need[*]}; install them as root: apt-get install -y ${need[*]}" >&2
    exit 1
  fi
fi
if ! have apt-get; then
  echo "system-deps: missing ${need[*]} and no apt-get here; install them with your package manager" >&2
  exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
# The Debian package starts a system-wide redis on 6379; the tests start their own.
