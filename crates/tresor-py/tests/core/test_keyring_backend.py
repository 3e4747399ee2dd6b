"""tresor's keyring backend: keyring's own BackendBasicTests for each storage, and the
entry point chosen by keyring itself on a box without D-Bus."""

import os
import subprocess
import sys
import tempfile

import pytest

keyring = pytest.importorskip("keyring")
from keyring.testing.backend import BackendBasicTests  # noqa: E402

from tresor import vault  # noqa: E402
from tresor.keyring_backend import TresorKeyring  # noqa: E402


class TestVaultStorage(BackendBasicTests):
    def init_keyring(self):
        kr = TresorKeyring(storage="vault")
        kr._vault = vault.init(os.path.join(tempfile.mkdtemp(prefix="tresor-kr-"), "v"))
        return kr

    def test_stored_names_are_injective(self):
        kr = self.keyring
        pairs = [("a:b", "c"), ("a", "b:c"), ("a b", "c"), ("a%3Ab", "c"), ("", "x"), ("x", "")]
        for i, (s, u) in enumerate(pairs):
            kr.set_password(s, u, f"p{i}")
        for i, (s, u) in enumerate(pairs):
            assert kr.get_password(s, u) == f"p{i}"
        assert len(kr._vault.list()) == len(pairs)

    def test_hebrew_cyrillic_whitespace(self):
        kr = self.keyring
        kr.set_password("שירות \t сервис", " пользователь משתמש\n", "סיסמה пароль")
        assert kr.get_password("שירות \t сервис", " пользователь משתמש\n") == "סיסמה пароль"
        assert kr.get_password("שירות \t сервис", "пользователь משתמש") is None


def _moto_bucket(tag):
    """A fresh bucket on moto (TRESOR_TEST_S3_ENDPOINT), with the AWS_* variables tresor's
    S3 store reads set in this process. Skips without moto, except under CI=true."""
    import urllib.request
    import uuid

    endpoint = os.environ.get("TRESOR_TEST_S3_ENDPOINT")
    if not endpoint:
        if os.environ.get("CI") == "true":
            pytest.fail("TRESOR_TEST_S3_ENDPOINT is not set under CI (tests/peers/moto/start.sh)")
        pytest.skip("TRESOR_TEST_S3_ENDPOINT not set: run tests/peers/moto/start.sh")
    os.environ.update(
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_ALLOW_HTTP="true",
    )
    bucket = f"tresor-py-{tag}-{uuid.uuid4().hex[:12]}"
    req = urllib.request.Request(f"{endpoint}/{bucket}", method="PUT")
    with urllib.request.urlopen(req, timeout=30) as r:
        assert r.status == 200
    return bucket


class TestS3Storage(BackendBasicTests):
    """The vault storage on a vault whose objects live in S3 (moto)."""

    def init_keyring(self):
        bucket = self.bucket = _moto_bucket("kr")
        kr = TresorKeyring(storage="vault")
        path = os.path.join(tempfile.mkdtemp(prefix="tresor-kr-s3-"), "v")
        kr._vault = vault.init(path, store=f"s3://{bucket}/keyring")
        return kr

    def test_objects_are_in_the_bucket(self):
        import urllib.request

        self.set_password("svc", "me", "on s3")
        again = TresorKeyring(storage="vault")
        again._vault = vault.open(self.keyring._vault.path)
        assert again.get_password("svc", "me") == "on s3"
        url = f"{os.environ['TRESOR_TEST_S3_ENDPOINT']}/{self.bucket}?list-type=2&prefix=keyring/"
        with urllib.request.urlopen(url, timeout=30) as r:
            listing = r.read().decode()
        assert "<Key>keyring/" in listing
        assert "on s3" not in listing


class TestKernelStorage(BackendBasicTests):
    def init_keyring(self):
        return TresorKeyring(storage="kernel")

    def test_empty_password_round_trips(self):
        self.set_password("tresor-kr-empty", "user", "")
        assert self.keyring.get_password("tresor-kr-empty", "user") == ""


def test_delete_missing_raises_password_delete_error():
    from keyring.errors import PasswordDeleteError

    with pytest.raises(PasswordDeleteError):
        TresorKeyring(storage="kernel").delete_password("tresor-kr-none", "nobody")


def test_entry_point_is_chosen_without_dbus(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DBUS", "KEYRING_", "PYTHON_KEYRING"))}
    env.update(TRESOR_KEYRING_STORAGE="kernel", XDG_CONFIG_HOME=str(tmp_path))
    code = (
        "import keyring; kr = keyring.get_keyring(); print(type(kr).__module__, type(kr).__name__);"
        "keyring.set_password('tresor-kr-ep', 'me', 'pw'); print(keyring.get_password('tresor-kr-ep', 'me'));"
        "keyring.delete_password('tresor-kr-ep', 'me')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[:2] == ["tresor.keyring_backend TresorKeyring", "pw"]


def test_not_viable_without_vault_or_storage(tmp_path, monkeypatch):
    monkeypatch.delenv("TRESOR_KEYRING_STORAGE", raising=False)
    monkeypatch.setenv("TRESOR_VAULT", str(tmp_path / "none"))
    with pytest.raises(RuntimeError, match="no tresor vault"):
        TresorKeyring.priority  # noqa: B018
    monkeypatch.setenv("TRESOR_KEYRING_STORAGE", "kernel")
    assert TresorKeyring.priority > 0
