"""tresor from Python.

Modules:

- ``tresor.keyring``: secrets in the Linux kernel keyrings (any size the kernel allows).
- ``tresor.vault``: the developer vault (``open()``, ``get("app:env:KEY")``, ``list``,
  ``add``, ``env``).
- ``tresor.seeqret``: ``seeqret.get(key, app, env)``'s call shape on the tresor vault.
- ``tresor.keys``: versioned keys and transit encrypt/decrypt/rewrap/sign/verify
  (``Keys(vault)``).
- ``tresor.kmip``: ``ProxyKmipClient`` with PyKMIP's interface on tresor's Rust KMIP client.
- ``tresor.errors``: the exception classes (each also a subclass of the built-in its
  original library raised: ``KeyError``, ``ValueError``, ``OSError``...).

Drop-ins shipped in the same wheel, importable under the originals' names:
``python_linux_keyutils``, ``keys_management`` (with ``keys_management.tresor``: its
CryptoTool and StateRepoInterface on tresor keys and the vault).
"""

from . import errors
from ._tresor import __version__
from .errors import TresorError

__all__ = ["TresorError", "errors", "__version__"]
