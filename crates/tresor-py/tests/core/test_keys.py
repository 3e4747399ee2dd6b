"""tresor.keys: versioned keys and transit encrypt/decrypt/rewrap/sign/verify."""

import pytest

from tresor import errors, keys, vault


@pytest.fixture
def k(tmp_path):
    return keys.Keys(vault.init(tmp_path / "v"))


def test_encrypt_rotate_decrypt_rewrap(k):
    assert k.create("orders") == 1
    ct = k.encrypt("orders", b"card 4242", b"order-17")
    assert ct.startswith("tresor:orders:v1:")
    assert k.decrypt(ct, b"order-17") == b"card 4242"
    assert k.rotate("orders") == 2
    assert k.decrypt(ct, b"order-17") == b"card 4242"
    new = k.rewrap(ct, b"order-17")
    assert new.startswith("tresor:orders:v2:")
    assert k.decrypt(new, b"order-17") == b"card 4242"
    assert k.encrypt("orders", b"x").startswith("tresor:orders:v2:")
    assert "orders" in k.list()
    raw = k.encrypt_bytes("orders", b"binary form", b"aad")
    assert isinstance(raw, bytes) and b"orders" in raw
    assert k.decrypt_bytes(raw, b"aad") == b"binary form"
    with pytest.raises(errors.DecryptionError):
        k.decrypt_bytes(raw, b"other aad")


def test_wrong_aad_and_tampering_are_refused(k):
    k.create("orders", "chacha20-poly1305")
    ct = k.encrypt("orders", b"secret", b"a")
    with pytest.raises(errors.DecryptionError):
        k.decrypt(ct, b"b")
    tampered = ct[:-4] + ("AAAA" if not ct.endswith("AAAA") else "BBBB")
    with pytest.raises(ValueError):
        k.decrypt(tampered, b"a")
    with pytest.raises(ValueError):
        k.decrypt("not a ciphertext")


def test_sign_verify(k):
    k.create("release", "ed25519")
    sig = k.sign("release", b"v1.0")
    assert k.verify(sig, b"v1.0") is True
    assert k.verify(sig, b"v1.1") is False


def test_errors(k):
    with pytest.raises(KeyError):
        k.encrypt("missing", b"x")
    k.create("dup")
    with pytest.raises(errors.AlreadyExistsError):
        k.create("dup")
    with pytest.raises(ValueError, match="rot13"):
        k.create("bad", "rot13")


def test_keys_persist_in_the_vault(tmp_path):
    v = vault.init(tmp_path / "v")
    k = keys.Keys(v)
    k.create("orders")
    ct = k.encrypt("orders", b"kept", b"")
    again = keys.Keys(vault.open(tmp_path / "v"))
    assert again.decrypt(ct) == b"kept"


def test_text_form_is_the_binary_payload_in_standard_base64(k):
    import base64

    k.create("fmt")
    for n in (0, 1, 2, 3, 1024, 1025, 4099):
        ct = k.encrypt("fmt", b"x" * n, b"aad")
        head, body = ct.rsplit(":", 1)
        assert head == "tresor:fmt:v1"
        raw = base64.b64decode(body, validate=True)
        assert len(raw) == 12 + n + 16  # nonce, ciphertext, tag
        assert k.decrypt(ct, b"aad") == b"x" * n
