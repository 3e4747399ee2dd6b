"""Running on-change callbacks under a key's error strategy."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any, Callable, Dict

from tresor import _tresor as _native

from .errors import KeyChangedError, OnKeyChangedCallbackErrorStrategy
from .on_change_key_definition import OnChangeKeyDefinition

logger = logging.getLogger(__name__)

#: ``fn(old_keys, new_keys, on_change_key_definition)``
KeyChangedCallback = Callable[[Any, Any, OnChangeKeyDefinition], None]


class CallbackStatus(Enum):
    """Where a callback's run stands."""

    PENDING = 0
    IN_PROGRESS = 1
    FAILED = 2
    SUCCEEDED = 3


class KeyChangedContext:
    """One ``key_changed`` run: each callback's name, status and, if it failed, its error
    (``context[callback_name]["error"]``)."""

    def __init__(self, key_definition, on_error_strategy, old_keys, new_keys, synchronizer):
        self._key_name = key_definition.name
        self._on_change_key_definition = OnChangeKeyDefinition(key_definition)
        self._on_key_changed_callback_error_strategy = (
            key_definition.on_key_changed_callback_error_strategy
        )
        self._strategy_function = on_error_strategy
        self._callbacks: Dict[str, Dict[str, Any]] = {
            name: {"name": name, "callback": cb, "status": CallbackStatus.PENDING}
            for name, cb in key_definition.on_change_callbacks.items()
        }
        self._old_keys = old_keys
        self._new_keys = new_keys
        self._has_error = False
        self._synchronizer = synchronizer

    def __getitem__(self, item: str) -> Any:
        return self._callbacks[item]

    def __contains__(self, item: str) -> bool:
        return item in self._callbacks

    def __iter__(self):
        return iter(self._callbacks)

    def run_callbacks(self) -> None:
        """Runs every callback in registration order; on a failure the key's strategy,
        applied by tresor's Rust core (``tresor._tresor.km_run_callbacks``, tresor-keys'
        ``lifecycle::run_callbacks``), decides whether the run goes on, stops, or raises
        ``KeyChangedError`` (the callback's error chained)."""
        fatal = []

        def run(name: str) -> None:
            ctx = self._callbacks[name]
            logger.info('Going to execute the callback "%s"', name)
            ctx["status"] = CallbackStatus.IN_PROGRESS
            try:
                with self._synchronizer.write():
                    ctx["callback"](self._old_keys, self._new_keys, self._on_change_key_definition)
            except Exception as e:  # noqa: BLE001 - the strategy decides
                self._has_error = True
                ctx["status"] = CallbackStatus.FAILED
                ctx["error"] = e
                self._strategy_function(self._key_name, name, self)
                raise
            except BaseException as e:  # KeyboardInterrupt, SystemExit: not the callback's failure
                fatal.append(e)
                raise
            ctx["status"] = CallbackStatus.SUCCEEDED

        outcome, at, _statuses = _native.km_run_callbacks(
            self._on_key_changed_callback_error_strategy.name, list(self._callbacks), run
        )
        if fatal:
            raise fatal[0]
        if outcome == "raise":
            raise KeyChangedError(self._key_name, self) from self._callbacks[at]["error"]
