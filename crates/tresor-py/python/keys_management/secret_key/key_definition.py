"""Key definitions: ``BaseSecretKeyDefinition`` (subclassable) and ``SecretKeyDefinition``."""

from __future__ import annotations

import inspect
from abc import ABC, abstractmethod
from collections import OrderedDict
from typing import Any, Dict, Optional

from tresor import _tresor as _native

from ..errors import OnKeyChangedCallbackErrorStrategy
from .consts import (
    CALLBACK_ERROR_STRATEGY_ARG,
    KEEP_IN_CACHE_ARG,
    KEEP_IN_CACHE_PROP,
    LAST_FLOW_PROP,
    NAME_PROP,
    STATELESS_ARG,
    STATELESS_PROP,
    USE_CASE_ARG,
    USE_CASE_PROP,
)
from .errors import SecretKeyDefinitionInitError
from .key_state import SecretKeyState
from .log_messages_consts import (
    ERROR_STRATEGY_TYPE_ERR_MSG,
    KEEP_IN_CACHE_NOT_BOOL_ERR_MSG,
    NAME_PROPERTY_IS_EMPTY_MSG,
    SHOULD_NOT_CONTAINS_ARGS_MSG,
    STATELESS_NOT_BOOL_ERR_MSG,
    STORE_IS_NOT_CALLABLE_MSG,
    USE_CASE_PROP_TYPE_ERR,
)
from .secret_key import SecretKeyPair, SecretKeyValue
from .secret_key_use_case import SecretKeyFlow, SecretKeyUseCase


def _needs_arguments(fn) -> bool:
    """True if calling ``fn()`` without arguments cannot work (a required parameter)."""
    try:
        params = inspect.signature(fn).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        p.default is inspect.Parameter.empty
        and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)
        for p in params
    )


class BaseSecretKeyDefinition(ABC):
    """A named key: its keys store (a function of no arguments returning a value or a
    (forward, back) pair), use case, stateless, keep_in_cache, error strategy, callbacks.
    Subclass it and implement ``get_key_state``/``set_key_state``."""

    def __init__(self, name: str, keys_store, **kwargs: Any):
        self._name = name
        self._keys_store = keys_store
        self._use_case = kwargs.get(USE_CASE_ARG, SecretKeyUseCase.ENCRYPTION_DECRYPTION)
        self._stateless = kwargs.get(STATELESS_ARG, True)
        self._keep_in_cache = kwargs.get(KEEP_IN_CACHE_ARG, True)
        self._on_key_changed_callback_error_strategy = kwargs.get(
            CALLBACK_ERROR_STRATEGY_ARG, OnKeyChangedCallbackErrorStrategy.HALT
        )
        self._on_change_callbacks: Dict[str, Any] = OrderedDict()
        self._validate_properties()

    def _validate_properties(self) -> None:
        if not isinstance(self._name, str) or len(self._name) == 0:
            raise SecretKeyDefinitionInitError(NAME_PROPERTY_IS_EMPTY_MSG)
        if not callable(self._keys_store):
            raise SecretKeyDefinitionInitError(STORE_IS_NOT_CALLABLE_MSG)
        if _needs_arguments(self._keys_store):
            raise SecretKeyDefinitionInitError(SHOULD_NOT_CONTAINS_ARGS_MSG)
        if not isinstance(self._use_case, SecretKeyUseCase):
            raise SecretKeyDefinitionInitError(USE_CASE_PROP_TYPE_ERR)
        if not isinstance(self._stateless, bool):
            raise SecretKeyDefinitionInitError(STATELESS_NOT_BOOL_ERR_MSG)
        if not isinstance(self._keep_in_cache, bool):
            raise SecretKeyDefinitionInitError(KEEP_IN_CACHE_NOT_BOOL_ERR_MSG)
        if not isinstance(
            self._on_key_changed_callback_error_strategy, OnKeyChangedCallbackErrorStrategy
        ):
            raise SecretKeyDefinitionInitError(ERROR_STRATEGY_TYPE_ERR_MSG)

    @property
    def name(self) -> str:
        return self._name

    @property
    def keys_store(self):
        return self._keys_store

    def is_stateless(self) -> bool:
        return self._stateless

    def is_stated(self) -> bool:
        return not self._stateless

    @property
    def use_case(self) -> SecretKeyUseCase:
        return self._use_case

    @property
    def on_change_callbacks(self) -> Dict[str, Any]:
        return self._on_change_callbacks

    def is_keep_in_cache(self) -> bool:
        return self._keep_in_cache

    @abstractmethod
    def get_key_state(self) -> SecretKeyState:
        pass

    @abstractmethod
    def set_key_state(self, key_state: SecretKeyState) -> None:
        pass

    @property
    def on_key_changed_callback_error_strategy(self) -> OnKeyChangedCallbackErrorStrategy:
        return self._on_key_changed_callback_error_strategy

    def __str__(self) -> str:
        return str(self.asdict())

    def asdict(self) -> Dict[str, Any]:
        return {
            NAME_PROP: self._name,
            USE_CASE_PROP: self._use_case.name,
            STATELESS_PROP: self._stateless,
            KEEP_IN_CACHE_PROP: self._keep_in_cache,
        }

    def __call__(self):
        return self._keys_store()


