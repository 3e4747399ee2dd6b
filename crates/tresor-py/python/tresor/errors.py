"""tresor's exceptions: one class per error kind.

Every class subclasses :class:`TresorError` *and* the built-in exception the library
tresor replaces raised for that case, so ``except KeyError:`` keeps working after
switching. Each carries ``errno`` (the system call's error number, or ``None``) and a
message with the whole cause chain.
"""

import os
from typing import Optional

__all__ = [
    "TresorError",
    "NotFoundError",
    "InvalidArgumentError",
    "AlreadyExistsError",
    "PermissionDeniedError",
    "QuotaExceededError",
    "OutOfMemoryError",
    "NotSupportedError",
    "SystemCallError",
    "SecretNotFoundError",
    "VaultNotFoundError",
    "VaultLockedError",
    "VaultError",
    "DecryptionError",
    "KmipConnectionError",
    "KmipProtocolError",
    "KmipOperationFailure",
]


class TresorError(Exception):
    """Base class of every tresor error. ``errno``: the system call's error number or None."""

    errno: Optional[int]

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.errno = None

    def __str__(self) -> str:
        # KeyError would show repr(message); show the message itself.
        return str(self.args[0]) if self.args else ""


class NotFoundError(TresorError, KeyError):
    """No such key or keyring, or it expired or was revoked (``KeyError``)."""


class InvalidArgumentError(TresorError, ValueError):
    """A name, value or option that cannot be used (``ValueError``)."""


class AlreadyExistsError(TresorError, ValueError):
    """Asked to create something that exists already (``ValueError``)."""


class PermissionDeniedError(TresorError, PermissionError):
    """The kernel or the store refused access (``PermissionError``, an ``OSError``)."""


class QuotaExceededError(TresorError, OSError):
    """The kernel's key quota is used up (``OSError``, errno ``EDQUOT``)."""


class OutOfMemoryError(TresorError, MemoryError):
    """The kernel could not allocate memory (``MemoryError``)."""


class NotSupportedError(TresorError, RuntimeError):
    """The operation is not supported here (``RuntimeError``)."""


class SystemCallError(TresorError, OSError):
    """Any other failed system call (``OSError``, with ``errno``)."""


class SecretNotFoundError(NotFoundError, IndexError):
    """No secret matches (``KeyError``; also ``IndexError``, which ``seeqret.get`` raised)."""


class VaultNotFoundError(TresorError, FileNotFoundError):
    """No vault (or no key file) at that folder (``FileNotFoundError``)."""


class VaultLockedError(TresorError, PermissionError):
    """The vault needs a passphrase and none (or a wrong one) was given (``PermissionError``)."""


class VaultError(TresorError, RuntimeError):
    """The vault's store or cryptography failed (``RuntimeError``)."""


class DecryptionError(TresorError, ValueError):
    """Wrong key, wrong associated data or a tampered ciphertext (``ValueError``)."""


class KmipConnectionError(TresorError, ConnectionError):
    """No KMIP connection: connect, TLS handshake, read or timeout failed (``ConnectionError``;
    PyKMIP's ``ClientConnectionFailure``)."""


class KmipProtocolError(TresorError, RuntimeError):
    """The KMIP server's answer could not be read (``RuntimeError``)."""


class KmipOperationFailure(TresorError, RuntimeError):
    """The KMIP server answered an operation with a failure: ``status``, ``reason`` (PyKMIP's
    ``ResultStatus``/``ResultReason`` enums) and ``message``, as PyKMIP's
    ``KmipOperationFailure``."""

    def __init__(self, status, reason, message) -> None:
        super().__init__(f"{getattr(status, 'name', status)}: {getattr(reason, 'name', reason)} - {message}")
        self.status = status
        self.reason = reason
        self.message = message


def _make(class_name: str, message: str, errno: Optional[int]) -> TresorError:
    """Called from Rust: builds the exception ``class_name`` with ``message`` and ``errno``."""
    cls = globals()[class_name]
    exc = cls(message)
    exc.errno = errno
    if errno is not None and isinstance(exc, OSError):
        exc.strerror = os.strerror(errno)
    return exc
