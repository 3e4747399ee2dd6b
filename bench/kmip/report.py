#!/usr/bin/env python3
"""Turns kmip_load output (RESULT/SEED lines) and run.sh measurements into RESULTS.md.

Inputs come from the environment run.sh exports (see run.sh)."""
import os
import sys

E = os.environ
res = {}
seeds = []
for line in open(sys.argv[1]):
    f = line.split()
    if f and f[0] == "RESULT":
        label, bench = f[1], f[2].split(":")[0]
        # ops/s from n / seconds: the printed rate rounds slow peers (PyKMIP's Locate) to 0.
        n, secs = int(f[3]), float(f[4])
        res.setdefault(bench, {})[label] = (n, n / secs if secs > 0 else 0.0, int(f[6]), int(f[7]))
    elif f and f[0] == "SEED":
        seeds.append(line.strip())


def cell(r):
    if not r:
        return "-"
    rate = "%.0f" % r[1] if r[1] >= 10 else "%.2g" % r[1]
    return "%s ops/s (p50 %.2f ms, p99 %.2f ms, n=%d)" % (rate, r[2] / 1000, r[3] / 1000, r[0])


def row(name, pbench, tbench=None):
    p = res.get(pbench, {}).get("pykmip")
    t = res.get(tbench or pbench, {}).get("tresor")
    ratio = "%.1f×" % (t[1] / p[1]) if p and t and p[1] > 0 else "-"
    return "| %s | %s | %s | %s |" % (name, cell(p), cell(t), ratio)


big, pybig = E["BIG"], E["PY_BIG"]
mb = lambda kb: "%.1f MB" % (int(kb) / 1024)
cmd = ("CREATE_N={CREATE_N} GET_N={GET_N} CONNECT_N={CONNECT_N} CONC_N={CONC_N} "
       "LOCATE_N={LOCATE_N} PY_LOCATE_N={PY_LOCATE_N} BIG={BIG} PY_BIG={PY_BIG} "
       "bench/kmip/run.sh").format(**E)
lines = [
    "# KMIP benchmark: tresor vs PyKMIP 0.11",
    "",
    "Command: `%s` (run %s on %s)." % (cmd, E["WHEN"], E["CPU"]),
    "",
    "Both servers listen on 127.0.0.1 with the same ECDSA P-256 certificates (mutual TLS) and are",
    "driven by the same Rust load generator (`crates/tresor-kmip/examples/kmip_load/main.rs`, release",
    "build, KMIP 1.4, AES-256 keys, one TLS connection unless stated). PyKMIP: `pykmip-server`",
    "0.11.0 (SQLite database, TLS1.2 auth suite). tresor: `%s serve` (release build, store on" % E["TRESOR_KMIP_CMD"].replace(E["ROOT"] + "/", ""),
    "local disk). ops/s is operations divided by wall time; p50/p99 are per-request latencies.",
    "",
    "| operation | PyKMIP | tresor | tresor / PyKMIP |",
    "|---|---|---|---|",
    row("Create (durable)", "create"),
    row("Get", "get"),
    row("new connection + Get", "connect-get"),
    row("Get over 4 concurrent connections (total)", "get-4-connections"),
    row("Locate by name, 1k objects", "locate-by-name@1000"),
]
if pybig != big:
    lines.append(row("Locate by name, PyKMIP at %s vs tresor at %s objects" % (pybig, big),
                     "locate-by-name@" + pybig, "locate-by-name@" + big))
else:
    lines.append(row("Locate by name, %s objects" % big, "locate-by-name@" + big))
lines += [
    "",
    "| server | startup until ready | idle RSS | RSS after the run |",
    "|---|---|---|---|",
    "| PyKMIP | %s ms (port accepts connections) | %s | %s |" % (E["PYSTART"], mb(E["PYRSS"]), mb(E["PYRSS_AFTER"])),
    "| tresor | %s ms (`listening on` printed) | %s | %s |" % (E["TSTART"], mb(E["TRSS"]), mb(E["TRSS_AFTER"])),
    "",
    "Seeding (batched Creates, 100 per request message):",
    "",
] + ["    " + s for s in seeds]
if pybig != big:
    lines += [
        "",
        "PyKMIP was seeded to %s objects, not %s: its Locate loads and filters every object in" % (pybig, big),
        "Python (about a second per Locate at 1k objects, ten times that at 10k), so seeding and",
        "querying it at %s would dominate the run. Its big-Locate row is therefore measured at %s" % (big, pybig),
        "objects and tresor's at %s; the ratio understates tresor's advantage." % big,
    ]
open(sys.argv[2], "w").write("\n".join(lines) + "\n")
