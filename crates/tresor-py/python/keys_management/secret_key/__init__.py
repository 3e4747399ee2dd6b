"""Key values, pairs, flows, use cases and definitions (``keys_management.secret_key``)."""

from .errors import InitError, InvalidFlowNameError, SecretKeyDefinitionInitError
from .key_definition import BaseSecretKeyDefinition, SecretKeyDefinition
from .key_state import SecretKeyState
from .secret_key import SecretKeyFactory, SecretKeyPair, SecretKeyValue
from .secret_key_use_case import SecretKeyFlow, SecretKeyUseCase
from .types import KeysStore, StrOrBytes, StrOrBytesPair

__all__ = [
    "BaseSecretKeyDefinition",
    "InitError",
    "InvalidFlowNameError",
    "KeysStore",
    "SecretKeyDefinition",
    "SecretKeyDefinitionInitError",
    "SecretKeyFactory",
    "SecretKeyFlow",
    "SecretKeyPair",
    "SecretKeyState",
    "SecretKeyUseCase",
    "SecretKeyValue",
    "StrOrBytes",
    "StrOrBytesPair",
]
