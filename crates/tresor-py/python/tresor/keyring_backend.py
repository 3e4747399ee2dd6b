"""A ``keyring`` backend on tresor (the ``keyring.backends`` entry point ``tresor``).

With the ``tresor`` wheel installed, ``keyring.get_password(service, username)`` and
friends use tresor. Where the passwords go is chosen by ``TRESOR_KEYRING_STORAGE`` (or
the keyring property ``storage``, e.g. ``KEYRING_PROPERTY_STORAGE``):

- ``vault`` (the default when a tresor vault exists): the tresor vault at
  ``$TRESOR_VAULT`` (passphrase from ``$TRESOR_PASSPHRASE``), as secrets
  ``keyring:s<service>:u<username>``, encrypted at rest, versioned, audited;
- ``kernel``: the Linux kernel session keyring (a cache: gone at logout or reboot), as
  ``user`` keys ``tresor-keyring:<service>:<username>``.

Service and username may hold any characters: each is percent-encoded (every byte but
ASCII letters, digits and ``_.-``), so distinct pairs never share a stored name; ``""``
passwords round-trip. The priority (4.5, or ``TRESOR_KEYRING_PRIORITY``) beats the
``fail`` backend on a headless box without D-Bus and stays under SecretService (5) on a
desktop; with no vault and no storage chosen the backend declares itself not viable.
"""

import os
from typing import Optional
from urllib.parse import quote, unquote

from keyring import credentials
from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError, PasswordSetError

from . import errors
from . import keyring as kernel
from . import vault as _vault

__all__ = ["TresorKeyring"]

_KERNEL_PREFIX = "tresor-keyring:"
_VAULT_APP = "keyring"


def _enc(s: str) -> str:
    return quote(s, safe="")


def _storage_from_env() -> Optional[str]:
    return os.environ.get("TRESOR_KEYRING_STORAGE") or None


def _vault_exists() -> bool:
    d = os.environ.get("TRESOR_VAULT") or os.path.join(
        os.environ.get("XDG_DATA_HOME") or os.path.expanduser("~/.local/share"), "tresor"
    )
    return os.path.exists(os.path.join(d, "vault.key")) or os.path.exists(
        os.path.join(d, "vault.db")
    )


class TresorKeyring(KeyringBackend):
    """keyring backend storing passwords in the tresor vault or the kernel keyring."""

    storage: Optional[str] = None

    @classmethod
    def _chosen(cls) -> Optional[str]:
        return cls.storage or _storage_from_env()

    @classmethod
    def _priority(cls) -> float:
        storage = cls._chosen()
        if storage is None and not _vault_exists():
            raise RuntimeError(
                "no tresor vault (run 'tresor init', or set TRESOR_KEYRING_STORAGE=kernel)"
            )
        if storage not in (None, "vault", "kernel"):
            raise RuntimeError(
                f"TRESOR_KEYRING_STORAGE={storage!r}: expected 'vault' or 'kernel'"
            )
        return float(os.environ.get("TRESOR_KEYRING_PRIORITY", "4.5"))

    # keyring reads `priority` on the class.
    class _Priority:
        def __get__(self, obj, cls):
            return cls._priority()

    priority = _Priority()  # type: ignore[assignment]

    def __init__(self, storage: Optional[str] = None) -> None:
        super().__init__()
        if storage is not None:
            self.storage = storage
        self._vault: Optional[_vault.Vault] = None

    # -- where -------------------------------------------------------------------------

    def _where(self) -> str:
        storage = self.storage or _storage_from_env() or "vault"
        if storage not in ("vault", "kernel"):
            raise ValueError(f"tresor keyring storage {storage!r}: expected 'vault' or 'kernel'")
        return storage

    def _open_vault(self) -> _vault.Vault:
        if self._vault is None:
            self._vault = _vault.open()
        return self._vault

    @staticmethod
    def _vault_name(service: str, username: str) -> str:
        return f"{_VAULT_APP}:s{_enc(service)}:u{_enc(username)}"

    @staticmethod
    def _kernel_name(service: str, username: str) -> str:
        return f"{_KERNEL_PREFIX}{_enc(service)}:{_enc(username)}"

    # -- the keyring API ---------------------------------------------------------------

    def get_password(self, service: str, username: str) -> Optional[str]:
        """The password of ``username`` for ``service``, or None."""
        try:
            if self._where() == "kernel":
                raw = kernel.get(self._kernel_name(service, username), "session")
                return raw[1:].decode("utf-8")
            return self._open_vault().get(self._vault_name(service, username))
        except errors.NotFoundError:
            return None

    def set_password(self, service: str, username: str, password: str) -> None:
        """Stores ``password`` for ``username`` of ``service`` (replacing any)."""
        self._validate_username(username)
        try:
            if self._where() == "kernel":
                # A leading marker byte: the kernel rejects empty payloads, "" must round-trip.
                kernel.set(
                    self._kernel_name(service, username),
                    b"\x01" + password.encode("utf-8"),
                    "session",
                )
                return
            self._open_vault().add(
                _VAULT_APP, f"s{_enc(service)}", f"u{_enc(username)}", password, force=True
            )
        except errors.TresorError as e:
            raise PasswordSetError(str(e)) from e

    def delete_password(self, service: str, username: str) -> None:
        """Deletes the password; PasswordDeleteError if there is none."""
        try:
            if self._where() == "kernel":
                kernel.invalidate(self._kernel_name(service, username), "session")
            else:
                self._open_vault().remove(self._vault_name(service, username))
        except errors.NotFoundError as e:
            raise PasswordDeleteError(f"no password for {username!r} of {service!r}") from e
        except errors.TresorError as e:
            raise PasswordDeleteError(str(e)) from e

    def get_credential(
        self, service: str, username: Optional[str]
    ) -> Optional[credentials.Credential]:
        """The credential of ``username`` (or, with None, the first one stored for
        ``service`` in the vault) as a SimpleCredential, or None."""
        if username is not None:
            password = self.get_password(service, username)
            return None if password is None else credentials.SimpleCredential(username, password)
        if self._where() != "vault":
            return None
        try:
            found = self._open_vault().list(f"{_VAULT_APP}:s{_enc(service)}:*")
        except errors.NotFoundError:
            return None
        for item in found:
            if item["env"] == f"s{_enc(service)}" and item["key"].startswith("u"):
                user = unquote(item["key"][1:])
                password = self.get_password(service, user)
                if password is not None:
                    return credentials.SimpleCredential(user, password)
        return None
