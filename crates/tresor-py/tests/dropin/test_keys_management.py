"""keys_management, as keys-management 0.1.5 documents and behaves (README, docstrings).

Run twice by the test command: against the original from PyPI (TRESOR_PY_IMPL=original)
and against tresor's drop-in (TRESOR_PY_IMPL=tresor). Tests marked ``original_bug`` are
the original's bugs: strict xfail there, must pass on tresor.
"""

import logging
import threading

import pytest

import keys_management
from keys_management import (
    BaseSecretKeyDefinition,
    CryptoTool,
    GetKeyError,
    KeyChangedError,
    KeyIsNotDefinedError,
    KeysManagementError,
    KeysManagementImpl,
    OnChangeKeyDefinition,
    OnKeyChangedCallbackErrorStrategy,
    SecretKeyDefinitionInitError,
    SecretKeyFlow,
    SecretKeyUseCase,
    StateRepoInterface,
)
from keys_management.consts import (
    BACK_PATH_FLOW_STATE,
    FORWARD_PATH_FLOW_STATE,
    KEY,
    STATE,
)
from keys_management.errors import FetchAndSetStateFromRepoError, InvalidKeyStateError

RT = SecretKeyUseCase.ROUND_TRIP
OW = SecretKeyUseCase.ONE_WAY_TRIP
S = OnKeyChangedCallbackErrorStrategy


class DictRepo(StateRepoInterface):
    """A state repo in a dict; ``read_state`` of an unsaved key returns None."""

    def __init__(self):
        self.states = {}
        self.writes = []

    def write_state(self, key, key_state):
        self.writes.append(key)
        self.states[key] = key_state

    def read_state(self, key):
        return self.states.get(key)


class Identity(CryptoTool):
    def encrypt(self, data):
        return dict(data)

    def decrypt(self, encrypted_data):
        return None if encrypted_data is None else dict(encrypted_data)


class Store:
    """A keys store whose value the test changes (as the README's example)."""

    def __init__(self, value):
        self.value = value
        self.calls = 0

    def __call__(self):
        self.calls += 1
        return self.value


@pytest.fixture
def km():
    return KeysManagementImpl(DictRepo(), Identity())


# -- the README's General Usage, line by line ----------------------------------------


def test_readme_general_usage():
    store = Store("value_1")
    calls = []

    def on_keys_change(old_key, new_key, on_change_key_definition):
        calls.append(("key_changed from {} to {}.".format(old_key, new_key), on_change_key_definition))

    km = KeysManagementImpl(state_repo=DictRepo(), crypto_tool=Identity())
    km.define_key("my_first_key", store, stateless=True, use_case=RT, keep_in_cache=True)
    km.register_on_change("my_first_key", on_keys_change)
    assert km.get_forward_path_key("my_first_key") == "value_1"
    km.key_changed("my_first_key", "value_1", "value_2")
    store.value = "value_2"
    assert km.get_back_path_key("my_first_key") == "value_1"
    assert [c[0] for c in calls] == ["key_changed from value_1 to value_2."]
    assert isinstance(calls[0][1], OnChangeKeyDefinition)
    assert calls[0][1].name == "my_first_key"
    assert km.get_forward_path_key("my_first_key") == "value_2"


def test_define_key_positional_arguments_and_chaining(km):
    out = km.define_key("k", lambda: b"\x00key", RT, True, False, S.SKIP)
    assert out is km
    assert km.get_encrypt_key("k") == b"\x00key"
    assert km.get_decrypt_key("k") == b"\x00key"


# -- flows ---------------------------------------------------------------------------


def test_round_trip_get_key_alternates_forward_then_back(km):
    store = Store("v1")
    km.define_key("k", store, RT, True, True)
    assert km.get_key("k") == "v1"  # forward
    store.value = "v2"
    assert km.get_key("k") == "v1"  # back: the key the forward path gave
    assert km.get_key("k") == "v2"  # forward again, fresh from the store


def test_asymmetric_pair_forward_and_back_keys(km):
    km.define_key("k", lambda: ("public-enc", "private-dec"), RT, True, True)
    assert km.get_forward_path_key("k") == "public-enc"
    assert km.get_back_path_key("k") == "private-dec"


def test_back_path_first_reads_the_store(km):
    km.define_key("k", lambda: ("e", "d"), RT, True, True)
    assert km.get_back_path_key("k") == "d"


