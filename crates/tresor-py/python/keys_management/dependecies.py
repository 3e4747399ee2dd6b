"""The two dependencies ``KeysManagementImpl`` is given (keys-management's module name,
spelling included; ``keys_management.dependencies`` is the same module)."""

from typing import Any, Dict


class StateRepoInterface(object):
    """Where stated keys' states are written and read (protocol: subclass or duck-type)."""

    def write_state(self, key: str, key_state: Any) -> None:
        raise NotImplementedError()

    def read_state(self, key: str) -> Dict:
        raise NotImplementedError()


class CryptoTool(object):
    """Encrypts states before ``write_state`` and decrypts what ``read_state`` returns."""

    def encrypt(self, data: Any) -> Any:
        raise NotImplementedError()

    def decrypt(self, encrypted_data: Any) -> Any:
        raise NotImplementedError()
