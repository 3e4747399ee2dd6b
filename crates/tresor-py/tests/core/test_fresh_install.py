"""The built wheel in a fresh venv with nothing else installed: the three import names work."""

import os
import subprocess
import sys
import venv

import pytest


def test_wheel_alone_imports_all_names(tmp_path):
    wheel = os.environ.get("TRESOR_WHEEL")
    if not wheel:
        pytest.skip("TRESOR_WHEEL not set (crates/tresor-py/test.sh sets it)")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True).create(env_dir)
    py = env_dir / "bin" / "python"
    subprocess.run(
        [py, "-m", "pip", "install", "-q", "--no-index", "--no-deps", wheel],
        check=True,
        timeout=300,
    )
    listed = subprocess.run(
        [py, "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True, check=True
    ).stdout.split()
    assert [p for p in listed if not p.startswith(("pip==", "setuptools==", "tresor=="))] == []
    names = os.environ.get("TRESOR_WHEEL_IMPORTS", "python_linux_keyutils, keys_management, tresor")
    out = subprocess.run(
        [py, "-c", f"import {names}; print('ok')"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"
