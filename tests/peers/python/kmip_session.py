#!/usr/bin/env python3
"""One KMIP session script, run with PyKMIP's own client or with tresor's drop-in:

    kmip_session.py --impl pykmip|tresor --host H --port P --certs DIR [--prefix NAME]
                    [--conf] [--kmip-version 1.2|1.4|2.0]

``--impl pykmip`` imports ``kmip.pie.client.ProxyKmipClient``, ``kmip.pie.objects``,
``kmip.core.enums`` and PyKMIP's ``AttributeFactory`` (run it with the PyKMIP venv's
python); ``--impl tresor`` imports the same names from ``tresor.kmip`` (the wheel's venv).
The code after the imports is the same for both. It prints one JSON line per step:

    {"step": "create", "ok": true, "value": ...}
    {"step": "rekey", "ok": false, "status": "OPERATION_FAILED", "reason": "OPERATION_NOT_SUPPORTED"}

normalised so that two clients talking to the same server print the same lines: unique
identifiers become ``#1``, ``#2``... in order of first appearance, enums their names, random
material its length, deterministic material (from registered keys) its SHA-256.
crates/tresor-py/tests/core/test_kmip.py runs it with both clients against
``tresor kmip serve`` and against ``pykmip-server`` and compares the lines.
"""

import argparse
import hashlib
import json
import os
import sys
import traceback
import warnings

warnings.simplefilter("ignore")

ap = argparse.ArgumentParser()
ap.add_argument("--impl", choices=["pykmip", "tresor"], required=True)
ap.add_argument("--host", default="127.0.0.1")
ap.add_argument("--port", type=int, required=True)
ap.add_argument("--certs", required=True)
ap.add_argument("--prefix", default="session")
ap.add_argument("--conf", action="store_true", help="read the settings from a pykmip.conf")
ap.add_argument("--kmip-version", help="1.0 .. 1.4 or 2.0 (default: the client's, 1.2)")
args = ap.parse_args()

if args.impl == "pykmip":
    from kmip.core import enums
    from kmip.core.factories.attributes import AttributeFactory
    from kmip.pie import objects
    from kmip.pie.client import ProxyKmipClient
    from kmip.pie.exceptions import KmipOperationFailure
else:
    from tresor.kmip import AttributeFactory, KmipOperationFailure, ProxyKmipClient, enums, objects

U = enums.CryptographicUsageMask
VERSION = {"kmip_version": enums.KMIPVersion(float(args.kmip_version))} if args.kmip_version else {}
A = enums.CryptographicAlgorithm
AF = AttributeFactory()
UIDS = {}
FIXED_16 = bytes(range(16))
FIXED_32 = bytes(range(32))
HMAC_KEY = bytes(range(100, 132))
IV16 = b"\x02" * 16


def uid(u):
    if u is None:
        return None
    if u not in UIDS:
        UIDS[u] = "#%d" % (len(UIDS) + 1)
    return UIDS[u]


def digest(b):
    return None if b is None else "sha256:" + hashlib.sha256(bytes(b)).hexdigest()[:16]


def name_of(e):
    return getattr(e, "name", e)


def obj(o):
    """A managed object, normalised; ``deterministic``: show the material's digest."""
    out = {"class": type(o).__name__, "uid": uid(o.unique_identifier)}
    for f in ("cryptographic_algorithm", "key_format_type", "data_type", "opaque_type",
              "certificate_type"):
        if hasattr(o, f):
            out[f] = name_of(getattr(o, f))
    if hasattr(o, "cryptographic_length"):
        out["cryptographic_length"] = o.cryptographic_length
    if type(o).__name__ == "PrivateKey":
        # A fresh RSA private key's DER length varies with its numbers: only "not empty".
        out["value_len"] = "nonempty" if o.value else 0
    else:
        out["value_len"] = len(o.value or b"")
    return out


def attr_value(a):
    v = a.attribute_value
    if hasattr(v, "name_value"):
        # Names carry the run's prefix: shown as "<prefix>-..." so runs compare.
        return [v.name_value.value.replace(args.prefix, "<prefix>", 1), name_of(v.name_type.value)]
    v = getattr(v, "value", v)
    if a.attribute_name.value in ("Unique Identifier",):
        return uid(v)
    if a.attribute_name.value.endswith("Date"):
        return "<date>"
    return name_of(v)


def step(name, fn):
    try:
        value = fn()
        line = {"step": name, "ok": True, "value": value}
    except KmipOperationFailure as e:
        line = {"step": name, "ok": False, "status": name_of(e.status), "reason": name_of(e.reason)}
    except Exception as e:  # noqa: BLE001 - a client-side failure is a result too
        line = {"step": name, "ok": False, "error": type(e).__name__, "detail": str(e)[:200]}
        traceback.print_exc(file=sys.stderr)
    print(json.dumps(line, sort_keys=True), flush=True)
    return line.get("value")


