#!/usr/bin/env python3
"""Differential sessions: the same PyKMIP 0.11 client script against any KMIP server.

Runs scripted sessions with `ProxyKmipClient` (and its lower-level `KMIPProxy`, `c.proxy`)
and prints one JSON line per step:

    {"version": "1.2", "step": "objects/create-aes-256", "ok": true, "reason": null,
     "value": {...}}

`value` is normalised so that two servers answering alike print the same line: unique
identifiers become `#1`, `#2`... in order of first appearance, dates become `"<date>"`,
random material is reduced to its length, deterministic material (from registered keys) to
its SHA-256. `crates/tresor-kmip/tests/differential.rs` runs this against `pykmip-server`
and `tresor kmip serve` and compares the lines.

    differential.py --host 127.0.0.1 --port PORT --certs DIR --version 1.2
"""
import argparse
import hashlib
import json
import os
import sys
import traceback
import warnings

warnings.simplefilter("ignore")

from cryptography.hazmat.primitives import serialization  # noqa: E402
from cryptography.hazmat.primitives.asymmetric import rsa  # noqa: E402
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap  # noqa: E402
from cryptography.x509 import load_pem_x509_certificate  # noqa: E402

from kmip.core import enums  # noqa: E402
from kmip.core import objects as cobjects  # noqa: E402
from kmip.core import primitives  # noqa: E402
from kmip.core.factories import attributes as attribute_factory  # noqa: E402
from kmip.core.messages import payloads  # noqa: E402
from kmip.pie import objects  # noqa: E402
from kmip.pie.client import ProxyKmipClient  # noqa: E402
from kmip.pie.exceptions import KmipOperationFailure  # noqa: E402

VERSIONS = {
    "1.0": enums.KMIPVersion.KMIP_1_0,
    "1.1": enums.KMIPVersion.KMIP_1_1,
    "1.2": enums.KMIPVersion.KMIP_1_2,
    "1.3": enums.KMIPVersion.KMIP_1_3,
    "1.4": enums.KMIPVersion.KMIP_1_4,
    "2.0": enums.KMIPVersion.KMIP_2_0,
}

U = enums.CryptographicUsageMask
A = enums.CryptographicAlgorithm
H = enums.HashingAlgorithm
M = enums.BlockCipherMode
P = enums.PaddingMethod
DM = enums.DerivationMethod
AF = attribute_factory.AttributeFactory()

VERSION = None
UIDS = {}
FIXED_KEY_16 = bytes(range(16))
FIXED_KEY_24 = bytes(range(24))
FIXED_KEY_32 = bytes(range(32))
IV8 = b"\x01" * 8
IV16 = b"\x02" * 16


STEP = [""]


def uid(u):
    """The stable name of a server's unique identifier: the step that first saw it (so that
    a step one server refuses does not renumber the objects of later steps)."""
    if u is None:
        return None
    u = str(u)
    if u not in UIDS:
        base = "#" + STEP[0]
        n = sum(1 for x in UIDS.values() if x == base or x.startswith(base + "."))
        UIDS[u] = base if n == 0 else "%s.%d" % (base, n)
    return UIDS[u]


def sha(b):
    return hashlib.sha256(bytes(b)).hexdigest()[:16]


def norm(v):
    """A JSON-able, server-independent form of a PyKMIP value."""
    if v is None or isinstance(v, (bool, int, float)):
        return v
    if isinstance(v, str):
        return v
    if isinstance(v, (bytes, bytearray)):
        return "bytes:%d" % len(v)
    if hasattr(v, "name") and hasattr(v, "value") and isinstance(v.name, str) and \
            type(v).__module__.endswith("enums"):
        return v.name
    if isinstance(v, (list, tuple)):
        return [norm(x) for x in v]
    return type(v).__name__


def attr_value(name, a):
    """Normalises one attribute value (from a Get Attributes response)."""
    val = a.attribute_value
    if name == "Name":
        return val.name_value.value
    if name in ("Unique Identifier",):
        return uid(val.value)
    if name.endswith("Date"):
        return "<date>"
    if name == "Digest":
        return "<digest>"
    if name == "Link":
        return "<link>"
    inner = getattr(val, "value", None)
    if isinstance(inner, (bool, int, str)) or inner is None:
        if hasattr(inner, "name"):
            return inner.name
        return inner
    return norm(inner)


def emit(step, ok, reason=None, value=None):
    line = {"version": VERSION, "step": step, "ok": bool(ok), "reason": reason,
            "value": value}
    print(json.dumps(line, sort_keys=True, default=str), flush=True)


