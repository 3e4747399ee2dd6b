"""``KeysManagement`` (the interface), ``KeysManagementImpl`` and ``SingleKeyManagement``."""

from __future__ import annotations

import logging
from typing import Dict, Optional

from .concurrency import DefaultSynchronizerFactory, EnvironemtType, SynchronizerFactory
from .consts import KEY, STATE, TRACE_LEVEL, TRACE_LEVEL_NAME
from .dependecies import CryptoTool, StateRepoInterface
from .errors import (
    FetchAndSetStateFromRepoError,
    GetKeyError,
    InvalidKeyStateError,
    KeyChangedError,
    KeyIsNotDefinedError,
    OnKeyChangedCallbackErrorStrategy,
)
from .key_changed_utils import KeyChangedContext
from .key_definitions import DefaultKeysDefnitions, KeysDefnitions
from .log_messages_consts import (
    CLEAN_KEYS_LOG_FORMAT,
    CLEAN_PREV_KEYS_LOG_FORMAT,
    DEFINE_KEY_LOG_FORMAT,
    GET_KEY_DEBUG_FORMAT,
    GET_KEY_INFO_FORMAT,
    KEY_CHANGED_DEBUG_FORMAT,
    KEY_CHANGED_INFO_FORMAT,
    ON_HALT_LOG_FORMAT,
    ON_SKIP_LOG_FORMAT,
    RV_KEY_LOG_FORMAT,
    SUCCESS_DEFINE_KEY_LOG_FORMAT,
)
from tresor import _tresor as _native

from .secret_key import (
    InvalidFlowNameError,
    SecretKeyDefinition,
    SecretKeyFlow,
    SecretKeyPair,
    SecretKeyUseCase,
    SecretKeyValue,
)
from .secret_key.key_definition import _as_pair

logging.addLevelName(TRACE_LEVEL, TRACE_LEVEL_NAME)
logger = logging.getLogger(__name__)

FLOW_IS_NOT_FLOW_TYPE_MSG = 'flow argument is not type of "SecretKeyFlow"'
FLOW_IS_NOT_DEFAULT_MSG = "flow is not SecretKeyFlow.DEFAULT or aliases"
DEFAULT_CALLBACK_NAME_FORMAT = "{}_callback_{}"


class KeysManagement(object):
    """The library's interface: define keys, get them per flow, declare changes, save states."""

    def define_key(self, name, keys_store, use_case, stateless, keep_in_cache,
                   on_key_changed_callback_error_strategy=None):
        raise NotImplementedError()

    def get_key(self, key_name: str, flow: SecretKeyFlow = None):
        raise NotImplementedError()

    def get_forward_path_key(self, key_name: str):
        """The key for the forward path (encryption) of ``key_name``."""
        return self.get_key(key_name, SecretKeyFlow.FORWARD_PATH)

    def get_encrypt_key(self, key_name: str):
        return self.get_forward_path_key(key_name)

    def get_back_path_key(self, key_name: str):
        """The key for the back path (decryption): the one the forward path last gave."""
        return self.get_key(key_name, SecretKeyFlow.BACK_PATH)

    def get_decrypt_key(self, key_name: str):
        return self.get_back_path_key(key_name)

    def key_changed(self, key_name, old_keys, new_keys) -> None:
        raise NotImplementedError()

    def register_on_change(self, key_name, on_change_func, callback_id=None) -> None:
        raise NotImplementedError()

    def save_states(self) -> None:
        raise NotImplementedError()

    def save_state(self, key_name: str) -> None:
        raise NotImplementedError()

    def get_single_management(self, key_name: str) -> "SingleKeyManagement":
        """This manager bound to one key."""
        return SingleKeyManagement(key_name, self)


class SingleKeyManagement:
    """``KeysManagement``'s methods for one key."""

    def __init__(self, name: str, keys_management: KeysManagement):
        self._name = name
        self._keys_management = keys_management

    def get_key(self, flow: SecretKeyFlow = None):
        """The key for ``flow`` (the original returns None here)."""
        return self._keys_management.get_key(self._name, flow)

    def get_forward_path_key(self):
        return self._keys_management.get_key(self._name, SecretKeyFlow.FORWARD_PATH)

    def get_encrypt_key(self):
        return self._keys_management.get_forward_path_key(self._name)

    def get_back_path_key(self):
        return self._keys_management.get_key(self._name, SecretKeyFlow.BACK_PATH)

    def get_decrypt_key(self):
        return self._keys_management.get_back_path_key(self._name)

    def key_changed(self, old_keys, new_keys) -> None:
        self._keys_management.key_changed(self._name, old_keys, new_keys)

    def register_on_change(self, on_change_func, callback_id: str = None) -> None:
        self._keys_management.register_on_change(self._name, on_change_func, callback_id)

    def save_state(self) -> None:
        self._keys_management.save_state(self._name)


_WRONG_FLOW = {
    "round_trip_needs_path": "a ROUND_TRIP key has FORWARD_PATH and BACK_PATH flows",
    "one_way_needs_default": FLOW_IS_NOT_DEFAULT_MSG,
}


