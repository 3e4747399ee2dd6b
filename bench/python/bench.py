"""Python-side benchmark of tresor's wheel against the originals, one implementation per
process (run by bench/python/run.sh with each venv's python). Prints TSV lines:
    impl<TAB>measure<TAB>value<TAB>unit
"""

import ctypes
import os
import sys
import time

MODE = sys.argv[1]
SECONDS = float(os.environ.get("BENCH_SECONDS", "2"))


def rate(f):
    """Calls per second of f over about SECONDS (after a short warm-up)."""
    for _ in range(200):
        f()
    n, t0 = 0, time.perf_counter()
    while True:
        for _ in range(500):
            f()
        n += 500
        dt = time.perf_counter() - t0
        if dt >= SECONDS:
            return n / dt


def out(impl, measure, value, unit):
    print(f"{impl}\t{measure}\t{value}\t{unit}", flush=True)


def keyutils(impl):
    import python_linux_keyutils as k

    value = os.urandom(32)
    k.set_secret("tresor-bench-py", value)
    assert k.get_secret("tresor-bench-py") == value
    per = 1e9 / rate(lambda: k.get_secret("tresor-bench-py"))
    out(impl, "get_secret 32 B (session ring)", f"{per:.0f}", "ns")
    big = os.urandom(4000)
    k.set_secret("tresor-bench-py-big", big)
    try:
        ok = k.get_secret("tresor-bench-py-big") == big
    except BaseException as e:  # the original panics over 2,048 bytes
        out(impl, "get_secret 4,000 B (session ring)", f"fails ({type(e).__name__})", "")
    else:
        assert ok
        per = 1e9 / rate(lambda: k.get_secret("tresor-bench-py-big"))
        out(impl, "get_secret 4,000 B (session ring)", f"{per:.0f}", "ns")
    k.invalidate_secret("tresor-bench-py")
    k.invalidate_secret("tresor-bench-py-big")


def raw_keyctl():
    """The floor: keyctl(KEYCTL_READ, serial, buf, len) by serial number through ctypes
    (one system call, no name search); the serial is found once beforehand. Also the same by
    name (KEYCTL_SEARCH, then the read: the work a get by name does)."""
    libc = ctypes.CDLL(None, use_errno=True)
    sys_keyctl, sys_add_key = 250, 248  # x86_64
    KEYCTL_READ, KEYCTL_GET_KEYRING_ID, KEYCTL_SEARCH = 11, 0, 10
    libc.syscall.restype = ctypes.c_long
    ring = libc.syscall(sys_keyctl, KEYCTL_GET_KEYRING_ID, ctypes.c_long(-3), 0)
    value = os.urandom(32)
    serial = libc.syscall(sys_add_key, b"user", b"tresor-bench-raw", value, ctypes.c_size_t(32), ctypes.c_long(ring))
    assert serial > 0, ctypes.get_errno()
    buf = ctypes.create_string_buffer(64)

    def read():
        n = libc.syscall(sys_keyctl, KEYCTL_READ, ctypes.c_long(serial), buf, ctypes.c_size_t(64))
        return buf.raw[:n]

    def search_read():
        found = libc.syscall(sys_keyctl, KEYCTL_SEARCH, ctypes.c_long(ring), b"user", b"tresor-bench-raw", 0)
        n = libc.syscall(sys_keyctl, KEYCTL_READ, ctypes.c_long(found), buf, ctypes.c_size_t(64))
        return buf.raw[:n]

    assert read() == value and search_read() == value
    per = 1e9 / rate(read)
    out("raw keyctl (ctypes)", "get_secret 32 B (session ring)", f"{per:.0f}", "ns")
    # The same work get_secret does (a name has to be looked up): search, then read.
    per = 1e9 / rate(search_read)
    out("raw keyctl (ctypes)", "get_secret 32 B by name (search + read)", f"{per:.0f}", "ns")
    libc.syscall(sys_keyctl, 21, ctypes.c_long(serial))  # KEYCTL_INVALIDATE