def run(step, fn):
    """Runs one step; a KMIP failure is reported with its reason, a client-side exception
    (PyKMIP failing to read the answer) as `client-error`."""
    STEP[0] = step
    try:
        value = fn()
        emit(step, True, None, value)
        return value
    except KmipOperationFailure as e:
        emit(step, False, e.reason.name if e.reason is not None else None, None)
    except Exception as e:  # noqa: BLE001 - every outcome is a result to compare
        name = type(e).__name__
        if name == "OperationFailure" and hasattr(e, "reason"):
            emit(step, False, getattr(e.reason, "name", str(e.reason)), None)
        else:
            emit(step, False, "client-error", "%s: %s" % (name, str(e)[:120]))
            print(traceback.format_exc(), file=sys.stderr)
    return None


def cleanup(c, step):
    """The clean-up loop PyKMIP users write: destroy everything Locate returns (revoking
    what is active first). Reports how many objects were found and how many failed."""
    def go():
        found = c.locate()
        failed = 0
        for u in found:
            try:
                c.destroy(u)
            except KmipOperationFailure:
                try:
                    c.revoke(enums.RevocationReasonCode.CESSATION_OF_OPERATION, u)
                    c.destroy(u)
                except KmipOperationFailure:
                    failed += 1
        return {"failed": failed, "left": len(c.locate())}
    return run(step, go)


def strict_cleanup(c, step):
    """`for uid in client.locate(): client.destroy(uid)` exactly as users write it."""
    def go():
        n = 0
        for u in c.locate():
            c.destroy(u)
            n += 1
        return n
    return run(step, go)


def get_summary(c, u, material=None, kek=None):
    o = c.get(u)
    out = {"type": type(o).__name__}
    for f in ("cryptographic_algorithm", "cryptographic_length", "key_format_type",
              "data_type", "opaque_type", "certificate_type"):
        if hasattr(o, f):
            out[f] = norm(getattr(o, f))
    value = getattr(o, "value", None)
    if value is not None:
        if material is not None:
            out["material"] = "same" if bytes(value) == bytes(material) else "other:%d" % len(value)
        else:
            out["material"] = "bytes:%d" % len(value)
    return out


CERTS = [None]


def fixed_rsa(certs):
    """One RSA key for every run against the same certificate directory (so that both
    servers sign with the same key and deterministic signatures compare)."""
    path = os.path.join(certs, "differential-rsa.der")
    if os.path.exists(path):
        with open(path, "rb") as f:
            return serialization.load_der_private_key(f.read(), password=None)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    with open(path + ".tmp", "wb") as f:
        f.write(key.private_bytes(serialization.Encoding.DER,
                                  serialization.PrivateFormat.PKCS8,
                                  serialization.NoEncryption()))
    os.chmod(path + ".tmp", 0o600)
    os.replace(path + ".tmp", path)
    return key


def name_of(n):
    return AF.create_attribute(enums.AttributeType.NAME, n)


def session_versions(c, v):
    def dv():
        r = c.proxy.discover_versions(protocol_versions=None)
        if r.result_status.value != enums.ResultStatus.SUCCESS:
            raise KmipOperationFailure(r.result_status.value, r.result_reason.value,
                                       r.result_message.value)
        return sorted("%d.%d" % (x.major, x.minor) for x in r.protocol_versions
                      if (x.major, x.minor) <= (2, 0))
    run("query/discover_versions", dv)

    def q():
        r = c.proxy.query(query_functions=[
            enums.QueryFunction.QUERY_OPERATIONS, enums.QueryFunction.QUERY_OBJECTS])
        if r.result_status.value != enums.ResultStatus.SUCCESS:
            raise KmipOperationFailure(r.result_status.value, r.result_reason.value,
                                       r.result_message.value)
        def nm(o):
            o = getattr(o, "value", o) if not hasattr(o, "name") else o
            return getattr(o, "name", str(o))
        ops = sorted(nm(o) for o in r.operations)
        objs = sorted(nm(o) for o in r.object_types)
        return {"operations": ops, "objects": objs}
    run("query/query", q)


SYMMETRIC = [
    ("aes-128", A.AES, 128), ("aes-256", A.AES, 256), ("3des-192", A.TRIPLE_DES, 192),
    ("3des-128", A.TRIPLE_DES, 128), ("blowfish-128", A.BLOWFISH, 128),
    ("camellia-256", A.CAMELLIA, 256), ("cast5-128", A.CAST5, 128), ("idea-128", A.IDEA, 128),
    ("rc4-128", A.RC4, 128), ("hmac-sha1-160", A.HMAC_SHA1, 160),
    ("hmac-sha256-256", A.HMAC_SHA256, 256), ("hmac-sha512-512", A.HMAC_SHA512, 512),
    ("hmac-md5-128", A.HMAC_MD5, 128), ("aes-100", A.AES, 100),
]


