"""Shared pytest setup for tresor's Python suites.

``TRESOR_PY_IMPL`` says what the drop-in suites (``tests/dropin``) run against:
``original`` (the PyPI package, in its own venv) or ``tresor`` (the wheel's drop-in,
the default). A test marked ``original_bug`` encodes a documented promise the original
breaks: it must pass on tresor, and on the original it is a strict xfail (so it must
still fail there: if the original is fixed, the suite says so).
"""

import os

import pytest

IMPL = os.environ.get("TRESOR_PY_IMPL", "tresor")
if IMPL not in ("original", "tresor"):
    raise RuntimeError(f"TRESOR_PY_IMPL={IMPL!r}: expected 'original' or 'tresor'")


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "original_bug(reason): a bug of the original; must pass on tresor only"
    )


def pytest_collection_modifyitems(config, items):
    for item in items:
        marker = item.get_closest_marker("original_bug")
        if marker is not None and IMPL == "original":
            reason = marker.args[0] if marker.args else "bug of the original"
            item.add_marker(pytest.mark.xfail(strict=True, reason=f"original's bug: {reason}"))


def pytest_report_header(config):
    return f"TRESOR_PY_IMPL={IMPL}"
