"""tresor.vault and tresor.seeqret on a real vault folder (SQLite store)."""

import os
import stat
import threading

import pytest

from tresor import errors, seeqret, vault


@pytest.fixture
def v(tmp_path):
    return vault.init(tmp_path / "vault")


def test_add_get_list(v):
    assert v.add("myapp", "dev", "DB_PASSWORD", "hunter2") == 1
    v.add("myapp", "dev", "DB_USER", b"app")
    v.add("other", "prod", "TOKEN", "t0k3n ✓")
    assert v.get("myapp:dev:DB_PASSWORD") == "hunter2"
    assert v.get_bytes("myapp:dev:DB_USER") == b"app"
    assert v.get("*:prod:TOKEN") == "t0k3n ✓"
    names = [s["name"] for s in v.list(":dev:DB_*")]
    assert names == ["myapp:dev:DB_PASSWORD", "myapp:dev:DB_USER"]
    assert len(v.list()) == 3
    item = v.list("other:prod:TOKEN")[0]
    assert (item["app"], item["env"], item["key"], item["type"], item["version"]) == (
        "other", "prod", "TOKEN", "str", 1)
    assert "value" not in item


def test_new_versions_need_force(v):
    v.add("a", "dev", "K", "1")
    with pytest.raises(errors.AlreadyExistsError, match="already exists"):
        v.add("a", "dev", "K", "2")
    assert v.add("a", "dev", "K", "2", force=True) == 2
    assert v.get("a:dev:K") == "2"


def test_errors(v, tmp_path):
    with pytest.raises(KeyError) as e:
        v.get("a:dev:MISSING")
    assert isinstance(e.value, errors.SecretNotFoundError)
    assert "no secret matches 'a:dev:MISSING'" in str(e.value)
    v.add("a", "dev", "X1", "1")
    v.add("a", "dev", "X2", "2")
    with pytest.raises(ValueError, match="matches 2 secrets"):
        v.get("a:dev:X*")
    with pytest.raises(ValueError):
        v.add("a", "dev", "", "x")
    with pytest.raises(FileNotFoundError) as e:
        vault.open(tmp_path / "nowhere")
    assert isinstance(e.value, errors.VaultNotFoundError) and "no vault at" in str(e.value)


def test_passphrase(tmp_path, monkeypatch):
    monkeypatch.delenv("TRESOR_PASSPHRASE", raising=False)
    vault.init(tmp_path / "locked", "correct horse").add("a", "b", "C", "d")
    with pytest.raises(PermissionError) as e:
        vault.open(tmp_path / "locked")
    assert isinstance(e.value, errors.VaultLockedError)
    with pytest.raises(errors.VaultLockedError, match="wrong passphrase"):
        vault.open(tmp_path / "locked", "wrong")
    assert vault.open(tmp_path / "locked", "correct horse").get("a:b:C") == "d"
    monkeypatch.setenv("TRESOR_PASSPHRASE", "correct horse")
    assert vault.open(tmp_path / "locked").get("a:b:C") == "d"


def test_env_template(v, tmp_path):
    v.add("myapp", "dev", "FOO", "bar")
    v.add("myapp", "dev", "FOOBAR", "with space")
    v.add("myapp", "local", "DB", "local-db")
    tpl = tmp_path / "env.template"
    tpl.write_text("# all FOO* keys from dev\n:dev:FOO*\nDATABASE=:local:DB\nMODE=dev\n")
    out = tmp_path / ".env"
    pairs = v.env(tpl, output=out)
    assert list(pairs.items()) == [
        ("FOO", "bar"), ("FOOBAR", "with space"), ("DATABASE", "local-db"), ("MODE", "dev")]
    body = out.read_text()
    assert body == "FOO='bar'\nFOOBAR='with space'\nDATABASE='local-db'\nMODE='dev'\n"
    assert stat.S_IMODE(os.stat(out).st_mode) == 0o600


def test_reopen_and_cache(v):
    v.add("a", "dev", "K", "v1")
    cached = vault.open(v.path, cache=True)
    assert cached.get("a:dev:K") == "v1"
    assert vault.open(v.path).get("a:dev:K") == "v1"


def _in_another_process(code):
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr


