#!/usr/bin/env python3
"""Groups the self time of one or two `perf record` files of a tresor server into coarse
categories (kernel scheduling, loopback TCP, SQLite, JSON attributes, aws-lc, TLS, ...),
printing the share of samples of each side by side:

    perf_groups.py A.data [B.data]
"""
import re
import subprocess
import sys


def cats(data):
    out = subprocess.run(["perf","report","-i",data,"--no-children","--sort","dso,symbol","--stdio","-g","none"],capture_output=True,text=True).stdout
    tot = {}
    for line in out.splitlines():
        m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+\[(.)\]\s+(.*)", line)
        if not m: continue
        pct, dso, kind, sym = float(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        s = sym
        if kind == 'k':
            if re.search(r"ext4|jbd2|generic_perform_write|vfs_write$|filemap|block_write|iomap|copy_page_from|page_cache", s): c = "kernel: file write (audit stream)"
            elif re.search(r"posix_lock|fcntl|locks_", s): c = "kernel: fcntl locks (sqlite)"
            elif re.search(r"finish_task_switch|schedule|__schedule|pick_next|enqueue|dequeue|try_to_wake|update_curr|psi_|select_task|ttwu|_raw_spin_unlock_irqrestore|_raw_spin_unlock_irq$", s): c = "kernel: scheduling/wakeups"
            elif re.search(r"tcp|ip_|__dev|net_|sk_|sock|skb|inet|loopback|netif|softirq|bbr|__netif|napi|rx|xmit", s): c = "kernel: tcp/loopback"
            elif re.search(r"epoll|ep_", s): c = "kernel: epoll"
            else: c = "kernel: other (syscall entry, copy, mm)"
        else:
            if re.search(r"sqlite3|rusqlite", s): c = "store: sqlite"
            elif re.search(r"serde_json|serde_core|BTreeMap|btree", s): c = "store: meta JSON + attributes"
            elif re.search(r"tresor_store|metamac|hmac|sha256|Sha256|sha2|blake", s, re.I): c = "store: tresor_store (incl. MAC)"
            elif re.search(r"rustls|ring_core|ring::", s): c = "TLS (rustls + ring record AEAD)"
            elif re.search(r"aws_lc|edwards25519|curve25519|nistz256|aead_aes|EVP_|aws_lc_rs|ec_|p256|ed25519|x25519|bn_|BN_|ecp_nistz|fiat|sha512|SHA512", s): c = "aws-lc (unseal AEAD, request crypto, key parse)"
            elif re.search(r"tresor_kmip::ttlv|tresor_kmip::message|tresor_kmip::payload|Codec", s): c = "TTLV + message + payload"
            elif re.search(r"tresor_kmip", s): c = "tresor_kmip (ops, server)"
            elif re.search(r"tokio|mio", s): c = "tokio"
            elif re.search(r"mi_|_mi_|mimalloc", s): c = "allocator (mimalloc)"
            elif re.search(r"memcpy|memmove|memset|memcmp|__GI_|__libc|writev|write|recv|epoll|clock_gettime|syscall|pthread", s): c = "libc (copies, syscall stubs)"
            else: c = "other user: " + s[:50]
        tot[c] = tot.get(c, 0) + pct
    return tot
a = cats(sys.argv[1]); b = cats(sys.argv[2]) if len(sys.argv) > 2 else {}
keys = sorted(set(a)|set(b), key=lambda k: -(a.get(k,0)))
for k in keys:
    if a.get(k,0) < 0.8 and b.get(k,0) < 0.8: continue
    print(f"{a.get(k,0):6.1f}%  {b.get(k,0):6.1f}%  {k}")
