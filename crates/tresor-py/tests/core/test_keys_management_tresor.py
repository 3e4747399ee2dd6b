"""keys_management's dependencies on tresor (keys_management.tresor): a stated key's state
encrypted under a tresor key and kept in a tresor vault survives a restart and a rotation."""

import pytest

from keys_management import KeysManagementImpl, SecretKeyUseCase
from keys_management.tresor import TresorCryptoTool, TresorStateRepo
from tresor import errors, keys, vault


def test_state_round_trips_through_tresor(tmp_path):
    v = vault.init(tmp_path / "v")
    k = keys.Keys(v)
    repo = TresorStateRepo(v)
    km = KeysManagementImpl(repo, TresorCryptoTool(k, "km-states"))
    km.define_key("orders", lambda: b"\x00old-key", SecretKeyUseCase.ROUND_TRIP, False, True)
    assert km.get_key("orders") == b"\x00old-key"
    km.save_states()
    stored = v.get("keys-management:states:orders")
    assert stored.startswith("tresor:km-states:v1:")
    assert "old-key" not in stored
    # The tresor key rotates; a fresh manager still restores the state saved under v1.
    assert k.rotate("km-states") == 2
    km2 = KeysManagementImpl(repo, TresorCryptoTool(keys.Keys(v), "km-states"))
    km2.define_key("orders", lambda: b"new-key", SecretKeyUseCase.ROUND_TRIP, False, True)
    assert km2.get_key("orders") == b"\x00old-key"
    assert km2.get_key("orders") == b"new-key"


def test_tampered_state_is_refused(tmp_path):
    v = vault.init(tmp_path / "v")
    tool = TresorCryptoTool(keys.Keys(v), "km-states")
    sealed = tool.encrypt({"state": None})
    with pytest.raises(errors.DecryptionError):
        tool.decrypt(sealed[:-4] + ("AAAA" if not sealed.endswith("AAAA") else "BBBB"))
