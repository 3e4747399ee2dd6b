"""Type stubs of tresor's native module (import ``tresor``, not this)."""

from typing import Optional

__version__: str

def keyring_set(
    name: str,
    value: bytes,
    ring: str = "user",
    *,
    mode: str = "always",
    timeout: Optional[float] = None,
) -> int: ...
def keyring_get(name: str, ring: str = "user") -> bytes: ...
def keyring_invalidate(name: str, ring: str = "user") -> None: ...

class KeyRingIdentifier:
    Thread: "KeyRingIdentifier"
    Process: "KeyRingIdentifier"
    Session: "KeyRingIdentifier"
    User: "KeyRingIdentifier"
    UserSession: "KeyRingIdentifier"
    Group: "KeyRingIdentifier"
    ReqKeyAuthKey: "KeyRingIdentifier"
    def __int__(self) -> int: ...
    def __eq__(self, other: object) -> bool: ...
    def __ne__(self, other: object) -> bool: ...

def set_secret(
    name: str, secret: bytes, /, key_ring: Optional[KeyRingIdentifier] = None, create: bool = False
) -> None: ...
def get_secret(name: str, /, key_ring: Optional[KeyRingIdentifier] = None) -> bytes: ...
def invalidate_secret(name: str, /, key_ring: Optional[KeyRingIdentifier] = None) -> None: ...

import os
import pathlib
from typing import Any, Dict, List, Union

_Path = Union[str, "os.PathLike[str]"]

class Vault:
    @property
    def path(self) -> "pathlib.Path": ...
    def get(self, filter: str) -> str: ...
    def get_bytes(self, filter: str) -> bytes: ...
    def list(self, filter: str = "") -> List[Dict[str, Any]]: ...
    def add(
        self,
        app: str,
        env: str,
        key: str,
        value: Union[str, bytes],
        *,
        type: str = "str",
        force: bool = False,
    ) -> int: ...
    def remove(self, filter: str) -> None: ...
    def env(self, template: Optional[_Path] = None, output: Optional[_Path] = None) -> Dict[str, str]: ...

def vault_open(path: Optional[_Path] = None, passphrase: Optional[str] = None, *, cache: bool = False) -> Vault: ...
def vault_init(
    path: _Path,
    passphrase: Optional[str] = None,
    *,
    user: Optional[str] = None,
    email: Optional[str] = None,
    store: Optional[str] = None,
) -> Vault: ...
