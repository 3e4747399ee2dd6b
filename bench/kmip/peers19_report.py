#!/usr/bin/env python3
"""Turns bench/kmip/peers19.sh's raw lines into bench/kmip/PEERS19.md.

    peers19_report.py RAW OUT      (CMD in the environment: the command that made RAW)

Raw lines: `# header`, `FLOOR rtt|fsync N rate us`, `OP CONNS RESULT label bench n secs rate
p50 p99`, `OP CONNS CAP label op n wall rate server_us pg_us loadgen_us load`,
`REFUSED server op conns reason`, `MISSING server why`, `GROUPS tresor ...`.
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


def main():
    raw, out = sys.argv[1], sys.argv[2]
    header, floors, groups, missing = "", {}, [], []
    res, cap, refused = {}, {}, {}
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

    def cell(s, op, c):
        k = (s, op, c)
        if k in res:
            rate, p50, p99 = res[k]
            cpu = cap.get(k)
            cpu_s = f"; {cpu:,.0f} µs CPU" if cpu is not None else ""
            return f"{rate:,.0f}/s (p50 {p50:,.0f} · p99 {p99:,.0f} µs{cpu_s})"
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