def session_objects(c, v, certs):
    cleanup(c, "objects/cleanup-before")
    for label, alg, bits in SYMMETRIC:
        u = run("objects/create-%s" % label, lambda: uid(c.create(alg, bits)))
        if u:
            real = [k for k, x in UIDS.items() if x == u][0]
            run("objects/get-%s" % label, lambda: get_summary(c, real))
    pair = run("objects/create_key_pair-rsa-2048",
               lambda: [uid(x) for x in c.create_key_pair(A.RSA, 2048)])
    masked = run("objects/create_key_pair-rsa-2048-masks",
                 lambda: [uid(x) for x in c.create_key_pair(
                     A.RSA, 2048, public_usage_mask=[U.VERIFY],
                     private_usage_mask=[U.SIGN])])
    if masked:
        pub2, priv2 = [[k for k, x in UIDS.items() if x == p][0] for p in masked]
        run("objects/get-rsa-private-masks", lambda: get_summary(c, priv2))
        run("objects/get-rsa-public-masks", lambda: get_summary(c, pub2))
    if pair:
        # ProxyKmipClient.create_key_pair returns (public, private).
        pub, priv = [[k for k, x in UIDS.items() if x == p][0] for p in pair]
        run("objects/get-rsa-private", lambda: get_summary(c, priv))
        run("objects/get-rsa-public", lambda: get_summary(c, pub))
    regs = [
        ("symmetric-aes", objects.SymmetricKey(A.AES, 128, FIXED_KEY_16), FIXED_KEY_16),
        ("symmetric-3des", objects.SymmetricKey(A.TRIPLE_DES, 192, FIXED_KEY_24), FIXED_KEY_24),
        ("secret-password", objects.SecretData(b"s3cret", enums.SecretDataType.PASSWORD), b"s3cret"),
        ("secret-seed", objects.SecretData(b"seed" * 4, enums.SecretDataType.SEED), b"seed" * 4),
        ("opaque", objects.OpaqueObject(b"opaque!", enums.OpaqueDataType.NONE), b"opaque!"),
    ]
    with open(os.path.join(certs, "ca.crt"), "rb") as f:
        der = load_pem_x509_certificate(f.read()).public_bytes(serialization.Encoding.DER)
    regs.append(("certificate", objects.X509Certificate(der), der))
    key = fixed_rsa(certs)
    priv_der = key.private_bytes(serialization.Encoding.DER,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())
    pub_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.PKCS1)
    regs.append(("rsa-private", objects.PrivateKey(A.RSA, 2048, priv_der,
                                                   enums.KeyFormatType.PKCS_1), priv_der))
    regs.append(("rsa-public", objects.PublicKey(A.RSA, 2048, pub_der,
                                                 enums.KeyFormatType.PKCS_1), pub_der))
    regs.append(("split-key", objects.SplitKey(
        cryptographic_algorithm=A.AES, cryptographic_length=128, key_value=FIXED_KEY_16,
        split_key_parts=3, key_part_identifier=1, split_key_threshold=2,
        split_key_method=enums.SplitKeyMethod.XOR), FIXED_KEY_16))
    for label, obj, material in regs:
        u = run("objects/register-%s" % label, lambda: uid(c.register(obj)))
        if u:
            real = [k for k, x in UIDS.items() if x == u][0]
            run("objects/get-registered-%s" % label, lambda: get_summary(c, real, material))


ALL_NAMES = ["Unique Identifier", "Object Type", "Cryptographic Algorithm",
             "Cryptographic Length", "Cryptographic Usage Mask", "State", "Name",
             "Initial Date", "Operation Policy Name"]


