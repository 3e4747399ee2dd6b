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


def test_lifecycle_state_lives_in_rust():
    """The drop-in is backed by tresor-keys: a defined key's state (last flow, the keys a
    back path gives) is held by the Rust lifecycle, not by Python attributes, and the
    callbacks' error strategies are decided there."""
    from keys_management import KeyChangedError, OnKeyChangedCallbackErrorStrategy
    from tresor import _tresor

    values = iter(["value-one-1111", "value-two-2222"])
    km = KeysManagementImpl()
    km.define_key("k", lambda: next(values), SecretKeyUseCase.ROUND_TRIP, True, True,
                  OnKeyChangedCallbackErrorStrategy.SKIP_AND_RAISE)
    d = km._keys_definitions["k"]
    assert isinstance(d._lifecycle, _tresor.KeyLifecycle)
    assert km.get_key("k") == "value-one-1111"
    assert d._lifecycle.last_flow == "FORWARD_PATH"
    assert d._lifecycle.previous == ("value-one-1111", "value-one-1111")
    # No Python attribute holds the value, and the core's repr does not show it.
    assert "value-one" not in repr(vars(d)) and "value-one" not in repr(d._lifecycle)
    assert km.get_key("k") == "value-one-1111"  # the back path, from the Rust state
    assert km.get_key("k") == "value-two-2222"

    ran = []

    def bad(old, new, ctx):
        ran.append("bad")
        raise ValueError("boom")

    km.register_on_change("k", bad)
    km.register_on_change("k", lambda o, n, c: ran.append("good"))
    with pytest.raises(KeyChangedError) as e:
        km.key_changed("k", "value-two-2222", "value-3")
    assert ran == ["bad", "good"] and isinstance(e.value.__cause__, ValueError)
    # A flow the key does not have is refused by the core, as GetKeyError.
    from keys_management import GetKeyError, SecretKeyFlow
    with pytest.raises(GetKeyError, match="ROUND_TRIP key has FORWARD_PATH and BACK_PATH"):
        km.get_key("k", SecretKeyFlow.DEFAULT)
