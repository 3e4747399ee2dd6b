"""tresor.keyring and tresor.errors from Python, on the real kernel keyring."""

import errno
import subprocess
import sys
import threading
import time
import uuid

import pytest

import tresor
from tresor import errors, keyring


@pytest.fixture
def name():
    n = f"tresor-pytest-{uuid.uuid4().hex}"
    yield n
    try:
        keyring.invalidate(n)
    except KeyError:
        pass


def test_user_ring_round_trip_every_size(name):
    for size in (1, 511, 512, 513, 2048, 2049, 32767):
        value = bytes(i % 256 for i in range(size))
        serial = keyring.set(name, value)
        assert isinstance(serial, int) and serial > 0
        assert keyring.get(name) == value


def test_user_ring_visible_to_another_process(name):
    keyring.set(name, b"shared")
    out = subprocess.run(
        [sys.executable, "-c", f"from tresor import keyring; print(keyring.get({name!r}).decode())"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "shared"


def test_named_ring_is_created_and_separate(name):
    ring = f"@tresor-pytest-{uuid.uuid4().hex[:8]}"
    keyring.set(name, b"in the named ring", ring)
    assert keyring.get(name, ring) == b"in the named ring"
    with pytest.raises(errors.NotFoundError):
        keyring.get(name)
    keyring.invalidate(name, ring)


def test_modes(name):
    with pytest.raises(errors.NotFoundError) as e:
        keyring.set(name, b"x", mode="never")
    assert e.value.errno == errno.ENOKEY
    keyring.set(name, b"x", mode="if-missing")
    with pytest.raises(errors.AlreadyExistsError) as e:
        keyring.set(name, b"y", mode="if-missing")
    assert isinstance(e.value, ValueError) and e.value.errno == errno.EEXIST
    keyring.set(name, b"z", mode="never")
    assert keyring.get(name) == b"z"
    with pytest.raises(ValueError, match="invalid mode 'sometimes'"):
        keyring.set(name, b"x", mode="sometimes")


def test_timeout_expires_the_key(name):
    keyring.set(name, b"short-lived", timeout=1)
    assert keyring.get(name) == b"short-lived"
    time.sleep(2.2)
    with pytest.raises(KeyError):
        keyring.get(name)
    with pytest.raises(ValueError, match="invalid timeout"):
        keyring.set(name, b"x", timeout=-1)
    for bad in (float("inf"), float("nan"), 1e300, 0):
        with pytest.raises(ValueError, match="invalid timeout"):
            keyring.set(name, b"x", timeout=bad)


def test_error_classes_and_messages(name):
    with pytest.raises(errors.NotFoundError) as e:
        keyring.get(name)
    exc = e.value
    assert isinstance(exc, KeyError) and isinstance(exc, tresor.TresorError)
    assert str(exc) == f"key '{name}' not found in keyring 'user'"
    assert exc.errno == errno.ENOKEY

    with pytest.raises(errors.InvalidArgumentError) as e:
        keyring.set(name, b"x" * 32768)
    assert "over the 32767-byte limit" in str(e.value) and e.value.errno == errno.EINVAL

    with pytest.raises(ValueError, match="invalid keyring 'nowhere'"):
        keyring.get(name, "nowhere")

    with pytest.raises(errors.InvalidArgumentError, match="name is empty"):
        keyring.set("", b"x")


def test_exception_hierarchy():
    assert issubclass(errors.NotFoundError, KeyError)
    assert issubclass(errors.InvalidArgumentError, ValueError)
    assert issubclass(errors.PermissionDeniedError, PermissionError)
    assert issubclass(errors.QuotaExceededError, OSError)
    assert issubclass(errors.SystemCallError, OSError)
    assert issubclass(errors.OutOfMemoryError, MemoryError)
    assert issubclass(errors.NotSupportedError, RuntimeError)
    for cls in errors.__all__:
        assert issubclass(getattr(errors, cls), errors.TresorError)
    e = errors._make("SystemCallError", "cannot read key 'k'", errno.EIO)
    assert e.errno == errno.EIO and e.strerror and str(e) == "cannot read key 'k'"


def test_reads_run_while_other_threads_hold_the_interpreter(name):
    # Many threads reading at once: every read detaches from the interpreter around the
    # system calls, so all finish and agree.
    keyring.set(name, b"v" * 1000)
    results = []

    def reader():
        for _ in range(200):
            results.append(keyring.get(name))

    threads = [threading.Thread(target=reader) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == 800 and all(r == b"v" * 1000 for r in results)


def test_stub_files_are_shipped():
    import importlib.resources as res

    files = {p.name for p in res.files("tresor").iterdir()}
    assert {"py.typed", "_tresor.pyi"} <= files
    assert tresor.__version__
