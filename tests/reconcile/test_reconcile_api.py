"""The public surface of evservice.reconcile: complete, sorted, importable on its own."""

from __future__ import annotations

import subprocess
import sys

import evservice.reconcile as reconcile


def _isort_key(name: str) -> tuple[int, str]:
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    assert reconcile.__all__ == sorted(reconcile.__all__, key=_isort_key)
    public = {name for name in vars(reconcile) if not name.startswith("_")}
    assert public == set(reconcile.__all__)


def test_imports_alone_without_the_cli() -> None:
    code = "import sys, evservice.reconcile; assert 'evservice.cli' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)
