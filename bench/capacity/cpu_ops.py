#!/usr/bin/env python3
"""Runs one load-generator command and prints the CPU time per operation of each party.

    cpu_ops.py --label L --op OP --server-pid P [--server-pid P2] [--postmaster-pid PM] -- LOAD...

CPU time is utime+stime from /proc/PID/stat (every thread) of each tresor server and of every
child of the PostgreSQL postmaster (backends, WAL writer, checkpointer: a private server of
this benchmark, so all of it is tresor's), and getrusage(RUSAGE_CHILDREN) of the load
generator, read before and after the run. The number of operations is taken from the load
generator's RESULT lines (`RESULT label bench n secs ops_per_s p50_us p99_us`). Prints the
load generator's lines, then

    CAP label op n wall_s ops_per_s server_us pg_us loadgen_us loadavg1

where *_us is CPU microseconds per operation.
"""
import argparse
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    rest = s[s.rindex(")") + 2 :].split()
    return int(rest[11]) + int(rest[12])


def children(ppid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                s = f.read()
        except OSError:
            continue
        rest = s[s.rindex(")") + 2 :].split()
        if int(rest[1]) == ppid:
            out.append(int(d))
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--op", required=True)
    ap.add_argument("--server-pid", type=int, action="append", default=[])
    ap.add_argument("--postmaster-pid", type=int, default=0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd

    def pg():
        if not a.postmaster_pid:
            return {}
        pids = children(a.postmaster_pid) + [a.postmaster_pid]
        return {p: proc_ticks(p) for p in pids}

    srv0 = sum(proc_ticks(p) for p in a.server_pid)
    pg0 = pg()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd, stdout=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    pg1 = pg()
    srv1 = sum(proc_ticks(p) for p in a.server_pid)
    sys.stdout.write(r.stdout)
    if r.returncode != 0:
        sys.exit(r.returncode)
    n = sum(int(l.split()[3]) for l in r.stdout.splitlines() if l.startswith("RESULT "))
    if n == 0:
        sys.exit("no RESULT line from the load generator")
    # A backend that exited during the run is lost; one that started counts from 0.
    pgs = sum(t - pg0.get(p, 0) for p, t in pg1.items()) / TICK
    srv = (srv1 - srv0) / TICK
    gen = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    us = lambda s: 1e6 * s / n
    print(
        f"CAP {a.label} {a.op} {n} {wall:.3f} {n / wall:.1f} {us(srv):.1f} {us(pgs):.1f} "
        f"{us(gen):.1f} {os.getloadavg()[0]:.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