def test_keep_in_cache_false_drops_the_old_key_after_back_path(km):
    store = Store("v1")
    km.define_key("k", store, RT, True, False)
    assert km.get_forward_path_key("k") == "v1"
    store.value = "v2"
    assert km.get_back_path_key("k") == "v1"
    # The cache was cleaned: the next back path goes to the store.
    assert km.get_back_path_key("k") == "v2"


def test_keep_in_cache_true_keeps_the_key_for_repeated_back_paths(km):
    store = Store("v1")
    km.define_key("k", store, RT, True, True)
    km.get_forward_path_key("k")
    store.value = "v2"
    assert km.get_back_path_key("k") == "v1"
    assert km.get_back_path_key("k") == "v1"


def test_one_way_key_reads_the_store_every_time(km):
    store = Store("token-1")
    km.define_key("auth", store, OW, True, True)
    assert km.get_key("auth") == "token-1"
    store.value = "token-2"
    assert km.get_key("auth") == "token-2"
    assert km.get_key("auth", SecretKeyFlow.DEFAULT) == "token-2"
    assert store.calls == 3


@pytest.mark.original_bug("builds GetKeyError for a one-way key's forward path and forgets to raise it")
def test_one_way_key_has_no_forward_path(km):
    km.define_key("auth", lambda: "token", OW, True, True)
    with pytest.raises(GetKeyError):
        km.get_forward_path_key("auth")


def test_flow_and_use_case_aliases():
    assert SecretKeyFlow.ENCRYPTION is SecretKeyFlow.FORWARD_PATH
    assert SecretKeyFlow.DECRYPTION is SecretKeyFlow.BACK_PATH
    assert SecretKeyFlow.AUTHENTICATION is SecretKeyFlow.DEFAULT
    assert SecretKeyUseCase.ENCRYPTION_DECRYPTION is SecretKeyUseCase.ROUND_TRIP
    assert [m.name for m in SecretKeyFlow] == ["DEFAULT", "FORWARD_PATH", "BACK_PATH"]
    assert SecretKeyFlow.get(FORWARD_PATH_FLOW_STATE) is SecretKeyFlow.FORWARD_PATH
    assert SecretKeyFlow.get(BACK_PATH_FLOW_STATE) is SecretKeyFlow.BACK_PATH
    assert SecretKeyFlow.get("default") is SecretKeyFlow.DEFAULT
    with pytest.raises(keys_management.InvalidFlowNameError):
        SecretKeyFlow.get("sideways")


def test_strategy_members():
    assert [m.name for m in OnKeyChangedCallbackErrorStrategy] == [
        "RAISE_IMMEDIATELY",
        "SKIP_AND_RAISE",
        "SKIP",
        "HALT",
    ]


# -- key_changed and the error strategies --------------------------------------------


def _define_with_callbacks(km, strategy, fail_at):
    ran = []

    def make(i):
        def cb(old, new, ctx):
            ran.append(i)
            if i == fail_at:
                raise ValueError(f"callback {i} failed")

        return cb

    if strategy is None:
        km.define_key("k", lambda: "v", RT, True, True)
    else:
        km.define_key("k", lambda: "v", RT, True, True, strategy)
    for i in range(3):
        km.register_on_change("k", make(i))
    return ran


def test_callbacks_run_in_registration_order_with_old_new_context(km):
    seen = []
    km.define_key("k", lambda: "v", RT, True, True)
    km.register_on_change("k", lambda o, n, c: seen.append(("a", o, n, c.name)))
    km.register_on_change("k", lambda o, n, c: seen.append(("b", o, n, c.name)), "named")
    km.key_changed("k", ("e1", "d1"), ("e2", "d2"))
    assert seen == [("a", ("e1", "d1"), ("e2", "d2"), "k"), ("b", ("e1", "d1"), ("e2", "d2"), "k")]


def test_same_callback_name_replaces(km):
    seen = []
    km.define_key("k", lambda: "v", RT, True, True)
    km.register_on_change("k", lambda o, n, c: seen.append(1), "cb")
    km.register_on_change("k", lambda o, n, c: seen.append(2), "cb")
    km.key_changed("k", "a", "b")
    assert seen == [2]


