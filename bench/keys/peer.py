"""keys-management 0.1.5 get_key + cryptography AES-GCM on 1 KiB: ns per operation (median of 5)."""
import os
import sys
import time

from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from keys_management import KeysManagementImpl, SecretKeyUseCase

KEY = os.urandom(32)
km = KeysManagementImpl()
km.define_key("bench", lambda: KEY, SecretKeyUseCase.ROUND_TRIP, True, True)
PT = b"\x5a" * 1024


def enc():
    k = km.get_forward_path_key("bench")
    nonce = os.urandom(12)
    return nonce + AESGCM(k).encrypt(nonce, PT, None)


CT = enc()


def dec():
    k = km.get_back_path_key("bench")
    return AESGCM(k).decrypt(CT[:12], CT[12:], None)


def per_op(f, n):
    runs = []
    for _ in range(5):
        t = time.perf_counter_ns()
        for _ in range(n):
            f()
        runs.append((time.perf_counter_ns() - t) / n)
    return sorted(runs)[2]


assert dec() == PT
n = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
print(f"keys-management/encrypt {per_op(enc, n):.0f}")
print(f"keys-management/decrypt {per_op(dec, n):.0f}")
