#!/usr/bin/env bash
# A throw-away PostgreSQL for the tests: initdb into a temp folder, owned by the unprivileged
# 'postgres' user when run as root, on a free port on 127.0.0.1, trust auth.
#
#   pg.sh start [--ssl]     prints `export TRESOR_TEST_PG_URL=…; export TRESOR_PG_DIR=…;
#                           export TRESOR_PG_BIN=…` (eval it). With --ssl: a CA and a server
#                           certificate (openssl; SAN 127.0.0.1 and localhost) in DIR/tls,
#                           ssl=on, and pg_hba accepting only TLS on TCP ('hostnossl … reject';
#                           user postgres trusted, others scram-sha-256); also exports
#                           TRESOR_PG_CA (the CA file) and the URL carries sslmode=require.
#   pg.sh stop DIR          stops the server and removes DIR.
#   pg.sh stop-keep DIR     stops the server, keeps DIR (data, port, certificates).
#   pg.sh crash DIR         stops the server as a crash would (immediate shutdown: no
#                           checkpoint, crash recovery at the next start), keeps DIR.
#   pg.sh start-existing DIR  starts a server stopped with stop-keep again, on the same port.
set -euo pipefail
bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
[ -n "$bindir" ] || { echo "PostgreSQL server binaries not found (install the 'postgresql' package)" >&2; exit 2; }
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_start() { # DIR
    as_pg "$bindir/pg_ctl" -D "$1/data" -l "$1/server.log" -w -t 60 -o "$(cat "$1/opts")" start >/dev/null
}
case "${1:-}" in
start)
    ssl=0
    [ "${2:-}" = "--ssl" ] && ssl=1
    dir=$(mktemp -d /tmp/tresor-pg.XXXXXX)
    chmod 0755 "$dir"
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
    echo "$port" >"$dir/port"
    opts="-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir"
    as_pg "$bindir/initdb" -D "$dir/data" -U postgres -A trust --no-sync >"$dir/initdb.log" 2>&1
    query=""
    if [ "$ssl" = 1 ]; then
        command -v openssl >/dev/null || { echo "openssl not found (needed for pg.sh start --ssl)" >&2; exit 2; }
        t="$dir/tls"; mkdir -p "$t"
        openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
            -subj "/CN=tresor test PostgreSQL CA" -keyout "$t/ca.key" -out "$t/ca.crt" \
            -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
        openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -subj "/CN=localhost" \
            -keyout "$t/server.key" -out "$t/server.csr" 2>/dev/null
        printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >"$t/ext"
        openssl x509 -req -in "$t/server.csr" -CA "$t/ca.crt" -CAkey "$t/ca.key" -CAcreateserial \
            -days 2 -extfile "$t/ext" -out "$t/server.crt" 2>/dev/null
        chmod 0600 "$t/server.key" "$t/ca.key"; chmod 0644 "$t/ca.crt" "$t/server.crt"
        [ "$(id -u)" = 0 ] && chown -R postgres: "$t"
        cat >"$dir/data/pg_hba.conf" <<HBA
local     all all                 trust
hostssl   all postgres 127.0.0.1/32 trust
hostssl   all all      127.0.0.1/32 scram-sha-256
hostnossl all all      0.0.0.0/0    reject
HBA
        opts="$opts -c ssl=on -c ssl_cert_file=$t/server.crt -c ssl_key_file=$t/server.key"
        query="?sslmode=require"
    fi
    echo "$opts" >"$dir/opts"
    [ "$(id -u)" = 0 ] && chown postgres: "$dir/opts" "$dir/port"
    pg_start "$dir"
    echo "export TRESOR_TEST_PG_URL=postgres://postgres@127.0.0.1:$port/postgres$query; export TRESOR_PG_DIR=$dir; export TRESOR_PG_BIN=$bindir"
    if [ "$ssl" = 1 ]; then echo "export TRESOR_PG_CA=$dir/tls/ca.crt"; fi
    ;;
stop)
    dir=${2:?usage: pg.sh stop DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    rm -rf "$dir"
    ;;
stop-keep)
    dir=${2:?usage: pg.sh stop-keep DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null
    ;;
crash)
    dir=${2:?usage: pg.sh crash DIR}
    as_pg "$bindir/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null
    ;;
start-existing)
    dir=${2:?usage: pg.sh start-existing DIR}
    [ -f "$dir/opts" ] || { echo "$dir was not made by pg.sh start" >&2; exit 2; }
    pg_start "$dir"
    ;;
*) echo "usage: pg.sh start [--ssl] | stop DIR | stop-keep DIR | crash DIR | start-existing DIR" >&2; exit 2 ;;
esac
