#!/usr/bin/env bash
# Benchmark: encrypt/decrypt of 1 KiB through tresor-keys (cached key) vs the same AEAD called
# directly (the floor) vs keys-management 0.1.5 get_key + Python cryptography AES-GCM.
# Installs the Python peer in a venv under target/peers/. Prints a table (ns per operation).
set -euo pipefail
cd "$(dirname "$0")/../.."
VENV=target/peers/keys-management
if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi
"$VENV/bin/pip" install -q keys-management==0.1.5 cryptography >/dev/null
cargo bench -p tresor-keys --bench keys -- --warm-up-time 1 --measurement-time 3 >/dev/null
"$VENV/bin/python" bench/keys/peer.py > target/peers/keys-peer.txt
python3 - <<'PY'
import json, pathlib
root = pathlib.Path("target/criterion/keys-1KiB")
def ns(name):
    p = root / name / "new" / "estimates.json"
    return json.loads(p.read_text())["median"]["point_estimate"]
peer = dict(l.split() for l in open("target/peers/keys-peer.txt"))
rows = []
for op in ["encrypt", "decrypt"]:
    floor = ns(f"floor_{op}")
    km = float(peer[f"keys-management/{op}"])
    for name, v in [(f"floor (aws-lc-rs AES-256-GCM)", floor),
                    (f"tresor-keys binary" + (" (zeroized result)" if op == "decrypt" else ""), ns(f"tresor-keys_{op}")),
                    *([("tresor-keys binary, into caller buffer", ns("tresor-keys_decrypt-into"))] if op == "decrypt" else []),
                    (f"tresor-keys text", ns(f"tresor-keys_{op}-text")),
                    (f"keys-management 0.1.5 + cryptography", km)]:
        rows.append((op, name, v, v / floor, km / v))
print(f"{'op':8} {'implementation':40} {'ns/op':>10} {'x floor':>8} {'km / this':>10}")
for op, name, v, r, s in rows:
    print(f"{op:8} {name:40} {v:10.0f} {r:8.2f} {s:10.1f}")
print(f"{'encrypt':8} {'tresor-keys defined key (closure source)':40} {ns('tresor-keys_defined-encrypt'):10.0f} {ns('tresor-keys_defined-encrypt')/ns('floor_encrypt'):8.2f}")
print(f"{'get':8} {'tresor-keys encrypt_key (closure source)':40} {ns('tresor-keys_get-key'):10.0f}")
PY