if args.conf:
    conf = os.path.join(args.certs, f"pykmip-{args.impl}-{os.getpid()}.conf")
    with open(conf, "w") as f:
        f.write(
            "[client]\nhost=%s\nport=%d\ncertfile=%s\nkeyfile=%s\nca_certs=%s\n"
            "cert_reqs=CERT_REQUIRED\nssl_version=PROTOCOL_SSLv23\ndo_handshake_on_connect=True\n"
            "suppress_ragged_eofs=True\n"
            % (args.host, args.port, os.path.join(args.certs, "client.crt"),
               os.path.join(args.certs, "client.key"), os.path.join(args.certs, "ca.crt"))
        )
    client = ProxyKmipClient(config="client", config_file=conf, **VERSION)
else:
    client = ProxyKmipClient(
        hostname=args.host,
        port=args.port,
        cert=os.path.join(args.certs, "client.crt"),
        key=os.path.join(args.certs, "client.key"),
        ca=os.path.join(args.certs, "ca.crt"),
        **VERSION,
    )
P = args.prefix
CBC = {
    "block_cipher_mode": enums.BlockCipherMode.CBC,
    "padding_method": enums.PaddingMethod.PKCS5,
    "cryptographic_algorithm": A.AES,
}

with client as c:
    aes = step("create", lambda: uid(c.create(A.AES, 256, name=P + "-aes",
                                              cryptographic_usage_mask=[U.ENCRYPT, U.DECRYPT])))
    aes = next(k for k, v in UIDS.items() if v == aes) if aes else None
    step("get_attribute_list", lambda: c.get_attribute_list(aes))
    step("get_attributes/named", lambda: (lambda r: [uid(r[0]), sorted(
        [a.attribute_name.value, attr_value(a)] for a in r[1])])(c.get_attributes(
            aes, ["Cryptographic Algorithm", "Cryptographic Length", "Name", "State",
                  "Object Type", "Cryptographic Usage Mask"])))
    step("get/pre-active", lambda: obj(c.get(aes)))
    step("activate", lambda: c.activate(aes))
    step("get_attributes/state", lambda: [attr_value(a) for a in c.get_attributes(aes, ["State"])[1]])
    step("encrypt/random-key", lambda: (lambda r: [len(r[0]), r[1] and len(r[1])])(
        c.encrypt(b"sixteen byte msg", aes, CBC, iv_counter_nonce=IV16)))
    step("check/mask", lambda: uid(c.check(aes, cryptographic_usage_mask=[U.ENCRYPT])))
    step("check/bad-mask", lambda: uid(c.check(aes, cryptographic_usage_mask=[U.SIGN])))

    fixed = step("register/aes-128", lambda: uid(c.register(objects.SymmetricKey(
        A.AES, 128, FIXED_16, [U.ENCRYPT, U.DECRYPT], name=P + "-fixed")))) and next(
            k for k, v in UIDS.items() if v == "#%d" % len(UIDS))
    step("activate/fixed", lambda: c.activate(fixed))
    ct = step("encrypt/fixed", lambda: (lambda r: [digest(r[0]), r[1]])(
        c.encrypt(b"deterministic plaintext", fixed, CBC, iv_counter_nonce=IV16)))
    step("encrypt-decrypt/fixed", lambda: c.decrypt(
        c.encrypt(b"deterministic plaintext", fixed, CBC, iv_counter_nonce=IV16)[0], fixed, CBC,
        iv_counter_nonce=IV16).decode())
    step("get/fixed", lambda: (lambda o: dict(obj(o), digest=digest(o.value)))(c.get(fixed)))
    step("decrypt/wrong-iv", lambda: digest(c.decrypt(b"\x00" * 16, fixed, CBC, iv_counter_nonce=IV16)))

    hmac = step("register/hmac", lambda: uid(c.register(objects.SymmetricKey(
        A.HMAC_SHA256, 256, HMAC_KEY, [U.MAC_GENERATE, U.MAC_VERIFY], name=P + "-hmac")))) and next(
            k for k, v in UIDS.items() if v == "#%d" % len(UIDS))
    step("activate/hmac", lambda: c.activate(hmac))
    step("mac", lambda: (lambda r: [uid(r[0]), digest(r[1])])(c.mac(b"mac me", hmac, A.HMAC_SHA256)))

    pair = step("create_key_pair/rsa", lambda: [uid(x) for x in c.create_key_pair(
        A.RSA, 2048, public_name=P + "-pub", public_usage_mask=[U.VERIFY],
        private_name=P + "-priv", private_usage_mask=[U.SIGN])])
    if pair:
        inv = {v: k for k, v in UIDS.items()}
        pub, priv = inv[pair[0]], inv[pair[1]]
        step("activate/pub", lambda: c.activate(pub))
        step("activate/priv", lambda: c.activate(priv))
        params = {
            "padding_method": enums.PaddingMethod.PKCS1v15,
            "cryptographic_algorithm": A.RSA,
            "hashing_algorithm": enums.HashingAlgorithm.SHA_256,
        }
        sig = [None]

        def sign():
            sig[0] = c.sign(b"to be signed", priv, params)
            return len(sig[0])

        step("sign", sign)
        step("signature_verify/good", lambda: name_of(c.signature_verify(b"to be signed", sig[0], pub, params)))
        step("signature_verify/bad", lambda: name_of(c.signature_verify(b"tampered", sig[0], pub, params)))
        step("get/public", lambda: obj(c.get(pub)))
        step("get/private", lambda: obj(c.get(priv)))

    secret = step("register/secret", lambda: uid(c.register(objects.SecretData(
        b"a password", enums.SecretDataType.PASSWORD, name=P + "-secret")))) and next(
            k for k, v in UIDS.items() if v == "#%d" % len(UIDS))
    step("get/secret", lambda: (lambda o: dict(obj(o), digest=digest(o.value)))(c.get(secret)))
    opaque = step("register/opaque", lambda: uid(c.register(objects.OpaqueObject(
        b"\x00opaque\xff", enums.OpaqueDataType.NONE, name=P + "-opaque")))) and next(
            k for k, v in UIDS.items() if v == "#%d" % len(UIDS))
    step("get/opaque", lambda: (lambda o: dict(obj(o), digest=digest(o.value)))(c.get(opaque)))

    step("derive_key/pbkdf2", lambda: uid(c.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [secret], enums.DerivationMethod.PBKDF2,
        {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
         "salt": b"salt", "iteration_count": 1000},
        cryptographic_length=128, cryptographic_algorithm=A.AES)))
    derived = [k for k, v in UIDS.items() if v == "#%d" % len(UIDS)]
    if derived and derived[0] not in (aes, fixed, hmac, secret, opaque):
        step("get/derived", lambda: (lambda o: dict(obj(o), digest=digest(o.value)))(c.get(derived[0])))

    kdf = step("register/kdf-base", lambda: uid(c.register(objects.SymmetricKey(
        A.HMAC_SHA256, 256, bytes(range(50, 82)), [U.DERIVE_KEY], name=P + "-kdf")))) and next(
            k for k, v in UIDS.items() if v == "#%d" % len(UIDS))
    step("activate/kdf-base", lambda: c.activate(kdf))
    for method, params in (
        ("hmac", {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
                  "derivation_data": b"context info", "salt": b"salt"}),
        ("pbkdf2-active", {"cryptographic_parameters": {"hashing_algorithm": enums.HashingAlgorithm.SHA_256},
                           "salt": b"salt", "iteration_count": 1000}),
    ):
        got = step("derive_key/" + method, lambda: uid(c.derive_key(
            enums.ObjectType.SYMMETRIC_KEY, [kdf],
            enums.DerivationMethod.HMAC if method == "hmac" else enums.DerivationMethod.PBKDF2,
            params, cryptographic_length=128, cryptographic_algorithm=A.AES)))
        if got:
            new_uid = next(k for k, v in UIDS.items() if v == got)
            step("get/derived-" + method, lambda: (lambda o: dict(obj(o), digest=digest(o.value)))(c.get(new_uid)))

    step("locate/name", lambda: [uid(u) for u in c.locate(attributes=[
        AF.create_attribute(enums.AttributeType.NAME, P + "-fixed")])])
    step("locate/object-type+name", lambda: [uid(u) for u in c.locate(attributes=[
        AF.create_attribute(enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY),
        AF.create_attribute(enums.AttributeType.NAME, P + "-hmac")])])
    step("locate/none", lambda: c.locate(attributes=[
        AF.create_attribute(enums.AttributeType.NAME, P + "-nothing-has-this-name")]))

    step("rekey", lambda: uid(c.rekey(fixed)))
    step("revoke/compromise", lambda: c.revoke(enums.RevocationReasonCode.KEY_COMPROMISE, aes,
                                               "lost laptop", compromise_occurrence_date=1700000000))
    step("get_attributes/revoked-state", lambda: [attr_value(a) for a in c.get_attributes(aes, ["State"])[1]])
    step("destroy/compromised", lambda: c.destroy(aes))
    step("get/destroyed", lambda: obj(c.get(aes)))
    step("destroy/active", lambda: c.destroy(hmac))
    step("get/unknown", lambda: obj(c.get("no-such-object-" + P)))
    step("get_attribute_list/unknown", lambda: c.get_attribute_list("no-such-object-" + P))
