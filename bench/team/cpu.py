#!/usr/bin/env python3
"""Runs one load-generator command and reports the CPU each party used while it ran.

    cpu.py --label L --server-pid P [--server-pid P2] [--postmaster-pid PM] -- LOAD ARGS...

Reads /proc: utime+stime of each tresor server (all its threads), of every child of the
PostgreSQL postmaster (the backends serving the servers, plus its background workers), of the
load generator (as a waited-for child), and the whole machine's busy time (/proc/stat), before
and after. Prints the load generator's own output, then one line

    CPU label wall_s servers_pct postgres_pct loadgen_pct machine_busy_pct other_pct ncpu

where a percentage is of one core (200 = two cores busy), "other" is the machine's busy time
not accounted to the three (other users of the machine, the kernel's softirq work, ...).
"""
import argparse
import os
import resource
import subprocess
import sys
import time

TICK = os.sysconf("SC_CLK_TCK")


def proc_ticks(pid):
    """utime + stime of a process (every thread), in clock ticks; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
    except OSError:
        return 0
    # The command name is in parentheses and may hold spaces: split after it.
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


def machine():
    """(busy, total) jiffies of all CPUs."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    idle = v[3] + v[4]  # idle + iowait
    total = sum(v[:8])  # guest time is already in user
    return total - idle, total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--label", required=True)
    ap.add_argument("--server-pid", type=int, action="append", default=[])
    ap.add_argument("--postmaster-pid", type=int, default=0)
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    a = ap.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    if not cmd:
        ap.error("no load-generator command after --")

    def pg_ticks():
        if not a.postmaster_pid:
            return {}
        return {p: proc_ticks(p) for p in children(a.postmaster_pid)}

    srv0 = sum(proc_ticks(p) for p in a.server_pid)
    pg0 = pg_ticks()
    busy0, total0 = machine()
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    r = subprocess.run(cmd)
    wall = time.monotonic() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    busy1, total1 = machine()
    pg1 = pg_ticks()
    srv1 = sum(proc_ticks(p) for p in a.server_pid)
    if r.returncode != 0:
        sys.exit(r.returncode)
    ncpu = os.cpu_count() or 1
    pg = sum(t - pg0.get(p, 0) for p, t in pg1.items()) / TICK
    srv = (srv1 - srv0) / TICK
    gen = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    # /proc/stat counts in USER_HZ for all CPUs together.
    busy = (busy1 - busy0) / TICK
    other = max(0.0, busy - srv - pg - gen)
    pct = lambda s: 100.0 * s / wall
    print(
        f"CPU {a.label} {wall:.3f} {pct(srv):.0f} {pct(pg):.0f} {pct(gen):.0f} "
        f"{pct(busy):.0f} {pct(other):.0f} {ncpu}",
        flush=True,
    )


if __name__ == "__main__":
    main()