def session_attributes(c, v):
    cleanup(c, "attributes/cleanup-before")
    u = run("attributes/create", lambda: uid(c.create(
        A.AES, 256, name="attr-key", cryptographic_usage_mask=[U.ENCRYPT, U.DECRYPT])))
    if not u:
        return
    real = [k for k, x in UIDS.items() if x == u][0]

    def named():
        got_uid, attrs = c.get_attributes(real, [
            "Cryptographic Algorithm", "Cryptographic Length", "State", "Name",
            "Object Type", "Cryptographic Usage Mask"])
        return {a.attribute_name.value: attr_value(a.attribute_name.value, a) for a in attrs}
    run("attributes/get_attributes-named", named)

    def all_attrs():
        got_uid, attrs = c.get_attributes(real)
        names = sorted(set(a.attribute_name.value for a in attrs))
        core = {a.attribute_name.value: attr_value(a.attribute_name.value, a)
                for a in attrs if a.attribute_name.value in ALL_NAMES}
        return {"readable": True, "core": core, "count_at_least_core":
                all(n in names for n in ["Unique Identifier", "Object Type", "State"])}
    run("attributes/get_attributes-all", all_attrs)

    def all_names():
        got_uid, attrs = c.get_attributes(real)
        return sorted(set(a.attribute_name.value for a in attrs))
    run("attributes/get_attributes-all-names", all_names)
    run("attributes/get_attribute_list",
        lambda: sorted(x for x in c.get_attribute_list(real)))
    run("attributes/get_attributes-missing-object",
        lambda: c.get_attributes("does-not-exist", ["State"]))

    # Attribute changes: ProxyKmipClient's 2.0 forms (PyKMIP's server implements them in 2.0
    # only), and the 1.x forms through KMIPProxy.send_request_payload.
    if v >= (2, 0):
        from kmip.core import attributes as cattributes

        def nm(value):
            return cattributes.Name.create(value, enums.NameType.UNINTERPRETED_TEXT_STRING)
        run("attributes/set_attribute-2.0", lambda: uid(c.set_attribute(
            unique_identifier=real, attribute_name="Sensitive", attribute_value=True)))
        run("attributes/get-set-2.0", lambda: attr_value(
            "Sensitive", c.get_attributes(real, ["Sensitive"])[1][0]))
        run("attributes/modify_attribute-2.0", lambda: uid(c.modify_attribute(
            unique_identifier=real,
            current_attribute=cobjects.CurrentAttribute(attribute=nm("attr-key")),
            new_attribute=cobjects.NewAttribute(attribute=nm("attr-key-2")))[0]))
        run("attributes/get-modified-2.0", lambda: sorted(
            attr_value("Name", a) for a in c.get_attributes(real, ["Name"])[1]))
        run("attributes/delete_attribute-current-2.0", lambda: uid(c.delete_attribute(
            unique_identifier=real,
            current_attribute=cobjects.CurrentAttribute(attribute=nm("attr-key-2")))[0]))
        run("attributes/delete_attribute-reference-2.0", lambda: uid(c.delete_attribute(
            unique_identifier=real,
            attribute_reference=cobjects.AttributeReference(
                vendor_identification="", attribute_name="Name"))[0]))
        run("attributes/set_attribute-read-only-2.0", lambda: uid(c.set_attribute(
            unique_identifier=real, attribute_name="Unique Identifier",
            attribute_value="other")))
    else:
        def modify_v1():
            a = AF.create_attribute(enums.AttributeType.NAME, "attr-key-renamed")
            r = c.proxy.send_request_payload(
                enums.Operation.MODIFY_ATTRIBUTE,
                payloads.ModifyAttributeRequestPayload(unique_identifier=real, attribute=a))
            return {"uid": uid(r.unique_identifier),
                    "index": None if r.attribute is None or r.attribute.attribute_index is None
                    else r.attribute.attribute_index.value}
        run("attributes/modify_attribute-1.x", modify_v1)

        def delete_v1():
            r = c.proxy.send_request_payload(
                enums.Operation.DELETE_ATTRIBUTE,
                payloads.DeleteAttributeRequestPayload(
                    unique_identifier=real, attribute_name="Name", attribute_index=0))
            return uid(r.unique_identifier)
        run("attributes/delete_attribute-1.x", delete_v1)


def session_locate(c, v):
    cleanup(c, "locate/cleanup-before")
    a = run("locate/create-a", lambda: uid(c.create(A.AES, 128, name="loc-a")))
    run("locate/create-b", lambda: uid(c.create(A.AES, 256, name="loc-b")))
    run("locate/create-c", lambda: uid(c.create(A.TRIPLE_DES, 192, name="loc-c")))
    run("locate/register-secret", lambda: uid(c.register(
        objects.SecretData(b"pw", enums.SecretDataType.PASSWORD, name="loc-s"))))
    real_a = [k for k, x in UIDS.items() if x == a][0] if a else None
    run("locate/all", lambda: len(c.locate()))
    run("locate/by-name", lambda: [uid(x) for x in c.locate(attributes=[name_of("loc-a")])])
    run("locate/by-missing-name", lambda: c.locate(attributes=[name_of("nope")]))
    run("locate/by-object-type", lambda: len(c.locate(attributes=[AF.create_attribute(
        enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SYMMETRIC_KEY)])))
    run("locate/by-secret-type", lambda: len(c.locate(attributes=[AF.create_attribute(
        enums.AttributeType.OBJECT_TYPE, enums.ObjectType.SECRET_DATA)])))
    run("locate/by-algorithm", lambda: len(c.locate(attributes=[AF.create_attribute(
        enums.AttributeType.CRYPTOGRAPHIC_ALGORITHM, A.AES)])))
    run("locate/by-length", lambda: len(c.locate(attributes=[AF.create_attribute(
        enums.AttributeType.CRYPTOGRAPHIC_LENGTH, 192)])))
    run("locate/by-state", lambda: len(c.locate(attributes=[AF.create_attribute(
        enums.AttributeType.STATE, enums.State.PRE_ACTIVE)])))
    run("locate/maximum-items", lambda: len(c.locate(maximum_items=2)))
    if v >= (1, 3):
        run("locate/offset-items", lambda: len(c.locate(offset_items=3)))
    run("locate/storage-online", lambda: len(c.locate(storage_status_mask=1)))
    if real_a:
        run("locate/destroy-a", lambda: uid(c.destroy(real_a)))
        run("locate/after-destroy-by-name",
            lambda: c.locate(attributes=[name_of("loc-a")]))
        run("locate/after-destroy-all", lambda: len(c.locate()))
        run("locate/recreate-same-name", lambda: uid(c.create(A.AES, 128, name="loc-a")))
        run("locate/after-recreate-by-name",
            lambda: len(c.locate(attributes=[name_of("loc-a")])))
    strict_cleanup(c, "locate/cleanup-loop")
    run("locate/after-cleanup", lambda: len(c.locate()))