def test_cache_keeps_values_until_any_process_writes(v):
    v.add("a", "dev", "K", "v1")
    v.add("a", "dev", "OTHER", "o1")
    cached = vault.open(v.path, cache=True)
    assert cached.get("a:dev:K") == "v1"
    # Kept: with every version row moved out of the database behind tresor's back (the head
    # unmoved), the cached handle still answers; a new handle reads the database and fails.
    # (Another process edits the file: SQLite's POSIX locks are per process, and a second
    # SQLite library closing the file here would drop this process's locks.)
    db = os.path.join(v.path, "tresor.db")
    _in_another_process(
        f"import sqlite3; c = sqlite3.connect({db!r}); "
        "c.execute('CREATE TABLE saved AS SELECT * FROM versions'); "
        "c.execute('DELETE FROM versions'); c.commit()"
    )
    assert cached.get("a:dev:K") == "v1"
    with pytest.raises(errors.TresorError):
        vault.open(v.path).get("a:dev:K")
    _in_another_process(
        f"import sqlite3; c = sqlite3.connect({db!r}); "
        "c.execute('INSERT INTO versions SELECT * FROM saved'); "
        "c.execute('DROP TABLE saved'); c.commit()"
    )
    # Dropped when another process commits, whatever it wrote: a new version of K...
    _in_another_process(
        f"from tresor import vault; vault.open({str(v.path)!r}).add('a', 'dev', 'K', 'v2', force=True)"
    )
    assert cached.get("a:dev:K") == "v2"
    # ...or of another secret.
    _in_another_process(
        f"from tresor import vault; vault.open({str(v.path)!r}).add('a', 'dev', 'OTHER', 'o2', force=True)"
    )
    assert cached.get("a:dev:OTHER") == "o2"
    assert cached.get("a:dev:K") == "v2"


def test_seeqret_get_sees_writes_by_other_processes(v, monkeypatch):
    v.add("a", "dev", "K", "v1")
    monkeypatch.setenv("TRESOR_VAULT", str(v.path))
    seeqret._reset()
    try:
        assert seeqret.get("K", "a", "dev").value == "v1"
        assert seeqret.get("K", "a", "dev").value == "v1"
        _in_another_process(
            f"from tresor import vault; vault.open({str(v.path)!r}).add('a', 'dev', 'K', 'v2', force=True)"
        )
        assert seeqret.get("K", "a", "dev").value == "v2"
    finally:
        seeqret._reset()


def test_threads_share_one_vault(v):
    v.add("a", "dev", "K", "shared")
    got = []
    ts = [threading.Thread(target=lambda: got.extend(v.get("a:dev:K") for _ in range(50)))
          for _ in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert got == ["shared"] * 200


def test_seeqret_call_shape(tmp_path, monkeypatch):
    v = vault.init(tmp_path / "sq")
    v.add("myapp", "dev", "DB_PASSWORD", "hunter2")
    v.add("*", "dev", "FOO", "bar")
    monkeypatch.setenv("TRESOR_VAULT", str(tmp_path / "sq"))
    seeqret._reset()
    try:
        assert seeqret.get("DB_PASSWORD").value == "hunter2"
        assert seeqret.get("DB_PASSWORD", app="myapp", env="dev").value == "hunter2"
        assert seeqret.get("DB_PASSWORD", "myapp", "dev").value == "hunter2"
        s = seeqret.get("FOO", env="dev")
        assert (s.key, s.value) == ("FOO", "bar") and "bar" not in repr(s)
        with pytest.raises(IndexError):  # what seeqret.get raised for a missing key
            seeqret.get("MISSING")
        with pytest.raises(KeyError):
            seeqret.get("MISSING")
    finally:
        seeqret._reset()


def test_interpreter_is_released_during_store_work(tmp_path):
    # vault.init with a passphrase runs Argon2id for a good fraction of a second. A Python
    # thread counting meanwhile must progress about as fast as it does alone: had the call
    # kept the interpreter, it would stall for the whole call (after one switch interval).
    import time

    count = 0
    stop = False

    def spin():
        nonlocal count
        while not stop:
            count += 1

    t = threading.Thread(target=spin)
    t.start()
    try:
        time.sleep(0.05)
        before, t0 = count, time.perf_counter()
        vault.init(tmp_path / "v", "a passphrase")
        elapsed = time.perf_counter() - t0
        during = count - before
        before = count
        time.sleep(elapsed)
        alone = count - before
    finally:
        stop = True
        t.join()
    assert elapsed > 0.05, "the KDF was too quick to tell"
    assert during > 0.25 * alone, (during, alone, elapsed)