def _core_of(key_definition):
    """The Rust lifecycle of a definition ``define_key`` made."""
    core = getattr(key_definition, "_lifecycle", None)
    if core is None:
        raise TypeError(
            f"{type(key_definition).__name__} is not a SecretKeyDefinition: keys are "
            "defined with KeysManagementImpl.define_key"
        )
    return core


class KeysManagementImpl(KeysManagement):
    """The implementation. ``state_repo`` and ``crypto_tool`` are only used for stated keys
    (``stateless=False``): ``save_states`` writes ``crypto_tool.encrypt({"state": flow,
    "key": back_path_key})`` through ``state_repo.write_state(name, ...)``, and a fresh
    manager reads it back on its first ``get_key``."""

    def __init__(
        self,
        state_repo: Optional[StateRepoInterface] = None,
        crypto_tool: Optional[CryptoTool] = None,
        keys_definitions: KeysDefnitions = None,
        environemt_type: EnvironemtType = EnvironemtType.SINGLE,
        synchronizer_factory: SynchronizerFactory = None,
    ):
        self._state_repo = state_repo if state_repo is not None else StateRepoInterface()
        self._crypto_tool = crypto_tool if crypto_tool is not None else CryptoTool()
        self._keys_definitions = (
            keys_definitions if keys_definitions is not None else DefaultKeysDefnitions()
        )
        self._synchronizer_factory = (
            synchronizer_factory
            if synchronizer_factory is not None
            else DefaultSynchronizerFactory(environemt_type)
        )
        self._synchronizers: Dict[str, object] = {}
        self._callbacks_executions_error_handling = {
            OnKeyChangedCallbackErrorStrategy.HALT: KeysManagementImpl._on_halt_strategy,
            OnKeyChangedCallbackErrorStrategy.SKIP: KeysManagementImpl._on_skip_strategy,
            OnKeyChangedCallbackErrorStrategy.SKIP_AND_RAISE: KeysManagementImpl._on_skip_and_raise_strategy,
            OnKeyChangedCallbackErrorStrategy.RAISE_IMMEDIATELY: KeysManagementImpl._on_raise_strategy,
        }

    def define_key(
        self,
        name: str,
        keys_store,
        use_case: SecretKeyUseCase = None,
        stateless: bool = None,
        keep_in_cache: bool = None,
        on_key_changed_callback_error_strategy: OnKeyChangedCallbackErrorStrategy = None,
    ) -> KeysManagement:
        """Defines (or redefines) key ``name``: ``keys_store()`` returns its value or a
        (forward, back) pair. Returns this manager (calls chain)."""
        strategy = (
            on_key_changed_callback_error_strategy
            if on_key_changed_callback_error_strategy is not None
            else OnKeyChangedCallbackErrorStrategy.HALT
        )
        logger.info(DEFINE_KEY_LOG_FORMAT % name)
        kwargs = {"on_key_changed_callback_error_strategy": strategy}
        # As the original: an argument left out (or None) keeps the definition's default.
        if use_case is not None:
            kwargs["use_case"] = use_case
        if stateless is not None:
            kwargs["stateless"] = stateless
        if keep_in_cache is not None:
            kwargs["keep_in_cache"] = keep_in_cache
        key_definition = SecretKeyDefinition(name, keys_store, **kwargs)
        self._synchronizers[name] = self._synchronizer_factory.create()
        logger.debug(SUCCESS_DEFINE_KEY_LOG_FORMAT % str(key_definition))
        with self._synchronizers[name].write():
            self._keys_definitions[name] = key_definition
        return self

    def get_key(self, key_name: str, flow: SecretKeyFlow = None):
        """The key of ``key_name`` for ``flow``; without a flow, a round-trip key alternates
        (forward, then back) and a one-way key gives its only flow. Raises ``GetKeyError``
        (the cause chained) on any failure. The decisions (which flow, which value, what
        is kept) are the Rust core's (``KeyLifecycle.get``); the keys store and, for a
        stated key's first use, the state repo and crypto tool are called back from it."""
        try:
            if not logger.isEnabledFor(logging.DEBUG):
                logger.info(GET_KEY_INFO_FORMAT.format(key_name))
            self._validate_key_name(key_name)
            if flow is not None and not isinstance(flow, SecretKeyFlow):
                raise GetKeyError(key_name, FLOW_IS_NOT_FLOW_TYPE_MSG)
            with self._synchronizers[key_name].write():
                key_definition = self._keys_definitions[key_name]
                core = _core_of(key_definition)
                try:
                    flow_name, value = core.get(
                        None if flow is None else flow.name,
                        key_definition._pair_from_store,
                        key_definition._one_from_store,
                        lambda: self._saved_state(key_definition),
                    )
                except _native.WrongFlowError as e:
                    raise GetKeyError(key_name, _WRONG_FLOW[e.args[0]]) from None
            logger.debug(GET_KEY_DEBUG_FORMAT.format(key_name, flow_name))
            logger.debug(RV_KEY_LOG_FORMAT, str(SecretKeyValue(value)))
            return value
        except GetKeyError:
            raise
        except Exception as e:
            raise GetKeyError(key_name) from e

    def _validate_key_name(self, key_name: str) -> None:
        if key_name not in self._keys_definitions:
            raise KeyIsNotDefinedError(key_name)

    def _saved_state(self, key_definition):
        """A stated key's saved state for the Rust core: None (nothing saved: ``read_state``
        returned None/an empty value or raised ``KeyError``), else ``(flow name or None,
        (forward, back) or None)``."""
        name = key_definition.name
        try:
            try:
                stored = self._state_repo.read_state(name)
            except KeyError:
                return None
            if stored is None or (hasattr(stored, "__len__") and len(stored) == 0):
                return None
            raw_state = self._crypto_tool.decrypt(stored)
            if not raw_state:
                return None
            state = raw_state[STATE]
            flow = SecretKeyFlow.get(state).name if state is not None else None
            keys = None
            if KEY in raw_state and raw_state[KEY] is not None:
                keys = _as_pair(raw_state[KEY])
            return (flow, keys)
        except InvalidFlowNameError as e:
            raise InvalidKeyStateError(name, str(e)) from e
        except Exception as e:
            raise FetchAndSetStateFromRepoError(name, f"{type(e).__name__}: {e}") from e

    def key_changed(self, key_name: str, old_keys=None, new_keys=None) -> None:
        """Declares that ``key_name``'s value changed from ``old_keys`` to ``new_keys``: runs
        its callbacks ``fn(old_keys, new_keys, on_change_key_definition)`` in registration
        order under its error strategy. Raises ``KeyChangedError`` for an undefined key
        and as the strategy says (the callback's error chained)."""
        try:
            if logger.isEnabledFor(logging.DEBUG):
                logger.debug(
                    KEY_CHANGED_DEBUG_FORMAT.format(
                        key_name,
                        str(SecretKeyPair(old_keys)) if old_keys is not None else None,
                        str(SecretKeyPair(new_keys)) if new_keys is not None else None,
                    )
                )
            else:
                logger.info(KEY_CHANGED_INFO_FORMAT.format(key_name))
            self._validate_key_name(key_name)
            key_definition = self._keys_definitions[key_name]
            KeyChangedContext(
                key_definition,
                self._callbacks_executions_error_handling[
                    key_definition.on_key_changed_callback_error_strategy
                ],
                old_keys,
                new_keys,
                self._synchronizers[key_name],
            ).run_callbacks()
        except KeyIsNotDefinedError as e:
            raise KeyChangedError(key_name) from e

    # What each strategy logs for a failed callback (the Rust core decides whether the run
    # goes on, stops or raises: ``KeyChangedContext.run_callbacks``).
    @staticmethod
    def _on_halt_strategy(key_name, callback_name, key_changed_context) -> None:
        logger.error(
            ON_HALT_LOG_FORMAT.format(
                key_name=key_name,
                callback_name=callback_name,
                error=key_changed_context[callback_name]["error"],
            )
        )

    @staticmethod
    def _on_skip_strategy(key_name, callback_name, key_changed_context) -> None:
        logger.error(
            ON_SKIP_LOG_FORMAT.format(
                key_name=key_name,
                callback_name=callback_name,
                error=key_changed_context[callback_name]["error"],
            )
        )

    @staticmethod
    def _on_skip_and_raise_strategy(key_name, callback_name, key_changed_context) -> None:
        pass

    @staticmethod
    def _on_raise_strategy(key_name, callback_name, key_changed_context) -> None:
        pass

    def register_on_change(self, key_name: str, on_change_func, callback_name: str = None) -> None:
        """Registers ``on_change_func(old_keys, new_keys, on_change_key_definition)`` for
        ``key_name`` (named ``callback_name``, default ``"<key>_callback_<n>"``; a name
        already registered is replaced). Raises ``KeyIsNotDefinedError``."""
        self._validate_key_name(key_name)
        callbacks = self._keys_definitions[key_name].on_change_callbacks
        if callback_name is None:
            callback_name = DEFAULT_CALLBACK_NAME_FORMAT.format(key_name, str(len(callbacks) + 1))
        callbacks[callback_name] = on_change_func

    def save_state(self, key_name: str) -> None:
        """Writes ``key_name``'s state (``{"state": last flow}``, plus ``"key"``: the back
        path key after a forward get) through the crypto tool to the state repo. Unlike the
        original, it does not itself change the key's flow."""
        self._validate_key_name(key_name)
        key_definition = self._keys_definitions[key_name]
        with self._synchronizers[key_name].read():
            flow_name, key = _core_of(key_definition).state_to_save(
                key_definition._pair_from_store
            )
            raw_state = {STATE: None if flow_name is None else SecretKeyFlow[flow_name]}
            if key is not None:
                raw_state[KEY] = key
        self._state_repo.write_state(key_name, self._crypto_tool.encrypt(raw_state))

    def save_states(self) -> None:
        """``save_state`` for every stated key."""
        for key_name, key_definition in list(self._keys_definitions.items()):
            if key_definition.is_stated():
                self.save_state(key_name)
