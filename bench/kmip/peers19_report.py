#!/usr/bin/env python3
"""Turns bench/kmip/peers19.sh's raw lines into bench/kmip/PEERS19.md.

    peers19_report.py RAW OUT      (CMD in the environment: the command that made RAW)

Raw lines: `# header`, `FLOOR rtt|fsync N rate us`, `OP CONNS RESULT label bench n secs rate
p50 p99`, `OP CONNS CAP label op n wall rate server_us pg_us loadgen_us load`,
`REFUSED server op conns reason`, `MISSING server why`, `GROUPS tresor ...`,
`FSYNC server creates calls name=calls...` (strace -f -c over that many Creates).
"""
import os
import sys

OPS = [
    ("floor", "Discover Versions (request floor)"),
    ("create", "Create AES-256"),
    ("get", "Get"),
    ("encrypt", "Encrypt AES-GCM 1 KiB"),
    ("sign-p256", "Sign ECDSA P-256"),
    ("sign-ed25519", "Sign Ed25519"),
]
SERVERS = ["tresor", "cosmian", "pykmip"]
# What PyKMIP 0.11.0 says when asked for a key pair other than RSA, and where its source
# decides it (kmip/services/server/crypto/engine.py in its venv).
PYKMIP_NO_EC = "is not a supported asymmetric key algorithm"
PYKMIP_NO_EC_NOTE = (
    "† not supported by PyKMIP 0.11.0, which it says itself: its Create Key Pair answers "
    "'The cryptographic algorithm (…) is not a supported asymmetric key algorithm' "
    "(kmip/services/server/crypto/engine.py:212-216; its table of key pair algorithms, "
    ":60-62, holds RSA only) and its Sign signs with RSA keys only "
    "(crypto/engine.py:1352-1361, 'For signing, an RSA key must be used')."
)
# A server whose Creates make fewer fsync-family calls than this per Create does not make
# each acknowledged Create durable on its own.
FSYNC_PER_COMMIT = 0.5