def tresor_vault(path):
    from tresor import vault

    v = vault.open(path)
    assert v.get("app7:prod:KEY_500") == "value-7-500-0123456789abcdef"
    out("tresor", "vault get (app:env:KEY, no cache)", f"{rate(lambda: v.get('app7:prod:KEY_500')):.0f}", "/s")
    # The seeqret-style fast path: values kept until any process writes to the vault.
    fast = vault.open(path, cache=True)
    assert fast.get("app7:prod:KEY_500") == "value-7-500-0123456789abcdef"
    out("tresor", "vault get (app:env:KEY, cache=True)", f"{rate(lambda: fast.get('app7:prod:KEY_500')):.0f}", "/s")
    from tresor import seeqret

    os.environ["TRESOR_VAULT"] = path
    seeqret._reset()
    assert seeqret.get("KEY_500", "app7", "prod").value == "value-7-500-0123456789abcdef"
    r = rate(lambda: seeqret.get("KEY_500", "app7", "prod").value)
    out("tresor", "seeqret.get(...).value (tresor.seeqret, cache dropped on any write)", f"{r:.0f}", "/s")


def seeqret_original():
    import seeqret

    assert seeqret.get("KEY_500", "app7", "prod").value == "value-7-500-0123456789abcdef"
    r = rate(lambda: seeqret.get("KEY_500", "app7", "prod").value)
    out("seeqret 1.0.5", "seeqret.get(...).value", f"{r:.0f}", "/s")


def keys_original():
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM
    from keys_management import KeysManagementImpl, SecretKeyUseCase

    key = os.urandom(32)
    km = KeysManagementImpl()
    km.define_key("bench", lambda: key, SecretKeyUseCase.ROUND_TRIP, True, True)
    pt = b"\x5a" * 1024

    def enc():
        k = km.get_forward_path_key("bench")
        nonce = os.urandom(12)
        return nonce + AESGCM(k).encrypt(nonce, pt, None)

    ct = enc()
    assert AESGCM(km.get_back_path_key("bench")).decrypt(ct[:12], ct[12:], None) == pt
    out("keys-management 0.1.5 + cryptography", "encrypt 1 KiB (AES-256-GCM)", f"{1e9 / rate(enc):.0f}", "ns")


def keys_tresor(path):
    from tresor import keys, vault

    k = keys.Keys(vault.init(path))
    k.create("bench")
    pt = b"\x5a" * 1024
    assert k.decrypt(k.encrypt("bench", pt)) == pt
    per = 1e9 / rate(lambda: k.encrypt("bench", pt))
    out("tresor", "encrypt 1 KiB (AES-256-GCM)", f"{per:.0f}", "ns")
    assert k.decrypt_bytes(k.encrypt_bytes("bench", pt)) == pt
    per = 1e9 / rate(lambda: k.encrypt_bytes("bench", pt))
    out("tresor", "encrypt_bytes 1 KiB (AES-256-GCM)", f"{per:.0f}", "ns")


def kmip_get(impl, port, certs):
    """Get of one registered AES-256 key, over one kept connection, against the same server."""
    if impl == "pykmip":
        from kmip.core import enums
        from kmip.pie import objects
        from kmip.pie.client import ProxyKmipClient

        label = "PyKMIP 0.11 ProxyKmipClient"
    else:
        from tresor.kmip import ProxyKmipClient, enums, objects

        label = "tresor"
    c = ProxyKmipClient(hostname="127.0.0.1", port=int(port), cert=f"{certs}/client.crt",
                        key=f"{certs}/client.key", ca=f"{certs}/ca.crt")
    with c:
        uid = c.register(objects.SymmetricKey(enums.CryptographicAlgorithm.AES, 256, bytes(32)))
        assert c.get(uid).value == bytes(32)
        for _ in range(20):
            c.get(uid)
        n, t0 = 0, time.perf_counter()
        while True:
            for _ in range(20):
                c.get(uid)
            n += 20
            dt = time.perf_counter() - t0
            if dt >= SECONDS:
                break
    out(label, "KMIP Get, one connection", f"{n / dt:.0f}", "/s")


if MODE == "kmip-pykmip":
    kmip_get("pykmip", sys.argv[2], sys.argv[3])
elif MODE == "kmip-tresor":
    kmip_get("tresor", sys.argv[2], sys.argv[3])
elif MODE == "keys-original":
    keys_original()
elif MODE == "keys-tresor":
    keys_tresor(sys.argv[2])
elif MODE == "keyutils-original":
    keyutils("python-linux-keyutils 0.2.1")
elif MODE == "keyutils-tresor":
    keyutils("tresor")
elif MODE == "raw":
    raw_keyctl()
elif MODE == "vault-tresor":
    tresor_vault(sys.argv[2])
elif MODE == "seeqret":
    seeqret_original()
else:
    raise SystemExit(f"unknown mode {MODE!r}")
