from tresor._tresor import (
    KeyRingIdentifier as KeyRingIdentifier,
    get_secret as get_secret,
    invalidate_secret as invalidate_secret,
    set_secret as set_secret,
)

__all__ = ["set_secret", "get_secret", "invalidate_secret", "KeyRingIdentifier"]