def test_halt_is_the_default_and_stops_silently(km, caplog):
    ran = _define_with_callbacks(km, None, fail_at=1)
    with caplog.at_level(logging.ERROR):
        km.key_changed("k", "a", "b")
    assert ran == [0, 1]
    assert "callback 1 failed" in caplog.text


def test_halt_explicit(km):
    ran = _define_with_callbacks(km, S.HALT, fail_at=0)
    km.key_changed("k", "a", "b")
    assert ran == [0]


def test_skip_runs_the_rest_without_raising(km):
    ran = _define_with_callbacks(km, S.SKIP, fail_at=0)
    km.key_changed("k", "a", "b")
    assert ran == [0, 1, 2]


def test_skip_and_raise_runs_the_rest_then_raises(km):
    ran = _define_with_callbacks(km, S.SKIP_AND_RAISE, fail_at=0)
    with pytest.raises(KeyChangedError) as e:
        km.key_changed("k", "a", "b")
    assert ran == [0, 1, 2]
    assert str(e.value) == "KeyChangedError: key_name is 'k'"


def test_raise_immediately_stops_and_raises(km):
    ran = _define_with_callbacks(km, S.RAISE_IMMEDIATELY, fail_at=1)
    with pytest.raises(KeyChangedError) as e:
        km.key_changed("k", "a", "b")
    assert ran == [0, 1]
    ctx = e.value.args[1]
    assert isinstance(ctx["k_callback_2"]["error"], ValueError)


def test_callback_can_change_the_key_state_through_its_context(km):
    store = Store("v1")
    km.define_key("k", store, RT, True, True)

    def reset(old, new, ctx):
        ctx.set_last_flow(SecretKeyFlow.BACK_PATH)

    km.register_on_change("k", reset)
    km.get_forward_path_key("k")
    km.key_changed("k", "v1", "v2")
    store.value = "v2"
    # The last flow is BACK_PATH now, so get_key() goes forward.
    assert km.get_key("k") == "v2"


@pytest.mark.original_bug("OnChangeKeyDefinition.is_stated() answers the opposite")
def test_on_change_definition_is_stated(km):
    seen = []
    km.define_key("stated", lambda: "v", RT, False, True)
    km.define_key("stateless", lambda: "v", RT, True, True)
    for name in ("stated", "stateless"):
        km.register_on_change(name, lambda o, n, c: seen.append((c.name, c.is_stated(), c.is_stateless())))
        km.key_changed(name, "a", "b")
    assert seen == [("stated", True, False), ("stateless", False, True)]


@pytest.mark.original_bug("OnChangeKeyDefinition.get_previous_keys() is always None")
def test_on_change_definition_previous_keys(km):
    seen = []
    store = Store("v1")
    km.define_key("k", store, RT, True, True)
    km.register_on_change("k", lambda o, n, c: seen.append(c.get_previous_keys()))
    km.get_forward_path_key("k")
    km.key_changed("k", "v1", "v2")
    assert seen[0] is not None
    assert seen[0].back_path_key.get_value() == "v1"


# -- states --------------------------------------------------------------------------


def test_save_states_writes_stated_keys_only():
    repo = DictRepo()
    km = KeysManagementImpl(repo, Identity())
    km.define_key("stated", lambda: "secret", RT, False, True)
    km.define_key("stateless", lambda: "other", RT, True, True)
    km.get_forward_path_key("stated")
    km.get_forward_path_key("stateless")
    km.save_states()
    assert repo.writes == ["stated"]
    state = repo.states["stated"]
    assert state[STATE] == SecretKeyFlow.FORWARD_PATH
    assert state[KEY] == "secret"


def test_state_goes_through_the_crypto_tool():
    repo = DictRepo()

    class Tagging(CryptoTool):
        def encrypt(self, data):
            return ("sealed", dict(data))

        def decrypt(self, encrypted_data):
            assert encrypted_data[0] == "sealed"
            return encrypted_data[1]

    km = KeysManagementImpl(repo, Tagging())
    km.define_key("k", lambda: "secret", RT, False, True)
    km.get_forward_path_key("k")
    km.save_states()
    assert repo.states["k"][0] == "sealed"


