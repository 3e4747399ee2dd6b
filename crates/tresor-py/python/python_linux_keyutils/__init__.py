"""Drop-in for ``python_linux_keyutils`` (0.2.1), shipped in the ``tresor`` wheel.

Same functions, signatures, ``KeyRingIdentifier`` and exception types as the original;
backed by tresor-keyring. Differences (the original's bugs and gaps, fixed):

- any value size the kernel allows (1 to 32,767 bytes) reads back whole; the original
  panics (``PanicException``) reading values over 2,048 bytes;
- every exception carries ``errno`` and a message naming the keyring and the key;
- the exceptions are ``tresor.errors`` classes, subclasses of the original's
  ``KeyError``/``ValueError``/``OSError``/``MemoryError``/``RuntimeError``.

Do not install both this wheel and the original ``python-linux-keyutils`` in one
environment: whichever is installed last owns the import name.
"""

from tresor._tresor import KeyRingIdentifier, get_secret, invalidate_secret, set_secret

__all__ = ["set_secret", "get_secret", "invalidate_secret", "KeyRingIdentifier"]
