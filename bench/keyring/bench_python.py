"""python-linux-keyutils per-operation latency, same operations as the Rust
bench (examples/keyring_bench.rs): set/get one 32-byte key in the process
keyring, invalidate pre-created keys. Prints impl<TAB>op<TAB>ns_per_op."""
import sys
import time

import python_linux_keyutils as k

N = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
RING = k.KeyRingIdentifier.Process
VALUE = b"0123456789abcdef0123456789abcdef"


def per_op(n, f):
    if True:
        for i in range(min(n, 1000)):
            f(i)
    t = time.perf_counter_ns()
    for i in range(n):
        f(i)
    return (time.perf_counter_ns() - t) / n


set_ns = per_op(N, lambda i: k.set_secret("bench-py", VALUE, RING, True))
assert k.get_secret("bench-py", RING) == VALUE
get_ns = per_op(N, lambda i: k.get_secret("bench-py", RING))
# Create each key right before invalidating it (untimed), as the Rust bench
# does, so the ring stays small.
inv_total = 0
for i in range(N):
    name = f"bench-py-inv-{i}"
    k.set_secret(name, VALUE, RING, True)
    t = time.perf_counter_ns()
    k.invalidate_secret(name, RING)
    inv_total += time.perf_counter_ns() - t
inv_ns = inv_total / N
for op, ns in (("set", set_ns), ("get", get_ns), ("invalidate", inv_ns)):
    print(f"python-linux-keyutils 0.2.1\t{op}\t{ns:.0f}")
