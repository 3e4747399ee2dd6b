# Starting the KMIP peers the benchmarks compare with, the same way in every script.
# Sourced (not run) by bench/kmip/run.sh, cosmian.sh, peers19.sh, group.sh, get.sh and
# bench/team/run.sh.
# Each function starts one server in the background with bench/kmip/startup.py (from the
# repository root) and prints "PID MILLISECONDS", the time it took to become ready.

# pykmip_start PY WORK PORT: pykmip-server of the venv whose python is PY, with its config,
# policies, SQLite database and logs in WORK, on 127.0.0.1:PORT, mutual TLS with the
# certificates in WORK/certs (TLS 1.2 suite: PyKMIP 0.11 offers no more).
pykmip_start() {
    local py=$1 work=$2 port=$3
    mkdir -p "$work/policies"
    cat >"$work/server.conf" <<CONF
[server]
hostname=127.0.0.1
port=$port
certificate_path=$work/certs/server.crt
key_path=$work/certs/server.key
ca_path=$work/certs/ca.crt
auth_suite=TLS1.2
policy_path=$work/policies
enable_tls_client_auth=True
logging_level=WARNING
database_path=$work/pykmip.db
CONF
    python3 bench/kmip/startup.py --log "$work/pykmip.log" --port "$port" -- \
        "$(dirname "$py")/pykmip-server" -f "$work/server.conf" -l "$work/pykmip-server.log"
}

# cosmian_start KMS DIR CERTS SOCK HTTP: Cosmian KMS binary KMS with its SQLite store and log in
# DIR, binary KMIP on 127.0.0.1:SOCK (mutual TLS, the certificates in CERTS), HTTP on HTTP.
cosmian_start() {
    local kms=$1 dir=$2 certs=$3 sock=$4 http=$5
    python3 bench/kmip/startup.py --log "$dir/log" --port "$sock" -- \
        env RUST_LOG=error "$kms" --database-type sqlite --sqlite-path "$dir/db" \
        --socket-server-start --socket-server-port "$sock" --socket-server-hostname 127.0.0.1 \
        --port "$http" --hostname 127.0.0.1 \
        --tls-cert-file "$certs/server.crt" --tls-key-file "$certs/server.key" \
        --clients-ca-cert-file "$certs/ca.crt"
}

# tresor_serve WORK LABEL BIN: `BIN kmip serve` on a free port of 127.0.0.1 with a fresh store
# in WORK, mutual TLS with the certificates in WORK/certs, stderr in WORK/serve-LABEL.log.
# Unlike the functions above it prints nothing: it sets the caller's `pid` and `port` and
# appends the pid to the caller's `pids` array (which its cleanup kills).
tresor_serve() {
    local work=$1 label=$2 bin=$3 line
    "$bin" kmip serve --listen 127.0.0.1:0 --cert "$work/certs/server.crt" \
        --key "$work/certs/server.key" --ca "$work/certs/ca.crt" \
        --store "$work/store-$label-$RANDOM" 2>"$work/serve-$label.log" &
    pid=$!; pids+=("$pid")
    for _ in $(seq 1 200); do grep -q "listening on" "$work/serve-$label.log" 2>/dev/null && break; sleep 0.05; done
    line=$(grep -m1 "listening on" "$work/serve-$label.log"); port="${line##*:}"
}
