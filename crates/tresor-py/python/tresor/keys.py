"""tresor's versioned keys and transit-style encryption, on a vault's store.

>>> from tresor import keys, vault
>>> k = keys.Keys(vault.open())                    # doctest: +SKIP
>>> k.create("orders")                             # doctest: +SKIP
1
>>> ct = k.encrypt("orders", b"card 4242", b"order-17")  # 'tresor:orders:v1:...'  # doctest: +SKIP
>>> k.rotate("orders")                             # doctest: +SKIP
2
>>> k.decrypt(ct, b"order-17")                     # old versions still decrypt  # doctest: +SKIP
b'card 4242'
>>> k.rewrap(ct, b"order-17")                      # now under v2  # doctest: +SKIP

Ciphertexts name their key and version; a wrong ``aad``, key or a tampered ciphertext
raises ``tresor.errors.DecryptionError`` (a ``ValueError``). Every call runs with the
interpreter released.
"""

from ._tresor import Keys

__all__ = ["Keys"]