def session_lifecycle(c, v):
    cleanup(c, "lifecycle/cleanup-before")
    u = run("lifecycle/create", lambda: uid(c.create(A.AES, 256)))
    if not u:
        return
    real = [k for k, x in UIDS.items() if x == u][0]

    def state():
        _, attrs = c.get_attributes(real, ["State"])
        return attrs[0].attribute_value.value.name
    run("lifecycle/state-new", state)
    run("lifecycle/activate", lambda: c.activate(real))
    run("lifecycle/state-active", state)
    run("lifecycle/activate-again", lambda: c.activate(real))
    run("lifecycle/destroy-active", lambda: c.destroy(real))
    run("lifecycle/revoke-cessation", lambda: c.revoke(
        enums.RevocationReasonCode.CESSATION_OF_OPERATION, real))
    run("lifecycle/state-revoked", state)
    run("lifecycle/destroy-deactivated", lambda: uid(c.destroy(real)))
    run("lifecycle/destroy-destroyed", lambda: c.destroy(real))
    run("lifecycle/get-destroyed", lambda: get_summary(c, real))
    run("lifecycle/activate-destroyed", lambda: c.activate(real))

    p = run("lifecycle/create-pre-active", lambda: uid(c.create(A.AES, 128)))
    if p:
        rp = [k for k, x in UIDS.items() if x == p][0]
        run("lifecycle/destroy-pre-active", lambda: uid(c.destroy(rp)))
    k = run("lifecycle/create-to-compromise", lambda: uid(c.create(A.AES, 128)))
    if k:
        rk = [x for x, y in UIDS.items() if y == k][0]
        run("lifecycle/activate-to-compromise", lambda: c.activate(rk))
        run("lifecycle/revoke-compromise", lambda: c.revoke(
            enums.RevocationReasonCode.KEY_COMPROMISE, rk,
            compromise_occurrence_date=1700000000))

        def st():
            _, attrs = c.get_attributes(rk, ["State"])
            return attrs[0].attribute_value.value.name
        run("lifecycle/state-compromised", st)
        run("lifecycle/destroy-compromised", lambda: uid(c.destroy(rk)))
    run("lifecycle/destroy-missing", lambda: c.destroy("no-such-object"))
    run("lifecycle/rekey", lambda: uid(c.rekey(uid=[x for x, y in UIDS.items() if y == p][0]
                                               if p else "x")))


def registered(c, alg, bits, material, masks, name=None):
    o = objects.SymmetricKey(alg, bits, material, masks=masks, name=name or "Symmetric Key")
    return c.register(o)


