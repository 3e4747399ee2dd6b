"""Secrets in the Linux kernel keyrings.

``ring`` is one of ``thread``, ``process``, ``session``, ``user`` (the default: it works
in every process of the user), ``user-session``, or ``@name`` for a keyring named
``name`` linked into the user keyring (created by :func:`set` when missing). Values are
1 to 32,767 bytes (the kernel's limit for ``user`` keys); every size reads back whole.

>>> from tresor import keyring
>>> keyring.set("doc-example", b"hunter2", timeout=60)  # doctest: +SKIP
>>> keyring.get("doc-example")                          # doctest: +SKIP
b'hunter2'
"""

from typing import Optional

from ._tresor import keyring_get, keyring_invalidate, keyring_set

__all__ = ["set", "get", "invalidate"]


def set(  # noqa: A001 - the module's verbs
    name: str,
    value: bytes,
    ring: str = "user",
    *,
    mode: str = "always",
    timeout: Optional[float] = None,
) -> int:
    """Stores ``value`` under ``name`` in ``ring``; returns the key's serial number.

    ``mode``: ``always`` (create or replace), ``if-missing`` (AlreadyExistsError if the
    key exists), ``never`` (NotFoundError if it does not). ``timeout``: seconds until the
    kernel expires the key.
    """
    return keyring_set(name, value, ring, mode=mode, timeout=timeout)


def get(name: str, ring: str = "user") -> bytes:
    """Returns the value of key ``name`` in ``ring``; NotFoundError (a KeyError) if none."""
    return keyring_get(name, ring)


def invalidate(name: str, ring: str = "user") -> None:
    """Deletes key ``name`` from ``ring``; NotFoundError (a KeyError) if none."""
    keyring_invalidate(name, ring)
