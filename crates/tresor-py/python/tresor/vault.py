"""The tresor developer vault: secrets named ``app:env:KEY``.

>>> from tresor import vault
>>> v = vault.open()                          # $TRESOR_VAULT or ~/.local/share/tresor
>>> v.get("myapp:dev:DB_PASSWORD")            # one indexed read  # doctest: +SKIP
'hunter2'
>>> [s["name"] for s in v.list(":dev:DB_*")]  # seeqret filter strings  # doctest: +SKIP
['myapp:dev:DB_PASSWORD']
>>> v.add("myapp", "dev", "API_KEY", "s3cret")  # doctest: +SKIP
1
>>> v.env("env.template", output=".env")      # seeqret's env.template  # doctest: +SKIP
{'DB_PASSWORD': 'hunter2'}

Every read, write and listing runs with the interpreter released. Errors are
``tresor.errors`` classes: ``SecretNotFoundError`` (a ``KeyError``),
``VaultNotFoundError`` (a ``FileNotFoundError``), ``VaultLockedError``
(a ``PermissionError``), ``AlreadyExistsError`` and ``InvalidArgumentError``
(``ValueError``s), ``VaultError`` (a ``RuntimeError``).
"""

import os
from typing import Optional, Union

from ._tresor import Vault, vault_init, vault_open

__all__ = ["Vault", "open", "init"]

PathLike = Union[str, "os.PathLike[str]"]


def open(  # noqa: A001 - the module's verb, as in seeqret
    path: Optional[PathLike] = None, passphrase: Optional[str] = None, *, cache: bool = False
) -> Vault:
    """Opens the vault at ``path`` (default ``$TRESOR_VAULT``, else ``~/.local/share/tresor``).

    A passphrase-protected vault takes ``passphrase``, else ``$TRESOR_PASSPHRASE``.
    ``cache=True`` keeps values in memory after the first read (repeated ``get``) until
    the next write to the vault by any process (checked on each ``get``: two system calls,
    not a database read). A vault on PostgreSQL or S3 keeps nothing (no local way to see
    another process's write).
    """
    return vault_open(path, passphrase, cache=cache)


def init(
    path: PathLike,
    passphrase: Optional[str] = None,
    *,
    user: Optional[str] = None,
    email: Optional[str] = None,
    store: Optional[str] = None,
) -> Vault:
    """Creates a new vault at ``path`` (refuses an existing one) and returns it open.

    ``store``: keep the objects elsewhere, e.g. ``s3://bucket/prefix`` (AWS settings from
    the usual ``AWS_*`` variables) or ``postgres://...``; the key stays in ``path``.
    """
    return vault_init(path, passphrase, user=user, email=email, store=store)
