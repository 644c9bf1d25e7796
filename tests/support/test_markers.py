"""The test markers: one pytest configuration (pyproject.toml) registers them, and the runtime runs
(``-m "not toolchain"``, ``make test-fast``) leave the toolchain modules uncollected."""
from __future__ import annotations

from pathlib import Path

import pytest

from conftest import excludes_marker

ROOT = Path(__file__).resolve().parents[2]


def test_one_pytest_configuration_registers_the_markers():
    assert not [name for name in ("pytest.ini", "tox.ini", "setup.cfg", ".pytest.ini") if (ROOT / name).exists()]
    text = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    for marker in ("toolchain", "both", "train", "data", "slow"):
        assert f'"{marker}: ' in text, marker


@pytest.mark.parametrize("expression, excluded", [
    ("not toolchain", True),
    ("not toolchain and not train and not data and not slow", True),
    ("toolchain or both", False),
    ("(toolchain or both) and not train and not data and not slow", False),
    ("toolchain and slow and not train", False),
    ("slow", False),
    ("", False),
])
def test_markexpr_that_excludes_the_toolchain(expression, excluded):
    assert excludes_marker(expression, "toolchain") is excluded
