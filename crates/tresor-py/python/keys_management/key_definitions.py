"""Where ``KeysManagementImpl`` keeps its definitions (``KeysDefnitions``, the original's
spelling), and the default dict-backed one."""

from abc import ABC, abstractmethod
from typing import Dict, Iterable, Iterator, Tuple

from .secret_key.key_definition import BaseSecretKeyDefinition


class KeysDefnitions(ABC):
    """A mapping of key names to definitions."""

    @abstractmethod
    def get(self, key_name: str) -> BaseSecretKeyDefinition:
        pass

    @abstractmethod
    def set(self, key_name: str, definition: BaseSecretKeyDefinition) -> None:
        pass

    @abstractmethod
    def get_all_names(self) -> Iterable[str]:
        pass

    @abstractmethod
    def get_all_definitions(self) -> Iterable[BaseSecretKeyDefinition]:
        pass

    @abstractmethod
    def items(self) -> Iterable[Tuple[str, BaseSecretKeyDefinition]]:
        pass

    def __iter__(self) -> Iterator[str]:
        return iter(self.get_all_names())

    def __contains__(self, key_name: str) -> bool:
        try:
            return self.get(key_name) is not None
        except Exception:
            return False

    def __getitem__(self, key_name: str) -> BaseSecretKeyDefinition:
        return self.get(key_name)

    def __setitem__(self, key_name: str, definition: BaseSecretKeyDefinition) -> None:
        self.set(key_name, definition)


class DefaultKeysDefnitions(KeysDefnitions):
    """Definitions in a dict."""

    def __init__(self) -> None:
        self._dict: Dict[str, BaseSecretKeyDefinition] = {}

    def get(self, key_name: str) -> BaseSecretKeyDefinition:
        return self._dict.get(key_name)

    def set(self, key_name: str, definition: BaseSecretKeyDefinition) -> None:
        self._dict[key_name] = definition

    def get_all_names(self) -> Iterable[str]:
        return self._dict.keys()

    def get_all_definitions(self) -> Iterable[BaseSecretKeyDefinition]:
        return self._dict.values()

    def items(self) -> Iterable[Tuple[str, BaseSecretKeyDefinition]]:
        return self._dict.items()

    def __contains__(self, key_name: str) -> bool:
        return key_name in self._dict

    def __getitem__(self, key_name: str) -> BaseSecretKeyDefinition:
        return self._dict[key_name]


KeysDefinitions = KeysDefnitions
DefaultKeysDefinitions = DefaultKeysDefnitions