def main():
    raw, out = sys.argv[1], sys.argv[2]
    header, floors, groups, missing = "", {}, [], []
    res, cap, refused, fsync = {}, {}, {}, {}
    for line in open(raw):
        f = line.split()
        if not f:
            continue
        if line.startswith("# "):
            header = line[2:].strip()
        elif f[0] == "FLOOR" and len(f) >= 5:
            floors[f[1]] = (float(f[3]), float(f[4]))
        elif f[0] == "GROUPS":
            groups.append(" ".join(f[2:]))
        elif f[0] == "FSYNC" and len(f) >= 4:
            fsync[f[1]] = (int(f[2]), int(f[3]), " ".join(f[4:]))
        elif f[0] == "MISSING":
            missing.append(" ".join(f[1:]))
        elif f[0] == "REFUSED" and len(f) >= 4:
            refused[(f[1], f[2], f[3])] = " ".join(f[4:])
        elif len(f) >= 10 and f[2] == "RESULT":
            res[(f[3], f[0], f[1])] = (float(f[7]), float(f[8]), float(f[9]))
        elif len(f) >= 9 and f[2] == "CAP":
            cap[(f[3], f[0], f[1])] = float(f[8])
    conns = sorted({k[2] for k in list(res) + list(refused)}, key=int)
    present = [s for s in SERVERS if any(k[0] == s for k in list(res) + list(refused))]

    def no_fsync(s):
        return s in fsync and fsync[s][1] < FSYNC_PER_COMMIT * fsync[s][0]

    notes = set()

    def cell(s, op, c):
        k = (s, op, c)
        if k in res:
            rate, p50, p99 = res[k]
            cpu = cap.get(k)
            cpu_s = f"; {cpu:,.0f} µs CPU" if cpu is not None else ""
            mark = ""
            if op == "create" and no_fsync(s):
                mark = " ‡"
                notes.add("fsync")
            return f"{rate:,.0f}/s (p50 {p50:,.0f} · p99 {p99:,.0f} µs{cpu_s}){mark}"
        if k in refused and s == "pykmip" and PYKMIP_NO_EC in refused[k]:
            notes.add("pykmip")
            return "not supported by PyKMIP 0.11.0 †"
        if k in refused:
            why = refused[k].replace("|", "/").replace('\\"', "'")
            why = why.removeprefix('Error: "').split("Some(", 1)[-1] if "Some(" in why else why
            return "refused: " + why[:90]
        return "—"

    w = []
    w.append("# Issue 19: tresor, Cosmian KMS and PyKMIP in one run\n")
    w.append(f"Command: `{os.environ.get('CMD', 'bench/kmip/peers19.sh')}`  ")
    w.append(f"Run: {header}\n")
    if "fsync" in floors and "rtt" in floors:
        w.append(
            f"Floors in the same run (bench/kmip/floor.sh): 16-page write + fsync "
            f"**{floors['fsync'][0]:,.0f}/s ({floors['fsync'][1]:.0f} µs)**; TCP round trip "
            f"{floors['rtt'][0]:,.0f}/s ({floors['rtt'][1]:.1f} µs).\n"
        )
    if fsync:
        per = "; ".join(
            f"{s} **{fsync[s][1] / fsync[s][0]:.2f}** per Create ({fsync[s][1]:,} calls: "
            f"{fsync[s][2] or 'none'})"
            for s in SERVERS
            if s in fsync and fsync[s][0]
        )
        w.append(
            "Durability, counted in the same run (`strace -f -c -e trace=fsync,fdatasync,"
            "sync_file_range` on the server, all threads, during "
            f"{'/'.join(str(fsync[s][0]) for s in SERVERS if s in fsync)} Creates on one "
            f"connection after the timed runs; not timed): fsync-family calls {per}.\n"
        )
    w.append(
        "Each cell: operations per second over all connections (p50 · p99 latency of one "
        "request; the server's CPU time per operation, user + system, all threads). One load "
        "generator for every server, on the same 2 cores as the server.\n"
    )
    w.append("| operation | conns | " + " | ".join(present) + " |")
    w.append("|---|---:|" + "---|" * len(present))
    for op, name in OPS:
        for c in conns:
            w.append(f"| {name} | {c} | " + " | ".join(cell(s, op, c) for s in present) + " |")
    if "fsync" in notes:
        who = ", ".join(s for s in SERVERS if no_fsync(s))
        w.append(
            f"\n‡ {who}: fewer than one fsync-family call per Create (counts above): an "
            "acknowledged Create is not on disk by itself when it is answered, so these Create "
            "rates do not keep tresor's promise (every answered Create fsynced); not the same "
            "durability."
        )
    if "pykmip" in notes:
        w.append("\n" + PYKMIP_NO_EC_NOTE)
    if "cosmian" in present:
        w.append("\ntresor / Cosmian (rate):\n")
        w.append("| operation | " + " | ".join(f"{c} conn" for c in conns) + " |")
        w.append("|---|" + "---:|" * len(conns))
        for op, name in OPS:
            cells = []
            for c in conns:
                a, b = res.get(("tresor", op, c)), res.get(("cosmian", op, c))
                cells.append(f"{a[0] / b[0]:.2f}×" if a and b and b[0] else "—")
            w.append(f"| {name} | " + " | ".join(cells) + " |")
    if "fsync" in floors:
        fl = floors["fsync"][0]
        w.append("\nCreate against the single-fsync floor rate of the same run:")
        for c in conns:
            r = res.get(("tresor", "create", c))
            if r:
                w.append(f"- {c} connection(s): {r[0]:,.0f}/s = **{r[0] / fl:.2f}×** the floor")
    if groups:
        w.append("\ntresor's commit groups in this run (`batches x groups`, printed at shutdown):\n")
        for g in groups:
            w.append(f"    {g}")
    for m in missing:
        w.append(f"\nNot measured: {m}")
    open(out, "w").write("\n".join(w) + "\n")


if __name__ == "__main__":
    main()