def _as_pair(keys) -> tuple:
    """``keys`` (a value, a (forward, back) tuple, a ``SecretKeyValue`` or a
    ``SecretKeyPair``) as a validated ``(forward, back)`` tuple of str/bytes."""
    if isinstance(keys, SecretKeyValue):
        v = keys.get_value()
        return (v, v)
    if not isinstance(keys, SecretKeyPair):
        keys = SecretKeyPair(keys)
    return (keys.forward_key.get_value(), keys.back_path_key.get_value())


def _pair_or_none(t) -> Optional[SecretKeyPair]:
    return None if t is None else SecretKeyPair(tuple(t))


class SecretKeyDefinition(BaseSecretKeyDefinition, SecretKeyState):
    """The definition ``define_key`` makes: a ``BaseSecretKeyDefinition`` whose state (last
    flow, current and previous keys) and lifecycle decisions live in tresor's Rust core
    (``tresor._tresor.KeyLifecycle``, tresor-keys' ``lifecycle`` state machine); this class
    is its Python face."""

    def __init__(self, name: str, keys_store, **kwargs: Any) -> None:
        super().__init__(name, keys_store, **kwargs)
        self._lifecycle = _native.KeyLifecycle(
            self._use_case == SecretKeyUseCase.ROUND_TRIP, self._stateless, self._keep_in_cache
        )

    # The keys store, as the Rust core calls it.
    def _pair_from_store(self) -> tuple:
        return _as_pair(self._keys_store())

    def _one_from_store(self):
        return SecretKeyValue(self._keys_store()).get_value()

    def set_keys_from_store(self) -> None:
        self._lifecycle.set_keys_from_store(self._pair_from_store)

    @property
    def keys(self):
        return _pair_or_none(self._lifecycle.current)

    @property
    def previous_keys(self):
        return _pair_or_none(self._lifecycle.previous)

    def set_previous_keys(self, keys) -> None:
        self._lifecycle.set_current(None if keys is None else _as_pair(keys))

    def get_keys_or_previous(self):
        return self.keys if self._lifecycle.current is not None else self.previous_keys

    def get_previous_or_current_keys(self):
        return self.previous_keys if self._lifecycle.previous is not None else self.keys

    def get_last_flow(self):
        name = self._lifecycle.last_flow
        return None if name is None else SecretKeyFlow[name]

    def set_last_flow(self, use_case) -> None:
        if use_case is None:
            self._lifecycle.last_flow = None
        else:
            self._lifecycle.last_flow = SecretKeyFlow.get(use_case).name

    def has_keys(self) -> bool:
        return self._lifecycle.has_keys()

    def clean_keys(self) -> None:
        self._lifecycle.clean_keys()

    def clean_previous_keys(self) -> None:
        self._lifecycle.clean_previous_keys()

    def get_key_state(self) -> SecretKeyState:
        return self

    def set_key_state(self, key_state: SecretKeyState) -> None:
        self.set_last_flow(key_state.get_last_flow())
        previous = key_state.get_previous_keys()
        if previous is not None and previous != self.previous_keys:
            self.set_previous_keys(previous)

    def clean_state(self) -> None:
        self._lifecycle.clean_state()

    def asdict(self) -> Dict[str, Any]:
        rv = super().asdict()
        rv.update({LAST_FLOW_PROP: str(self.get_last_flow())})
        return rv

    def get_previous_keys(self):
        """The keys the back path would give now (the original always returns None)."""
        return self.get_previous_or_current_keys()
