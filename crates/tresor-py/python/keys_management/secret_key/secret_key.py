"""Key values and pairs: the real value on demand, censored in ``str()``."""

from __future__ import annotations

from math import floor
from typing import Optional, Union

from .errors import SecretKeyInitError, SecretKeyPairInitError


class SecretKeyValue:
    """One key value (``str`` or ``bytes``); ``str()`` gives it censored."""

    __slots__ = ("_val",)

    def __init__(self, secret_key_value):
        if isinstance(secret_key_value, (str, bytes)):
            self._val = secret_key_value
        else:
            raise SecretKeyInitError(secret_key_value)

    def __str__(self) -> str:
        return self.censor_key()

    def __repr__(self) -> str:
        return f"SecretKeyValue({self.censor_key()!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, SecretKeyValue) and other._val == self._val

    __hash__ = None  # type: ignore[assignment]

    def get_value(self):
        """The value itself."""
        return self._val

    def censor_key(self) -> str:
        """At most a quarter (and at most 4 characters) at each end shown, ``*`` between."""
        s = str(self._val)
        n = len(s)
        shown = min(4, floor(n / 4))
        return s[0:shown] + "*" * (n - 2 * shown) + s[n - shown :]


class SecretKeyPair:
    """A (forward path, back path) pair; a single value means both."""

    def __init__(self, value_or_values):
        if isinstance(value_or_values, (str, bytes)):
            fwd = back = value_or_values
        elif isinstance(value_or_values, tuple) and len(value_or_values) == 2:
            fwd, back = value_or_values
        else:
            raise SecretKeyPairInitError(value_or_values)
        self._forward_path_key = SecretKeyValue(fwd)
        self._back_path_key = SecretKeyValue(back)
        self._is_symmetric = fwd == back

    def __str__(self) -> str:
        if self._is_symmetric:
            return '"%s"' % str(self._back_path_key)
        return 'encrypt: "{}", decrypt: "{}"'.format(self._forward_path_key, self._back_path_key)

    __repr__ = __str__

    def __eq__(self, other) -> bool:
        return (
            isinstance(other, SecretKeyPair)
            and other._forward_path_key == self._forward_path_key
            and other._back_path_key == self._back_path_key
        )

    __hash__ = None  # type: ignore[assignment]

    def is_symmetric(self) -> bool:
        return self._is_symmetric

    def is_asymmetric(self) -> bool:
        return not self._is_symmetric

    @property
    def back_path_key(self) -> SecretKeyValue:
        return self._back_path_key

    @property
    def forward_key(self) -> SecretKeyValue:
        return self._forward_path_key


class SecretKeyFactory:
    """Builds a ``SecretKeyValue`` from a value or a ``SecretKeyPair`` from a tuple."""

    @staticmethod
    def create(value_or_values) -> Optional[Union[SecretKeyValue, SecretKeyPair]]:
        if value_or_values is None:
            return None
        if isinstance(value_or_values, (str, bytes)):
            return SecretKeyValue(value_or_values)
        if isinstance(value_or_values, tuple):
            return SecretKeyPair(value_or_values)
        raise SecretKeyPairInitError(value_or_values)

    def __call__(self, value_or_values):
        return self.create(value_or_values)
