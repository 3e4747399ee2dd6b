"""python_linux_keyutils, as its README documents it (0.2.1), on the real kernel keyring.

Run twice by the test command: against the original from PyPI (TRESOR_PY_IMPL=original)
and against tresor's drop-in (TRESOR_PY_IMPL=tresor). Tests marked ``original_bug`` are
the original's known bugs (the 2,048-byte read panic, no errno in exceptions).
"""

import errno
import subprocess
import sys
import textwrap
import uuid

import pytest

from python_linux_keyutils import KeyRingIdentifier, get_secret, invalidate_secret, set_secret

MEMBERS = ["Thread", "Process", "Session", "User", "UserSession", "Group", "ReqKeyAuthKey"]


@pytest.fixture
def name():
    """A fresh key name; the key is removed from the session and user rings afterwards."""
    n = f"tresor-pytest-{uuid.uuid4().hex}"
    yield n
    for ring in (None, KeyRingIdentifier.User):
        try:
            invalidate_secret(n, key_ring=ring)
        except KeyError:
            pass


def run_python(code: str) -> subprocess.CompletedProcess:
    """Runs `code` in a fresh interpreter of this venv (a new process: its own process
    and thread keyrings)."""
    return subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=60,
    )


# -- the README's usage, line by line ------------------------------------------------


def test_session_is_the_default_ring(name):
    set_secret(name, b"test value")
    assert get_secret(name) == b"test value"
    assert get_secret(name, key_ring=KeyRingIdentifier.Session) == b"test value"


def test_user_ring_round_trip_with_nul_bytes(name):
    set_secret(name, b"\0\0\0", key_ring=KeyRingIdentifier.User)
    assert get_secret(name, key_ring=KeyRingIdentifier.User) == b"\x00\x00\x00"


