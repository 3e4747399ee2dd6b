#!/usr/bin/env bash
# Starts (start) or stops (stop DIR) a throw-away PostgreSQL for the tests: initdb into a temp
# folder, owned by the unprivileged 'postgres' user when run as root, on a free port on
# 127.0.0.1, trust auth. `start` prints `export TRESOR_TEST_PG_URL=…; export TRESOR_PG_DIR=…`.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found (install the 'postgresql' package)" >&2; exit 2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
case "${1:-}" in
start)
    dir=$(mktemp -d /tmp/tresor-pg.XXXXXX)
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1
    as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200" start >/dev/null
    echo "export TRESOR_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres; export TRESOR_PG_DIR=$dir; export TRESOR_PG_BIN=$bindir"
    ;;
stop)
    dir=${2:?usage: pg.sh stop DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
*) echo "usage: pg.sh start | stop DIR" >&2; exit 2 ;;
esac