@pytest.mark.original_bug("saves the flow as an enum, then cannot parse it back (GetKeyError)")
def test_fresh_manager_restores_saved_state():
    repo = DictRepo()
    km = KeysManagementImpl(repo, Identity())
    km.define_key("k", lambda: "old", RT, False, True)
    assert km.get_forward_path_key("k") == "old"
    km.save_states()
    # The process restarts and the key changed meanwhile: data encrypted with "old"
    # must still decrypt.
    km2 = KeysManagementImpl(repo, Identity())
    km2.define_key("k", lambda: "new", RT, False, True)
    assert km2.get_key("k") == "old"  # last flow was forward: back path, the saved key
    assert km2.get_key("k") == "new"


@pytest.mark.original_bug("a stated key with no saved state yet cannot be used by get_key()")
def test_stated_key_first_use_without_saved_state(km):
    km.define_key("k", lambda: "v", RT, False, True)
    assert km.get_key("k") == "v"


@pytest.mark.original_bug("save_state fetches the back path key through get_key, changing the flow")
def test_save_state_does_not_change_the_flow(km):
    store = Store("v1")
    km.define_key("k", store, RT, False, True)
    assert km.get_key("k") == "v1"  # forward
    km.save_states()
    store.value = "v2"
    assert km.get_key("k") == "v1"  # still the back path


def test_unreadable_state_raises_get_key_error_with_cause():
    class Broken(DictRepo):
        def read_state(self, key):
            raise OSError("repo down")

    km = KeysManagementImpl(Broken(), Identity())
    km.define_key("k", lambda: "v", RT, False, True)
    with pytest.raises(GetKeyError) as e:
        km.get_key("k")
    assert isinstance(e.value.__cause__, FetchAndSetStateFromRepoError)


def test_invalid_saved_flow_is_invalid_key_state():
    repo = DictRepo()
    repo.states["k"] = {STATE: "sideways"}
    km = KeysManagementImpl(repo, Identity())
    km.define_key("k", lambda: "v", RT, False, True)
    with pytest.raises(GetKeyError) as e:
        km.get_key("k")
    assert isinstance(e.value.__cause__, InvalidKeyStateError)


def test_string_saved_state_restores():
    repo = DictRepo()
    repo.states["k"] = {STATE: FORWARD_PATH_FLOW_STATE, KEY: "old"}
    km = KeysManagementImpl(repo, Identity())
    km.define_key("k", lambda: "new", RT, False, True)
    assert km.get_key("k") == "old"


# -- errors and validation -----------------------------------------------------------


def test_exception_hierarchy():
    for cls in (
        GetKeyError,
        KeyChangedError,
        KeyIsNotDefinedError,
        FetchAndSetStateFromRepoError,
        InvalidKeyStateError,
        SecretKeyDefinitionInitError,
        keys_management.InvalidFlowNameError,
        keys_management.OnChangeKeyDefinitionInitError,
    ):
        assert issubclass(cls, KeysManagementError)
    assert issubclass(KeysManagementError, RuntimeError)


def test_undefined_key_errors(km):
    with pytest.raises(GetKeyError) as e:
        km.get_key("nope")
    assert isinstance(e.value.__cause__, KeyIsNotDefinedError)
    assert str(e.value.__cause__) == "KeyIsNotDefinedError: key_name is 'nope'"
    with pytest.raises(KeyChangedError) as e:
        km.key_changed("nope", "a", "b")
    assert str(e.value) == "KeyChangedError: key_name is 'nope'"
    with pytest.raises(KeyIsNotDefinedError):
        km.register_on_change("nope", lambda o, n, c: None)


def test_store_errors_are_get_key_errors_with_cause(km):
    def broken():
        raise ConnectionError("vault down")

    km.define_key("k", broken, RT, True, True)
    with pytest.raises(GetKeyError) as e:
        km.get_forward_path_key("k")
    assert isinstance(e.value.__cause__, ConnectionError)
    assert str(e.value).startswith("failed to get key for k")


def test_store_returning_a_non_key_is_a_get_key_error(km):
    km.define_key("k", lambda: 42, RT, True, True)
    with pytest.raises(GetKeyError):
        km.get_forward_path_key("k")


