#!/usr/bin/env bash
# Start moto in server mode (S3 + KMS) on a free 127.0.0.1 port, in the background, and print
# the exports the tests read. Needs setup.sh first (TRESOR_MOTO_SERVER, or the default venv).
# Its log goes to target/peers/moto-server-PORT.log, never to stdout.
set -euo pipefail
root="$(cd "$(dirname "$0")/../../.." && pwd)"
server="${TRESOR_MOTO_SERVER:-$root/target/peers/moto/bin/moto_server}"
py="$(dirname "$server")/python"
port=$("$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
log="$root/target/peers/moto-server-$port.log"
# One request at a time: moto checks If-Match / If-None-Match and then writes, without a lock,
# so a threaded moto_server lets two concurrent conditional PUTs both succeed (a lost update
# that real S3 never allows; seen in the two-writer and concurrent-increment tests). Run
# moto_server's own main() with werkzeug's threaded mode turned off.
nohup "$py" -c '
import sys
import moto.server as ms
run = ms.run_simple
def single(*a, **k):
    k["threaded"] = False
    return run(*a, **k)
ms.run_simple = single
sys.argv = ["moto_server"] + sys.argv[1:]
ms.main()
' -H 127.0.0.1 -p "$port" >"$log" 2>&1 </dev/null &
pid=$!
for _ in $(seq 1 100); do
    if "$py" -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$pid" 2>/dev/null || { echo "moto_server exited; see $log" >&2; exit 1; }
    sleep 0.1
done
echo "export TRESOR_TEST_S3_ENDPOINT=http://127.0.0.1:$port"
echo "export TRESOR_MOTO_PID=$pid"
echo "export TRESOR_PEER_PIDS=\"\${TRESOR_PEER_PIDS:-} $pid\""
