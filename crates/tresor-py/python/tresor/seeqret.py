"""``seeqret.get``'s call shape on the tresor vault, for existing code.

Replace ``import seeqret`` with ``from tresor import seeqret``; ``seeqret.get(key,
app='*', env='*')`` then reads the tresor vault (``$TRESOR_VAULT``, migrated from seeqret
with ``tresor import seeqret``) and returns an object whose ``.value`` is the secret,
as seeqret's ``Secret`` does. The vault is opened once per process, with its value
cache on (the seeqret-style fast path): a value is read again after any process writes to
the vault, so a secret changed elsewhere is seen at the next ``get``, as with seeqret.

Where tresor differs: a filter that matches several secrets raises
``InvalidArgumentError`` (a ``ValueError``) instead of returning the first one; a missing
secret raises ``SecretNotFoundError``, which is both the ``IndexError`` seeqret raised
and a ``KeyError``.
"""

import threading
from typing import Optional

from . import vault as _vault

__all__ = ["get", "Secret"]

_lock = threading.Lock()
_open: Optional[_vault.Vault] = None


class Secret:
    """One secret as ``seeqret.get`` returns it: ``app``, ``env``, ``key``, ``value``, ``type``."""

    __slots__ = ("app", "env", "key", "value", "type")

    def __init__(self, app: str, env: str, key: str, value: str, type: str = "str") -> None:
        self.app, self.env, self.key, self.value, self.type = app, env, key, value, type

    def __repr__(self) -> str:  # never the value
        return f"Secret({self.app}:{self.env}:{self.key})"


def _vault_handle() -> _vault.Vault:
    global _open
    if _open is None:
        with _lock:
            if _open is None:
                _open = _vault.open(cache=True)
    return _open


def get(key: str, app: str = "*", env: str = "*") -> Secret:
    """The secret ``key`` of ``app`` and ``env`` (``*`` globs allowed), as seeqret.get."""
    filt = f"{app}:{env}:{key}"
    value = _vault_handle().get(filt)
    return Secret(app, env, key, value)


def _reset() -> None:
    """Forgets the open vault (after ``$TRESOR_VAULT`` changed)."""
    global _open
    with _lock:
        _open = None