def session_crypto(c, v):
    cleanup(c, "crypto/cleanup-before")
    enc = [U.ENCRYPT, U.DECRYPT]
    keys = {
        "aes": (A.AES, 256, FIXED_KEY_32),
        "3des": (A.TRIPLE_DES, 192, FIXED_KEY_24),
        "blowfish": (A.BLOWFISH, 128, FIXED_KEY_16),
        "camellia": (A.CAMELLIA, 128, FIXED_KEY_16),
        "cast5": (A.CAST5, 128, FIXED_KEY_16),
        "idea": (A.IDEA, 128, FIXED_KEY_16),
        "rc4": (A.RC4, 128, FIXED_KEY_16),
    }
    ids = {}
    for k, (alg, bits, mat) in keys.items():
        u = run("crypto/register-%s" % k, lambda: uid(registered(c, alg, bits, mat, enc)))
        if u:
            ids[k] = [x for x, y in UIDS.items() if y == u][0]
            run("crypto/activate-%s" % k, lambda: c.activate(ids[k]))
    plain = b"sixteen byte msg and a bit more"
    sets = [
        ("aes-cbc-pkcs5", "aes", {"cryptographic_algorithm": A.AES, "block_cipher_mode": M.CBC,
                                  "padding_method": P.PKCS5}, IV16),
        ("aes-ecb-pkcs5", "aes", {"cryptographic_algorithm": A.AES, "block_cipher_mode": M.ECB,
                                  "padding_method": P.PKCS5}, None),
        ("aes-ctr", "aes", {"cryptographic_algorithm": A.AES, "block_cipher_mode": M.CTR},
         IV16),
        ("aes-cfb", "aes", {"cryptographic_algorithm": A.AES, "block_cipher_mode": M.CFB},
         IV16),
        ("aes-ofb", "aes", {"cryptographic_algorithm": A.AES, "block_cipher_mode": M.OFB},
         IV16),
        ("aes-cbc-x923", "aes", {"cryptographic_algorithm": A.AES, "block_cipher_mode": M.CBC,
                                 "padding_method": P.ANSI_X923}, IV16),
        ("3des-cbc-pkcs5", "3des", {"cryptographic_algorithm": A.TRIPLE_DES,
                                    "block_cipher_mode": M.CBC, "padding_method": P.PKCS5},
         IV8),
        ("3des-ecb-pkcs5", "3des", {"cryptographic_algorithm": A.TRIPLE_DES,
                                    "block_cipher_mode": M.ECB, "padding_method": P.PKCS5},
         None),
        ("blowfish-cbc-pkcs5", "blowfish", {"cryptographic_algorithm": A.BLOWFISH,
                                            "block_cipher_mode": M.CBC,
                                            "padding_method": P.PKCS5}, IV8),
        ("camellia-cbc-pkcs5", "camellia", {"cryptographic_algorithm": A.CAMELLIA,
                                            "block_cipher_mode": M.CBC,
                                            "padding_method": P.PKCS5}, IV16),
        ("cast5-cbc-pkcs5", "cast5", {"cryptographic_algorithm": A.CAST5,
                                      "block_cipher_mode": M.CBC, "padding_method": P.PKCS5},
         IV8),
        ("idea-cbc-pkcs5", "idea", {"cryptographic_algorithm": A.IDEA,
                                    "block_cipher_mode": M.CBC, "padding_method": P.PKCS5},
         IV8),
        ("rc4", "rc4", {"cryptographic_algorithm": A.RC4}, None),
    ]
    for label, k, params, iv in sets:
        if k not in ids:
            continue

        def e():
            ct, out_iv = c.encrypt(plain, uid=ids[k], cryptographic_parameters=params,
                                   iv_counter_nonce=iv)
            return {"ct": sha(ct), "iv": None if out_iv is None else len(out_iv)}
        got = run("crypto/encrypt-%s" % label, e)

        def d():
            ct, _ = c.encrypt(plain, uid=ids[k], cryptographic_parameters=params,
                              iv_counter_nonce=iv)
            pt = c.decrypt(ct, uid=ids[k], cryptographic_parameters=params,
                           iv_counter_nonce=iv)
            return pt == plain
        if got:
            run("crypto/decrypt-%s" % label, d)

    # Sign / verify with a registered RSA key pair (PKCS#1 v1.5 is deterministic).
    key = fixed_rsa(CERTS[0])
    priv_der = key.private_bytes(serialization.Encoding.DER,
                                 serialization.PrivateFormat.TraditionalOpenSSL,
                                 serialization.NoEncryption())
    pub_der = key.public_key().public_bytes(serialization.Encoding.DER,
                                            serialization.PublicFormat.PKCS1)
    pu = run("crypto/register-rsa-private", lambda: uid(c.register(objects.PrivateKey(
        A.RSA, 2048, priv_der, enums.KeyFormatType.PKCS_1, masks=[U.SIGN]))))
    qu = run("crypto/register-rsa-public", lambda: uid(c.register(objects.PublicKey(
        A.RSA, 2048, pub_der, enums.KeyFormatType.PKCS_1, masks=[U.VERIFY]))))
    if pu and qu:
        rp = [x for x, y in UIDS.items() if y == pu][0]
        rq = [x for x, y in UIDS.items() if y == qu][0]
        run("crypto/activate-rsa-private", lambda: c.activate(rp))
        run("crypto/activate-rsa-public", lambda: c.activate(rq))
        for label, params in [
            ("pkcs1v15-sha256", {"cryptographic_algorithm": A.RSA, "padding_method": P.PKCS1v15,
                                 "hashing_algorithm": H.SHA_256}),
            ("pss-sha256", {"cryptographic_algorithm": A.RSA, "padding_method": P.PSS,
                            "hashing_algorithm": H.SHA_256}),
            ("pkcs1v15-sha1", {"cryptographic_algorithm": A.RSA, "padding_method": P.PKCS1v15,
                               "hashing_algorithm": H.SHA_1}),
            ("dsa-sha256", {"digital_signature_algorithm":
                            enums.DigitalSignatureAlgorithm.SHA256_WITH_RSA_ENCRYPTION}),
        ]:
            def s():
                sig = c.sign(b"message", uid=rp, cryptographic_parameters=params)
                det = "deterministic" if label.startswith("pkcs1") or label.startswith("dsa") \
                    else "random"
                ok = c.signature_verify(b"message", sig, uid=rq,
                                        cryptographic_parameters=params)
                return {"sig": sha(sig) if det == "deterministic" else len(sig),
                        "verify": ok.name}
            run("crypto/sign-verify-%s" % label, s)
    # MAC with registered HMAC keys (deterministic).
    for label, alg in [("sha1", A.HMAC_SHA1), ("sha256", A.HMAC_SHA256),
                       ("sha512", A.HMAC_SHA512), ("md5", A.HMAC_MD5)]:
        mu = run("crypto/register-hmac-%s" % label,
                 lambda: uid(registered(c, alg, 256, FIXED_KEY_32,
                                        [U.MAC_GENERATE, U.MAC_VERIFY])))
        if mu:
            rm = [x for x, y in UIDS.items() if y == mu][0]
            run("crypto/activate-hmac-%s" % label, lambda: c.activate(rm))
            run("crypto/mac-%s" % label,
                lambda: sha(c.mac(b"data to mac", uid=rm, algorithm=alg)[1]))


