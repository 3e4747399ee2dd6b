#!/usr/bin/env python3
"""Turns bench/kmip/cosmian.sh's raw lines into bench/kmip/COSMIAN.md.

    cosmian_report.py RESULTS_TXT OUT_MD

Lines read: `RESULT label bench n secs ops_per_s p50_us p99_us` (kmip_load),
`START label round ms MS rss-kb KB` and `AFTER label round rss-kb KB`.
Every round is shown (min-max), with the median used for the ratio.
"""
import os
import statistics
import sys

ROWS = [
    ("create", "Create, 1 connection"),
    ("get", "Get, 1 connection"),
    ("get-4-connections", "Get, 4 connections (total)"),
    ("create-4-connections", "Create, 4 connections (total)"),
]


def main():
    src, dst = sys.argv[1], sys.argv[2]
    runs = {}  # (label, bench) -> [(ops, p50, p99)]
    start = {}  # label -> [(ms, rss_kb)]
    after = {}  # label -> [rss_kb]
    for line in open(src):
        f = line.split()
        if not f:
            continue
        if f[0] == "RESULT" and len(f) >= 8:
            runs.setdefault((f[1], f[2].split(":")[0]), []).append((float(f[5]), float(f[6]), float(f[7])))
        elif f[0] == "START" and len(f) >= 7:
            start.setdefault(f[1], []).append((float(f[4]), int(f[6])))
        elif f[0] == "AFTER" and len(f) >= 5:
            after.setdefault(f[1], []).append(int(f[4]))
    rounds = len(start.get("tresor", []))

    def cell(label, bench):
        r = runs.get((label, bench), [])
        if not r:
            return "-", None
        ops = [x[0] for x in r]
        p50 = statistics.median(x[1] for x in r) / 1000
        p99 = statistics.median(x[2] for x in r) / 1000
        med = statistics.median(ops)
        return (f"{min(ops):,.0f}–{max(ops):,.0f} ops/s (median {med:,.0f}; "
                f"p50 {p50:.2f} ms, p99 {p99:.2f} ms)"), med

    lines = [
        "# KMIP benchmark peer: tresor vs Cosmian KMS 5.28.0",
        "",
        f"Command: `{os.environ.get('CMD', 'bench/kmip/cosmian.sh')}` "
        f"(run {os.environ.get('WHEN', '?')} on {os.environ.get('CPU', '?')}); "
        f"{rounds} rounds, the two servers alternated, a fresh store each round.",
        "",
        "Both servers listen on 127.0.0.1 with the same ECDSA P-256 certificates (mutual TLS) and",
        "are driven by the same load generator (`crates/tresor-kmip/examples/kmip_load/main.rs`, release",
        "build, KMIP 1.4, AES-256 keys). Cosmian KMS: `cosmian_kms` 5.28.0 built from crates.io",
        "with `--features non-fips` (`tests/peers/cosmian/build-server.sh`), SQLite store, binary",
        "KMIP on its socket server. tresor: `target/release/tresor kmip serve`, SQLite store.",
        "",
        "**Durability differs:** tresor fsyncs every Create (SQLite `synchronous=FULL`); Cosmian's",
        "SQLite store runs WAL with `synchronous=NORMAL`, so a commit is not fsynced and a power",
        "loss can drop Creates it acknowledged. Create rates compare a durable write with a",
        "non-durable one.",
        "",
        "| operation | Cosmian KMS | tresor | tresor / Cosmian (medians) |",
        "|---|---|---|---|",
    ]
    for bench, name in ROWS:
        c, cm = cell("cosmian", bench)
        t, tm = cell("tresor", bench)
        ratio = f"{tm / cm:.2f}×" if cm and tm else "-"
        lines.append(f"| {name} | {c} | {t} | {ratio} |")
    lines += ["", "| server | startup until ready (median) | idle RSS (median) | RSS after a round (median) |",
              "|---|---|---|---|"]
    for label, name, ready in [("cosmian", "Cosmian KMS", "socket port accepts connections"),
                               ("tresor", "tresor", "`listening on` printed")]:
        s = start.get(label, [])
        a = after.get(label, [])
        if not s:
            continue
        ms = statistics.median(x[0] for x in s)
        rss = statistics.median(x[1] for x in s) / 1024
        ra = statistics.median(a) / 1024 if a else float("nan")
        lines.append(f"| {name} | {ms:.1f} ms ({ready}) | {rss:.1f} MB | {ra:.1f} MB |")
    lines += ["", "Raw lines: `bench/kmip/cosmian-raw.txt`.", ""]
    open(dst, "w").write("\n".join(lines))


if __name__ == "__main__":
    main()