def test_process_ring_needs_create_then_round_trips():
    # A fresh process has no process keyring: set_secret raises KeyError unless create=True.
    out = run_python(
        """
        from python_linux_keyutils import set_secret, get_secret, KeyRingIdentifier as K
        try:
            set_secret("test_key_3", b"Hello kernel secrets", key_ring=K.Process)
        except KeyError:
            print("KeyError")
        set_secret("test_key_3", b"Hello kernel secrets", key_ring=K.Process, create=True)
        print(get_secret("test_key_3", key_ring=K.Process).decode())
        """
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["KeyError", "Hello kernel secrets"]


def test_process_ring_is_per_process():
    # Two subprocesses: the second does not see the first one's process keyring.
    first = run_python(
        """
        from python_linux_keyutils import set_secret, get_secret, KeyRingIdentifier as K
        set_secret("per-process", b"mine", key_ring=K.Process, create=True)
        print(get_secret("per-process", key_ring=K.Process).decode())
        """
    )
    assert first.returncode == 0, first.stderr
    assert first.stdout.strip() == "mine"
    second = run_python(
        """
        from python_linux_keyutils import get_secret, KeyRingIdentifier as K
        try:
            get_secret("per-process", key_ring=K.Process)
            print("found")
        except KeyError:
            print("KeyError")
        """
    )
    assert second.returncode == 0, second.stderr
    assert second.stdout.strip() == "KeyError"


def test_user_ring_is_shared_between_processes(name):
    set_secret(name, b"from the parent", key_ring=KeyRingIdentifier.User)
    child = run_python(
        f"""
        from python_linux_keyutils import get_secret, invalidate_secret, KeyRingIdentifier as K
        print(get_secret({name!r}, key_ring=K.User).decode())
        """
    )
    assert child.returncode == 0, child.stderr
    assert child.stdout.strip() == "from the parent"


@pytest.mark.parametrize("ring", [None, KeyRingIdentifier.User])
def test_reads_follow_changes_made_by_other_processes(name, ring):
    # Read, then changed by another process: replaced, invalidated, set again, and
    # shadowed by a same-named key added directly to the ring while the read one sits in a
    # nested ring. Each read answers what a new search would (tresor's drop-in remembers a
    # directly linked key's serial number between reads: this is what it must not break).
    import shutil

    def child(code):
        r = run_python(
            f"""
            from python_linux_keyutils import set_secret, invalidate_secret, KeyRingIdentifier as K
            ring = {None if ring is None else "K.User"}
            {code}
            """
        )
        assert r.returncode == 0, r.stderr

    set_secret(name, b"one", key_ring=ring)
    assert get_secret(name, key_ring=ring) == b"one"
    child(f"set_secret({name!r}, b'two', key_ring=ring)")
    assert get_secret(name, key_ring=ring) == b"two"
    child(f"invalidate_secret({name!r}, key_ring=ring)")
    with pytest.raises(KeyError):
        get_secret(name, key_ring=ring)
    child(f"set_secret({name!r}, b'three', key_ring=ring)")
    assert get_secret(name, key_ring=ring) == b"three"
    if shutil.which("keyctl") is None or ring is None:
        return
    # Nested first, then a direct one of the same name: the direct one wins.
    invalidate_secret(name, key_ring=ring)
    nest = f"tresor-pytest-nest-{uuid.uuid4().hex[:8]}"
    nest_id = subprocess.run(
        ["keyctl", "newring", nest, "@u"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        subprocess.run(["keyctl", "add", "user", name, "nested", nest_id], check=True,
                       capture_output=True)
        assert get_secret(name, key_ring=ring) == b"nested"
        subprocess.run(["keyctl", "add", "user", name, "direct", "@u"], check=True,
                       capture_output=True)
        assert get_secret(name, key_ring=ring) == b"direct"
    finally:
        subprocess.run(["keyctl", "invalidate", nest_id], capture_output=True)


def test_get_searches_keyrings_linked_from_the_ring(name):
    # get_secret uses the kernel's search: a key in a keyring nested in the user keyring
    # is found from the user keyring (the nested ring is made with keyctl(1)).
    import shutil

    if shutil.which("keyctl") is None:
        pytest.skip("keyctl (keyutils) not installed")
    ring = f"tresor-pytest-nest-{uuid.uuid4().hex[:8]}"
    ring_id = subprocess.run(
        ["keyctl", "newring", ring, "@u"], capture_output=True, text=True, check=True
    ).stdout.strip()
    try:
        subprocess.run(["keyctl", "add", "user", name, "nested value", ring_id], check=True,
                       capture_output=True)
        assert get_secret(name, key_ring=KeyRingIdentifier.User) == b"nested value"
        invalidate_secret(name, key_ring=KeyRingIdentifier.User)
        with pytest.raises(KeyError):
            get_secret(name, key_ring=KeyRingIdentifier.User)
    finally:
        subprocess.run(["keyctl", "invalidate", ring_id], capture_output=True)


def test_thread_ring_with_create(name):
    set_secret(name, b"t", key_ring=KeyRingIdentifier.Thread, create=True)
    assert get_secret(name, key_ring=KeyRingIdentifier.Thread) == b"t"
    invalidate_secret(name, key_ring=KeyRingIdentifier.Thread)


def test_set_replaces_the_value(name):
    set_secret(name, b"one")
    set_secret(name, b"two")
    assert get_secret(name) == b"two"


def test_unicode_names(name):
    n = name + " ünï cødé שלום Привет"
    set_secret(n, b"x")
    try:
        assert get_secret(n) == b"x"
    finally:
        invalidate_secret(n)


def test_positional_and_keyword_arguments(name):
    set_secret(name, b"1", None, False)
    assert get_secret(name, None) == b"1"
    set_secret(name, b"2", KeyRingIdentifier.Session)
    assert get_secret(name, KeyRingIdentifier.Session) == b"2"
    assert invalidate_secret(name) is None


# -- exceptions ------------------------------------------------------------------------


def test_missing_key_is_key_error(name):
    with pytest.raises(KeyError):
        get_secret(name)
    with pytest.raises(KeyError):
        invalidate_secret(name)


def test_invalidated_key_is_gone(name):
    set_secret(name, b"x")
    invalidate_secret(name)
    with pytest.raises(KeyError):
        get_secret(name)


def test_same_name_in_another_ring_is_another_key(name):
    set_secret(name, b"session")
    with pytest.raises(KeyError):
        get_secret(name, key_ring=KeyRingIdentifier.User)


def test_empty_name_is_value_error():
    with pytest.raises(ValueError):
        set_secret("", b"x")


def test_empty_secret_is_value_error(name):
    with pytest.raises(ValueError):
        set_secret(name, b"")


def test_oversized_secret_is_value_error(name):
    with pytest.raises(ValueError):
        set_secret(name, b"x" * 40000)


def test_too_long_name_is_value_error():
    with pytest.raises(ValueError):
        set_secret("a" * 5000, b"x")


def test_group_ring_is_value_error(name):
    # Linux does not implement the group keyring: EINVAL.
    with pytest.raises(ValueError):
        set_secret(name, b"x", key_ring=KeyRingIdentifier.Group, create=True)


def test_argument_types():
    with pytest.raises(TypeError):
        set_secret("k", "a str is not bytes")
    with pytest.raises(TypeError):
        set_secret(b"bytes name", b"x")
    with pytest.raises(TypeError):
        get_secret("k", key_ring=3)
    with pytest.raises(TypeError):
        set_secret(name="k", secret=b"x")  # positional-only


# -- KeyRingIdentifier ------------------------------------------------------------------


def test_identifier_members_and_values():
    for value, member in enumerate(MEMBERS):
        ident = getattr(KeyRingIdentifier, member)
        assert int(ident) == value
        assert ident == getattr(KeyRingIdentifier, member)
        assert ident == value
        assert repr(ident) == f"KeyRingIdentifier.{member}"


def test_identifier_comparisons():
    assert KeyRingIdentifier.User != KeyRingIdentifier.Session
    assert not (KeyRingIdentifier.User == KeyRingIdentifier.Session)
    assert KeyRingIdentifier.User != "User"
    with pytest.raises(TypeError):
        KeyRingIdentifier.User < KeyRingIdentifier.Session  # noqa: B015
    with pytest.raises(TypeError):
        hash(KeyRingIdentifier.User)


# -- what the original gets wrong ----------------------------------------------------------


def read_back(n, size, ring=None):
    value = bytes(i % 251 for i in range(size))
    set_secret(n, value, key_ring=ring)
    try:
        got = get_secret(n, key_ring=ring)
    except BaseException as e:  # the original raises pyo3's PanicException (a BaseException)
        pytest.fail(f"get_secret of {size} bytes raised {type(e).__name__}: {e}")
    assert got == value


def test_2048_bytes_read_back(name):
    read_back(name, 2048)


@pytest.mark.original_bug("get_secret panics on values over 2,048 bytes")
def test_2049_bytes_read_back(name):
    read_back(name, 2049)


@pytest.mark.original_bug("get_secret panics on values over 2,048 bytes")
def test_32767_bytes_read_back_user_ring(name):
    read_back(name, 32767, KeyRingIdentifier.User)


@pytest.mark.original_bug("exceptions do not keep the errno")
def test_errno_is_kept(name):
    with pytest.raises(KeyError) as missing:
        get_secret(name)
    assert missing.value.errno == errno.ENOKEY
    with pytest.raises(ValueError) as bad:
        set_secret("", b"x")
    assert bad.value.errno == errno.EINVAL


@pytest.mark.original_bug("messages do not say which key or keyring")
def test_message_names_key_and_ring(name):
    with pytest.raises(KeyError) as missing:
        get_secret(name, key_ring=KeyRingIdentifier.User)
    assert name in str(missing.value) and "user" in str(missing.value)