@pytest.mark.parametrize(
    "args, msg",
    [
        (("", lambda: "v", RT), '"name" property is empty'),
        (("k", "not callable", RT), '"keys_store" is not callable'),
        (("k", lambda x: "v", RT), '"keys_store" signature should not contains args'),
        (("k", lambda: "v", "ROUND_TRIP"), '"use_case" property is not type of "SecretKeyUseCase"'),
        (("k", lambda: "v", RT, "yes"), '"stateless" property is not boolean'),
        (("k", lambda: "v", RT, True, 1), '"keep_in_cache" property is not boolean'),
        (("k", lambda: "v", RT, True, True, "HALT"), '"on_key_changed_callback_error_strategy"'),
    ],
)
def test_define_key_validation(km, args, msg):
    with pytest.raises(SecretKeyDefinitionInitError) as e:
        km.define_key(*args)
    assert msg in str(e.value)
    assert str(e.value).startswith("Failed to init SecretKeyDefinition: ")


def test_keys_are_censored_in_logs(km, caplog):
    km.define_key("k", lambda: "supersecretvalue", RT, True, True)
    with caplog.at_level(1):
        km.get_forward_path_key("k")
        km.key_changed("k", "supersecretvalue", "anothersecretval")
    assert "supersecretvalue" not in caplog.text
    assert "anothersecretval" not in caplog.text


# -- SingleKeyManagement, BaseSecretKeyDefinition, protocols ---------------------------


@pytest.mark.original_bug("SingleKeyManagement.get_key returns None")
def test_single_key_management_get_key(km):
    km.define_key("k", lambda: ("e", "d"), RT, True, True)
    single = km.get_single_management("k")
    assert single.get_key(SecretKeyFlow.FORWARD_PATH) == "e"


def test_single_key_management(km):
    seen = []
    km.define_key("k", lambda: ("e", "d"), RT, True, True)
    single = km.get_single_management("k")
    single.register_on_change(lambda o, n, c: seen.append((o, n)))
    assert single.get_forward_path_key() == "e"
    assert single.get_back_path_key() == "d"
    assert single.get_encrypt_key() == "e"
    single.key_changed("e", "e2")
    assert seen == [("e", "e2")]


def test_base_secret_key_definition_is_subclassable():
    class MyDefinition(BaseSecretKeyDefinition):
        def __init__(self, *a, **kw):
            super().__init__(*a, **kw)
            self.flow = None

        def get_key_state(self):
            outer = self

            class State(keys_management.secret_key.SecretKeyState):
                def get_last_flow(self):
                    return outer.flow

                def set_last_flow(self, last_use):
                    outer.flow = last_use

                def get_previous_keys(self):
                    return None

                def set_previous_keys(self, keys):
                    pass

                def clean_state(self):
                    outer.flow = None

            return State()

        def set_key_state(self, key_state):
            self.flow = key_state.get_last_flow()

    with pytest.raises(TypeError):
        BaseSecretKeyDefinition("k", lambda: "v")  # abstract
    d = MyDefinition("k", lambda: "v", use_case=OW, stateless=False)
    assert d.name == "k" and d() == "v" and d.use_case is OW and d.is_stated()
    assert d.on_key_changed_callback_error_strategy is S.HALT
    assert d.asdict() == {"name": "k", "useCase": "ONE_WAY_TRIP", "stateless": False, "keepInCache": True}
    ctx = OnChangeKeyDefinition(d)
    ctx.set_last_flow(SecretKeyFlow.BACK_PATH)
    assert d.flow is SecretKeyFlow.BACK_PATH
    with pytest.raises(keys_management.OnChangeKeyDefinitionInitError):
        OnChangeKeyDefinition("not a definition")


def test_protocols_raise_not_implemented():
    with pytest.raises(NotImplementedError):
        StateRepoInterface().write_state("k", {})
    with pytest.raises(NotImplementedError):
        StateRepoInterface().read_state("k")
    with pytest.raises(NotImplementedError):
        CryptoTool().encrypt({})
    with pytest.raises(NotImplementedError):
        CryptoTool().decrypt({})


def test_multithreaded_environment():
    km = KeysManagementImpl(
        DictRepo(), Identity(), environemt_type=keys_management.EnvironemtType.MULTITHREADED
    )
    km.define_key("k", lambda: "v", OW, True, True)
    results = []

    def worker():
        for _ in range(200):
            results.append(km.get_key("k"))

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == ["v"] * 800


def test_consts():
    from keys_management import consts

    assert (consts.KEY, consts.STATE) == ("key", "state")
    assert (consts.FORWARD_PATH_FLOW_STATE, consts.BACK_PATH_FLOW_STATE) == ("forward", "back")
    assert consts.TRACE_LEVEL == logging.DEBUG - 1
