#!/usr/bin/env python3
"""TLS clients and a server made wrong on purpose, for tests/kmip_tls_doctor.rs.

    cases.py expired-cert CERTDIR OUTDIR      write OUTDIR/expired.{crt,key}, signed by CERTDIR's CA
    cases.py client CASE HOST PORT CERTDIR    one handshake as CASE; prints "handshake: ..."
    cases.py cbc-server CERTDIR               a TLS 1.2 CBC-only server; prints its port

CASE: old-tls (TLS 1.0/1.1 only), cbc (TLS 1.2, CBC suites only), no-cert (no client
certificate), hostname (checks the server's name against 'wrong.example').
Needs Python's ssl; expired-cert needs the `cryptography` package (the PyKMIP venv has it).
"""
import datetime
import os
import socket
import ssl
import sys


def expired_cert(certdir, outdir):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    ca = x509.load_pem_x509_certificate(open(os.path.join(certdir, "ca.crt"), "rb").read())
    ca_key = serialization.load_pem_private_key(
        open(os.path.join(certdir, "ca.key"), "rb").read(), None)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "expired")]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=30))
        .not_valid_after(now - datetime.timedelta(days=1))
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), False)
        .sign(ca_key, hashes.SHA256())
    )
    with open(os.path.join(outdir, "expired.crt"), "wb") as f:
        f.write(cert.public_bytes(serialization.Encoding.PEM))
    with open(os.path.join(outdir, "expired.key"), "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.PEM,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    print("wrote expired.crt")


def client(case, host, port, certdir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(os.path.join(certdir, "ca.crt"))
    name = "localhost"
    if case == "old-tls":
        ctx.minimum_version = ssl.TLSVersion.TLSv1
        ctx.maximum_version = ssl.TLSVersion.TLSv1_1
        ctx.set_ciphers("DEFAULT:@SECLEVEL=0")
    elif case == "cbc":
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
        ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA:"
                        "ECDHE-ECDSA-AES128-SHA256:ECDHE-RSA-AES128-SHA")
    elif case == "hostname":
        name = "wrong.example"
    if case != "no-cert":
        ctx.load_cert_chain(os.path.join(certdir, "client.crt"),
                            os.path.join(certdir, "client.key"))
    s = socket.create_connection((host, int(port)), timeout=10)
    try:
        t = ctx.wrap_socket(s, server_hostname=name)
        # TLS 1.3: the server's verdict on the client certificate comes with the first read.
        t.sendall(b"\x42\x00\x78\x01\x00\x00\x00\x00")
        t.recv(16)
        print("handshake: ok", t.version(), t.cipher())
    except (ssl.SSLError, OSError) as e:
        print("handshake: refused:", e)


def cbc_server(certdir):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers("ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA")
    ctx.load_cert_chain(os.path.join(certdir, "server.crt"),
                        os.path.join(certdir, "server.key"))
    ls = socket.socket()
    ls.bind(("127.0.0.1", 0))
    ls.listen(8)
    print(ls.getsockname()[1], flush=True)
    while True:
        c, _ = ls.accept()
        try:
            ctx.wrap_socket(c, server_side=True).close()
        except (ssl.SSLError, OSError):
            pass
        finally:
            c.close()


if __name__ == "__main__":
    if sys.argv[1] == "expired-cert":
        expired_cert(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "client":
        client(*sys.argv[2:6])
    elif sys.argv[1] == "cbc-server":
        cbc_server(sys.argv[2])
    else:
        sys.exit("unknown command " + sys.argv[1])
