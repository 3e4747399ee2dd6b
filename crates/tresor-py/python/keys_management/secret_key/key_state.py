"""``SecretKeyState``: a key's last flow and previous keys."""

from __future__ import annotations

from abc import ABC, abstractmethod


class SecretKeyState(ABC):
    """The state a stated key keeps: its last flow and the keys it used before."""

    @abstractmethod
    def get_last_flow(self):
        pass

    @abstractmethod
    def set_last_flow(self, last_use) -> None:
        pass

    @abstractmethod
    def get_previous_keys(self):
        pass

    @abstractmethod
    def set_previous_keys(self, keys) -> None:
        pass

    @abstractmethod
    def clean_state(self) -> None:
        pass
