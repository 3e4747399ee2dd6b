"""The exception hierarchy: everything under ``KeysManagementError(RuntimeError)``, with
keys-management's classes, constructors and messages."""

from __future__ import annotations

from enum import Enum
from typing import Any, Optional

FETCH_AND_SET_ERROR_MSG_FORMAT = "Failed to fetch and set key state for {key_name} from_repo: {why}"
KEY_IS_NOT_DEFINED_ERROR_MSG_FORMAT = "KeyIsNotDefinedError: key_name is '%s'"
KEY_CHANGED_ERROR_MSG_FORMAT = "KeyChangedError: key_name is '%s'"
GET_KEY_ERROR_MSG_FORMAT = "failed to get key for {key_name}: {reason}"


class KeysManagementError(RuntimeError):
    """The base of every keys_management error."""


class OnKeyChangedCallbackErrorStrategy(Enum):
    """What ``key_changed`` does when an on-change callback raises."""

    #: raise ``KeyChangedError`` at the first failing callback.
    RAISE_IMMEDIATELY = (1,)
    #: run the remaining callbacks, then raise ``KeyChangedError``.
    SKIP_AND_RAISE = (2,)
    #: log the failure and run the remaining callbacks.
    SKIP = (3,)
    #: log the failure and stop running callbacks, without raising (the default).
    HALT = (4,)


class GetKeyError(KeysManagementError):
    """``get_key`` failed (the cause is chained as ``__cause__``)."""

    def __init__(self, key_name: str, reason: Optional[str] = None) -> None:
        super().__init__(GET_KEY_ERROR_MSG_FORMAT.format(key_name=key_name, reason=reason or ""))


class KeyChangedError(KeysManagementError):
    """``key_changed`` failed: the key is not defined, or a callback raised."""

    def __init__(self, key_name: str, key_changed_context: Any = None) -> None:
        super().__init__(key_name, key_changed_context)

    def __str__(self) -> str:
        return KEY_CHANGED_ERROR_MSG_FORMAT % self.args[0]


class KeyIsNotDefinedError(KeysManagementError):
    """No key of that name was defined."""

    def __init__(self, key_name: str) -> None:
        super().__init__(key_name)

    def __str__(self) -> str:
        return KEY_IS_NOT_DEFINED_ERROR_MSG_FORMAT % self.args[0]


class FetchAndSetStateFromRepoError(KeysManagementError):
    """Reading (or decrypting) a stated key's state from the state repo failed."""

    def __init__(self, key_name: str, why: Optional[str] = None) -> None:
        super().__init__(FETCH_AND_SET_ERROR_MSG_FORMAT.format(key_name=key_name, why=why or ""))


class InvalidKeyStateError(FetchAndSetStateFromRepoError):
    """The state read from the repo names no known flow."""
