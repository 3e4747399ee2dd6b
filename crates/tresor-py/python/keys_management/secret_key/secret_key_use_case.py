"""``SecretKeyFlow`` and ``SecretKeyUseCase`` (same members and aliases)."""

from __future__ import annotations

from enum import Enum

from ..consts import BACK_PATH_FLOW_STATE, FORWARD_PATH_FLOW_STATE
from .errors import InvalidFlowNameError


class SecretKeyFlow(Enum):
    """Which path a key is fetched for. ``AUTHENTICATION`` is ``DEFAULT``, ``ENCRYPTION``
    is ``FORWARD_PATH``, ``DECRYPTION`` is ``BACK_PATH``."""

    DEFAULT = 1
    AUTHENTICATION = 1
    FORWARD_PATH = 2
    BACK_PATH = 3
    ENCRYPTION = 2
    DECRYPTION = 3

    @staticmethod
    def get(str_val) -> "SecretKeyFlow":
        """The flow named ``str_val`` (``"forward"``, ``"back"`` or a member name, any case);
        a ``SecretKeyFlow`` is returned as is."""
        if isinstance(str_val, SecretKeyFlow):
            return str_val
        if str_val == FORWARD_PATH_FLOW_STATE:
            return SecretKeyFlow.FORWARD_PATH
        if str_val == BACK_PATH_FLOW_STATE:
            return SecretKeyFlow.BACK_PATH
        try:
            return SecretKeyFlow[str(str_val).upper()]
        except KeyError:
            raise InvalidFlowNameError(str_val) from None


class SecretKeyUseCase(Enum):
    """``ROUND_TRIP`` (alias ``ENCRYPTION_DECRYPTION``): forward and back paths;
    ``ONE_WAY_TRIP``: one flow (``DEFAULT``)."""

    ROUND_TRIP = 1
    ONE_WAY_TRIP = 2
    ENCRYPTION_DECRYPTION = 1
