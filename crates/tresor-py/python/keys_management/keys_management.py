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
from .secret_key import (
    InvalidFlowNameError,
    SecretKeyDefinition,
    SecretKeyFlow,
    SecretKeyPair,
    SecretKeyUseCase,
    SecretKeyValue,
)

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


class _Halt(Exception):
    """Stops a callback run without an error (the HALT strategy)."""


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
        (the cause chained) on any failure."""
        try:
            if not logger.isEnabledFor(logging.DEBUG):
                logger.info(GET_KEY_INFO_FORMAT.format(key_name))
            self._validate_key_name(key_name)
            if flow is not None and not isinstance(flow, SecretKeyFlow):
                raise GetKeyError(key_name, FLOW_IS_NOT_FLOW_TYPE_MSG)
            sync = self._synchronizers[key_name]
            with sync.read():
                key_definition = self._keys_definitions[key_name]
                flow = self._determine_flow(key_definition) if flow is None else flow
                logger.debug(GET_KEY_DEBUG_FORMAT.format(key_name, flow.name))
                rv_key = self._get_key_by_flow(key_definition, flow)
                logger.debug(RV_KEY_LOG_FORMAT, str(rv_key))
            with sync.write():
                self._update_key_definition_state(key_definition, flow)
            return rv_key.get_value()
        except GetKeyError:
            raise
        except Exception as e:
            raise GetKeyError(key_name) from e

    def _validate_key_name(self, key_name: str) -> None:
        if key_name not in self._keys_definitions:
            raise KeyIsNotDefinedError(key_name)

    def _determine_flow(self, key_definition) -> SecretKeyFlow:
        if key_definition.use_case not in {SecretKeyUseCase.ROUND_TRIP, None}:
            return SecretKeyFlow.DEFAULT
        prev_flow = key_definition.get_last_flow()
        if prev_flow is None and key_definition.is_stated():
            self._fetch_and_set_state_from_repo(key_definition)
            prev_flow = key_definition.get_last_flow()
        if prev_flow == SecretKeyFlow.FORWARD_PATH:
            return SecretKeyFlow.BACK_PATH
        return SecretKeyFlow.FORWARD_PATH

    def _fetch_and_set_state_from_repo(self, key_definition) -> None:
        """Restores a stated key's saved state. No saved state (``read_state`` returns None
        or an empty value, or raises ``KeyError``) means a first use: nothing to restore."""
        name = key_definition.name
        try:
            try:
                stored = self._state_repo.read_state(name)
            except KeyError:
                return
            if stored is None or (hasattr(stored, "__len__") and len(stored) == 0):
                return
            raw_state = self._crypto_tool.decrypt(stored)
            if not raw_state:
                return
            state = raw_state[STATE]
            if state is not None:
                key_definition.set_last_flow(SecretKeyFlow.get(state))
            if KEY in raw_state and raw_state[KEY] is not None:
                key_definition.set_previous_keys(raw_state[KEY])
        except InvalidFlowNameError as e:
            raise InvalidKeyStateError(name, str(e)) from e
        except Exception as e:
            raise FetchAndSetStateFromRepoError(name, f"{type(e).__name__}: {e}") from e

    def _get_key_by_flow(self, key_definition, flow: SecretKeyFlow) -> SecretKeyValue:
        if key_definition.use_case == SecretKeyUseCase.ROUND_TRIP:
            if flow == SecretKeyFlow.FORWARD_PATH:
                key_definition.set_keys_from_store()
                return key_definition.keys.forward_key
            if flow == SecretKeyFlow.BACK_PATH:
                return self._back_path_keys(key_definition).back_path_key
            raise GetKeyError(
                key_definition.name, "a ROUND_TRIP key has FORWARD_PATH and BACK_PATH flows"
            )
        if flow != SecretKeyFlow.DEFAULT:
            raise GetKeyError(key_name=key_definition.name, reason=FLOW_IS_NOT_DEFAULT_MSG)
        return SecretKeyValue(key_definition.keys_store())

    def _back_path_keys(self, key_definition) -> SecretKeyPair:
        if not key_definition.has_keys():
            if key_definition.get_last_flow() is None and key_definition.is_stated():
                self._fetch_and_set_state_from_repo(key_definition)
                if not key_definition.has_keys():
                    key_definition.set_keys_from_store()
            else:
                key_definition.set_keys_from_store()
        return key_definition.get_previous_or_current_keys()

    def _update_key_definition_state(self, key_definition, flow: SecretKeyFlow) -> None:
        logger.log(TRACE_LEVEL, CLEAN_KEYS_LOG_FORMAT % key_definition.name)
        key_definition.clean_keys()
        key_definition.set_last_flow(flow)
        if flow == SecretKeyFlow.DEFAULT or (
            flow == SecretKeyFlow.BACK_PATH and not key_definition.is_keep_in_cache()
        ):
            logger.log(TRACE_LEVEL, CLEAN_PREV_KEYS_LOG_FORMAT % key_definition.name)
            key_definition.clean_previous_keys()

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
        except _Halt:
            pass

    @staticmethod
    def _on_halt_strategy(key_name, callback_name, key_changed_context) -> None:
        logger.error(
            ON_HALT_LOG_FORMAT.format(
                key_name=key_name,
                callback_name=callback_name,
                error=key_changed_context[callback_name]["error"],
            )
        )
        raise _Halt()

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
        raise KeyChangedError(key_name, key_changed_context) from key_changed_context[
            callback_name
        ]["error"]

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
            last_flow = key_definition.get_last_flow()
            raw_state = {STATE: last_flow}
            if last_flow == SecretKeyFlow.FORWARD_PATH:
                if key_definition.has_keys():
                    keys = key_definition.get_previous_or_current_keys()
                else:
                    keys = SecretKeyPair(key_definition.keys_store())
                raw_state[KEY] = keys.back_path_key.get_value()
        self._state_repo.write_state(key_name, self._crypto_tool.encrypt(raw_state))

    def save_states(self) -> None:
        """``save_state`` for every stated key."""
        for key_name, key_definition in list(self._keys_definitions.items()):
            if key_definition.is_stated():
                self.save_state(key_name)
