"""keys_management's two dependencies on tresor: states encrypted by a tresor key
(``TresorCryptoTool``, tresor-keys' AEAD with versions and rotation) and kept in a tresor
vault (``TresorStateRepo``).

>>> from tresor import keys, vault
>>> from keys_management import KeysManagementImpl
>>> from keys_management.tresor import TresorCryptoTool, TresorStateRepo
>>> v = vault.open()                                        # doctest: +SKIP
>>> km = KeysManagementImpl(TresorStateRepo(v), TresorCryptoTool(keys.Keys(v), "km-states"))  # doctest: +SKIP

The state a key saves (its last flow and back path key) is JSON, encrypted under the
tresor key (created on first use; ``tresor key rotate`` it freely, old states still
decrypt), bound to the key's name as associated data.
"""

from __future__ import annotations

import base64
import json
from typing import Any, Dict, Optional

from .consts import KEY, STATE
from .dependecies import CryptoTool, StateRepoInterface
from .secret_key import SecretKeyFlow

_AAD = b"keys_management-state"


def _encode(value: Any) -> Any:
    if isinstance(value, SecretKeyFlow):
        return {"flow": value.name}
    if isinstance(value, bytes):
        return {"b64": base64.b64encode(value).decode("ascii")}
    if isinstance(value, tuple):
        return {"pair": [_encode(v) for v in value]}
    return value


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if "flow" in value:
            return SecretKeyFlow[value["flow"]]
        if "b64" in value:
            return base64.b64decode(value["b64"])
        if "pair" in value:
            return tuple(_decode(v) for v in value["pair"])
    return value


class TresorCryptoTool(CryptoTool):
    """Encrypts a state dict under tresor key ``key_name`` (``tresor.keys.Keys``); creates
    the key (``key_type``, default aes256-gcm) if it does not exist yet."""

    def __init__(self, keys, key_name: str, key_type: str = "aes256-gcm") -> None:
        self._keys = keys
        self._name = key_name
        if key_name not in keys.list():
            keys.create(key_name, key_type)

    def encrypt(self, data: Dict[str, Any]) -> str:
        plain = json.dumps({k: _encode(v) for k, v in data.items()}, sort_keys=True)
        return self._keys.encrypt(self._name, plain.encode("utf-8"), _AAD)

    def decrypt(self, encrypted_data: Optional[str]) -> Optional[Dict[str, Any]]:
        if encrypted_data is None:
            return None
        plain = self._keys.decrypt(encrypted_data, _AAD)
        return {k: _decode(v) for k, v in json.loads(plain).items()}


class TresorStateRepo(StateRepoInterface):
    """Keeps each key's (already encrypted) state as the vault secret
    ``APP:ENV:<key name>`` (default ``keys-management:states:<key>``)."""

    def __init__(self, vault, app: str = "keys-management", env: str = "states") -> None:
        self._vault = vault
        self._app = app
        self._env = env

    def write_state(self, key: str, key_state: Any) -> None:
        self._vault.add(self._app, self._env, key, str(key_state), force=True)

    def read_state(self, key: str) -> Optional[str]:
        try:
            return self._vault.get(f"{self._app}:{self._env}:{key}")
        except KeyError:
            return None


__all__ = ["TresorCryptoTool", "TresorStateRepo", "STATE", "KEY"]