def session_derive(c, v):
    cleanup(c, "derive/cleanup-before")
    base = run("derive/register-base", lambda: uid(registered(
        c, A.AES, 256, FIXED_KEY_32, [U.DERIVE_KEY, U.ENCRYPT])))
    if not base:
        return
    rb = [x for x, y in UIDS.items() if y == base][0]
    run("derive/pre-active-pbkdf2", lambda: uid(c.derive_key(
        enums.ObjectType.SYMMETRIC_KEY, [rb], DM.PBKDF2,
        {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256}, "salt": b"salt",
         "iteration_count": 10}, cryptographic_length=128, cryptographic_algorithm=A.AES)))
    run("derive/activate-base", lambda: c.activate(rb))
    cases = [
        ("pbkdf2-sha256", enums.ObjectType.SYMMETRIC_KEY, DM.PBKDF2,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256}, "salt": b"salt",
          "iteration_count": 1000}, 256),
        ("pbkdf2-sha1", enums.ObjectType.SYMMETRIC_KEY, DM.PBKDF2,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_1}, "salt": b"salt",
          "iteration_count": 10}, 128),
        ("hmac-sha256", enums.ObjectType.SYMMETRIC_KEY, DM.HMAC,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256}, "salt": b"salt",
          "derivation_data": b"info"}, 256),
        ("hmac-sha512", enums.ObjectType.SECRET_DATA, DM.HMAC,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_512},
          "derivation_data": b"info"}, 512),
        ("hash-sha256", enums.ObjectType.SYMMETRIC_KEY, DM.HASH,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256},
          "derivation_data": b"data"}, 256),
        ("nist800-108-c-sha256", enums.ObjectType.SYMMETRIC_KEY, DM.NIST800_108_C,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256},
          "derivation_data": b"label\x00context"}, 384),
        ("nist800-108-c-sha1", enums.ObjectType.SECRET_DATA, DM.NIST800_108_C,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_1},
          "derivation_data": b"fixed"}, 256),
        ("encrypt-aes-cbc", enums.ObjectType.SYMMETRIC_KEY, DM.ENCRYPT,
         {"cryptographic_parameters": {"cryptographic_algorithm": A.AES,
                                       "block_cipher_mode": M.CBC,
                                       "padding_method": P.PKCS5},
          "initialization_vector": IV16, "derivation_data": b"0123456789abcdef"}, 128),
        ("pbkdf2-no-salt", enums.ObjectType.SYMMETRIC_KEY, DM.PBKDF2,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256},
          "iteration_count": 10}, 128),
        ("hash-too-long", enums.ObjectType.SYMMETRIC_KEY, DM.HASH,
         {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256},
          "derivation_data": b"data"}, 512),
    ]
    for label, ot, method, params, bits in cases:
        kw = {"cryptographic_length": bits}
        if ot == enums.ObjectType.SYMMETRIC_KEY:
            kw["cryptographic_algorithm"] = A.AES if bits in (128, 192, 256) else A.HMAC_SHA256
        d = run("derive/%s" % label,
                lambda: uid(c.derive_key(ot, [rb], method, params, **kw)))
        if d:
            rd = [x for x, y in UIDS.items() if y == d][0]

            def material():
                o = c.get(rd)
                return {"type": type(o).__name__, "len": len(o.value), "sha": sha(o.value)}
            run("derive/get-%s" % label, material)
    nod = run("derive/register-no-derive-mask", lambda: uid(registered(
        c, A.AES, 256, FIXED_KEY_32, [U.ENCRYPT])))
    if nod:
        rn = [x for x, y in UIDS.items() if y == nod][0]
        run("derive/activate-no-derive-mask", lambda: c.activate(rn))
        run("derive/without-derive-mask", lambda: uid(c.derive_key(
            enums.ObjectType.SYMMETRIC_KEY, [rn], DM.HASH,
            {"cryptographic_parameters": {"hashing_algorithm": H.SHA_256},
             "derivation_data": b"x"}, cryptographic_length=256,
            cryptographic_algorithm=A.AES)))


