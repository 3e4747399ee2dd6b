#!/usr/bin/env python3
"""Start a server in the background and time how long it takes to become ready.

    startup.py --log FILE [--port P | --stderr-line TEXT] -- COMMAND...

Ready means: with --port, a TCP connect to 127.0.0.1:P succeeds; with --stderr-line, TEXT
appears in the server's stderr (which goes to FILE). Prints "PID MILLISECONDS [LINE]" and
leaves the server running in its own session.
"""
import argparse
import socket
import subprocess
import sys
import time


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--log", required=True)
    p.add_argument("--port", type=int)
    p.add_argument("--stderr-line")
    p.add_argument("--timeout", type=float, default=60.0)
    p.add_argument("cmd", nargs=argparse.REMAINDER)
    a = p.parse_args()
    cmd = a.cmd[1:] if a.cmd and a.cmd[0] == "--" else a.cmd
    log = open(a.log, "wb")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)
    deadline = t0 + a.timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit("server exited with %s before it was ready" % proc.returncode)
        if a.port:
            try:
                socket.create_connection(("127.0.0.1", a.port), timeout=0.05).close()
                print(proc.pid, "%.1f" % ((time.monotonic() - t0) * 1000))
                return
            except OSError:
                pass
        else:
            with open(a.log, "rb") as f:
                for line in f.read().decode("utf-8", "replace").splitlines():
                    if a.stderr_line in line:
                        print(proc.pid, "%.1f" % ((time.monotonic() - t0) * 1000), line)
                        return
        time.sleep(0.0005)
    proc.kill()
    sys.exit("server not ready after %.0f s" % a.timeout)


if __name__ == "__main__":
    main()
