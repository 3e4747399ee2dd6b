"""Drop-in for ``keys_management`` (keys-management 0.1.5), shipped in the ``tresor`` wheel.

Same public API, module layout and behaviour as the original: ``KeysManagementImpl(
state_repo, crypto_tool)``, ``define_key(name, keys_store, use_case, stateless,
keep_in_cache, on_key_changed_callback_error_strategy)``, ``get_key`` /
``get_forward_path_key`` / ``get_back_path_key``, ``key_changed``, ``register_on_change``
(callbacks ``fn(old, new, on_change_key_definition)``), ``save_states``, the enums, the
protocols and the exceptions under ``KeysManagementError(RuntimeError)``.

Backed by tresor-keys: each key's lifecycle state (last flow, current and previous keys)
and the decisions of ``get_key``, ``save_state`` and the callbacks' error strategies run in
Rust (``tresor_keys::lifecycle``, through ``tresor._tresor.KeyLifecycle`` and
``km_run_callbacks``); the keys store, the state repo, the crypto tool and the callbacks
stay the user's Python objects, called back from Rust (crates/tresor-py/README.md says
what lives where). The original's bugs, fixed here:

- a stated key's saved state restores in a fresh manager (the original saves the flow as
  an enum and then fails to parse it back: ``GetKeyError``);
- a stated key with no saved state yet (``read_state`` returning None/empty or raising
  ``KeyError``) can be used (the original raises ``GetKeyError``);
- ``save_state`` does not change the key's flow (the original fetched the back path key
  through ``get_key``, so the next ``get_key()`` went forward again);
- ``SingleKeyManagement.get_key`` returns the key (the original returns None);
- ``OnChangeKeyDefinition.is_stated()`` and ``get_previous_keys()`` answer truly;
- a one-way key asked for a forward/back path raises ``GetKeyError`` (the original built
  the error and forgot to raise it);
- MULTITHREADED locks are re-entrant, so a callback may call ``get_key`` on its key.

tresor's own versioned keys, with transit encrypt/decrypt/rewrap, are ``tresor.keys``;
``keys_management.tresor`` has a ``CryptoTool`` and a ``StateRepoInterface`` on them.

Do not install both this wheel and the original ``keys-management`` in one environment:
whichever is installed last owns the import name.
"""

from .concurrency import EnvironemtType, Synchronizer, SynchronizerFactory
from .dependecies import CryptoTool, StateRepoInterface
from .errors import (
    FetchAndSetStateFromRepoError,
    GetKeyError,
    InvalidKeyStateError,
    KeyChangedError,
    KeyIsNotDefinedError,
    KeysManagementError,
    OnKeyChangedCallbackErrorStrategy,
)
from .key_changed_utils import CallbackStatus, KeyChangedCallback
from .keys_management import KeysManagement, KeysManagementImpl, SingleKeyManagement
from .on_change_key_definition import OnChangeKeyDefinition, OnChangeKeyDefinitionInitError
from .secret_key import (
    BaseSecretKeyDefinition,
    InvalidFlowNameError,
    KeysStore,
    SecretKeyDefinitionInitError,
    SecretKeyFlow,
    SecretKeyPair,
    SecretKeyUseCase,
    SecretKeyValue,
    StrOrBytes,
    StrOrBytesPair,
)

__all__ = [
    "BaseSecretKeyDefinition",
    "CallbackStatus",
    "CryptoTool",
    "EnvironemtType",
    "FetchAndSetStateFromRepoError",
    "GetKeyError",
    "InvalidFlowNameError",
    "InvalidKeyStateError",
    "KeyChangedCallback",
    "KeyChangedError",
    "KeyIsNotDefinedError",
    "KeysManagement",
    "KeysManagementError",
    "KeysManagementImpl",
    "KeysStore",
    "OnChangeKeyDefinition",
    "OnChangeKeyDefinitionInitError",
    "OnKeyChangedCallbackErrorStrategy",
    "SecretKeyDefinitionInitError",
    "SecretKeyFlow",
    "SecretKeyPair",
    "SecretKeyUseCase",
    "SecretKeyValue",
    "SingleKeyManagement",
    "StateRepoInterface",
    "StrOrBytes",
    "StrOrBytesPair",
    "Synchronizer",
    "SynchronizerFactory",
]