def session_wrap(c, v):
    cleanup(c, "wrap/cleanup-before")
    kek = run("wrap/register-kek", lambda: uid(registered(
        c, A.AES, 256, FIXED_KEY_32, [U.WRAP_KEY, U.UNWRAP_KEY, U.ENCRYPT, U.DECRYPT])))
    key = run("wrap/register-key", lambda: uid(registered(
        c, A.AES, 128, FIXED_KEY_16, [U.ENCRYPT, U.DECRYPT])))
    if not (kek and key):
        return
    rk = [x for x, y in UIDS.items() if y == kek][0]
    ry = [x for x, y in UIDS.items() if y == key][0]
    run("wrap/activate-kek", lambda: c.activate(rk))
    spec = {
        "wrapping_method": enums.WrappingMethod.ENCRYPT,
        "encryption_key_information": {
            "unique_identifier": rk,
            "cryptographic_parameters": {"block_cipher_mode": M.NIST_KEY_WRAP},
        },
        "encoding_option": enums.EncodingOption.NO_ENCODING,
    }

    def wrapped_get():
        o = c.get(ry, key_wrapping_specification=spec)
        kwd = o.key_wrapping_data or {}
        wrapped = bytes(o.value)
        try:
            unwrapped = aes_key_unwrap(FIXED_KEY_32, wrapped)
            same = unwrapped == FIXED_KEY_16
        except Exception:  # noqa: BLE001
            same = False
        return {"type": type(o).__name__, "len": len(wrapped), "unwraps": same,
                "wrapping_method": norm(kwd.get("wrapping_method")),
                "kek": uid(((kwd.get("encryption_key_information") or {})
                            .get("unique_identifier")))}
    run("wrap/get-wrapped", wrapped_get)

    def wrapped_register():
        from cryptography.hazmat.primitives.keywrap import aes_key_wrap
        blob = aes_key_wrap(FIXED_KEY_32, FIXED_KEY_24)
        o = objects.SymmetricKey(A.AES, 192, blob, masks=[U.ENCRYPT], key_wrapping_data={
            "wrapping_method": enums.WrappingMethod.ENCRYPT,
            "encryption_key_information": {
                "unique_identifier": rk,
                "cryptographic_parameters": {"block_cipher_mode": M.NIST_KEY_WRAP}},
            "encoding_option": enums.EncodingOption.NO_ENCODING})
        return uid(c.register(o))
    w = run("wrap/register-wrapped", wrapped_register)
    if w:
        rw = [x for x, y in UIDS.items() if y == w][0]

        def got():
            o = c.get(rw)
            v = bytes(o.value)
            return {"plain": v == FIXED_KEY_24, "len": len(v)}
        run("wrap/get-registered-wrapped", got)


SESSIONS = [
    ("query", session_versions),
    ("objects", session_objects),
    ("attributes", session_attributes),
    ("locate", session_locate),
    ("lifecycle", session_lifecycle),
    ("crypto", session_crypto),
    ("derive", session_derive),
    ("wrap", session_wrap),
]


def main():
    global VERSION
    p = argparse.ArgumentParser()
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--certs", required=True)
    p.add_argument("--version", required=True, choices=sorted(VERSIONS))
    p.add_argument("--only", default=None, help="run one session")
    p.add_argument("--prepare", action="store_true",
                   help="only write the shared RSA key into --certs, then exit")
    args = p.parse_args()
    if args.prepare:
        fixed_rsa(args.certs)
        return
    VERSION = args.version
    CERTS[0] = args.certs
    v = tuple(int(x) for x in args.version.split("."))
    d = args.certs
    empty_conf = os.path.join(d, "empty-pykmip.conf")
    if not os.path.exists(empty_conf):
        with open(empty_conf, "w") as f:
            f.write("")
    c = ProxyKmipClient(
        hostname=args.host, port=args.port,
        cert=os.path.join(d, "client.crt"), key=os.path.join(d, "client.key"),
        ca=os.path.join(d, "ca.crt"), config_file=empty_conf,
        kmip_version=VERSIONS[args.version])
    c.open()
    for name, fn in SESSIONS:
        if args.only and args.only != name:
            continue
        try:
            if name == "objects":
                fn(c, v, d)
            else:
                fn(c, v)
        except Exception as e:  # noqa: BLE001
            emit("%s/aborted" % name, False, "client-error", "%s: %s" % (type(e).__name__, e))
            print(traceback.format_exc(), file=sys.stderr)
            try:
                c.close()
            except Exception:  # noqa: BLE001
                pass
            c.open()
    c.close()


if __name__ == "__main__":
    main()
