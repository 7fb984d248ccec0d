#!/usr/bin/env bash
# Start a throwaway PostgreSQL cluster on a free loopback port and print its DATABASE_URL.
#   pg=$(scripts/pg-cluster.sh start /tmp/pp-pg) && eval "$pg"   -> exports DATABASE_URL, PG_CLUSTER_DIR
#   (not eval "$(…)" alone: a failed start would pass unnoticed, even under set -e)
#   scripts/pg-cluster.sh stop /tmp/pp-pg
# initdb refuses to run as root, so as root the cluster belongs to the postgres user.
set -euo pipefail
action=${1:?start or stop}
dir=${2:?cluster directory}
bin=$(dirname "$(readlink -f "$(command -v initdb 2>/dev/null || ls /usr/lib/postgresql/*/bin/initdb | tail -n1)")")
as_owner() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}
case "$action" in
  start)
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    rm -rf "$dir"; mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres: "$dir"
    as_owner "$bin/initdb" -D "$dir/data" -A trust -U postgres -E UTF8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    as_owner "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    as_owner "$bin/createdb" -h 127.0.0.1 -p "$port" -U postgres paperpost
    echo "export DATABASE_URL=postgres://postgres@127.0.0.1:$port/paperpost PG_CLUSTER_DIR=$dir"
    ;;
  stop)
    [ -d "$dir/data" ] && as_owner "$bin/pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
esac
