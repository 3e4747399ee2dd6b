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
