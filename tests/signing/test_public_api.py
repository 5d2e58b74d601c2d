"""The public surface of signing and verification: ``__all__`` complete and sorted."""

from __future__ import annotations

import types

import pytest

import evservice
import evservice.signing
import evservice.verification


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff's RUF022 keeps)."""
    kind = 0 if name.isupper() and len(name) > 1 else 1 if name[0].isupper() else 2
    return kind, name


@pytest.mark.parametrize("module", [evservice.signing, evservice.verification])
def test_all_is_sorted_and_complete(module: types.ModuleType) -> None:
    names = module.__all__
    assert names == sorted(names, key=_isort_key)
    public = {
        name
        for name, value in vars(module).items()
        if not name.startswith("_")
        and not isinstance(value, types.ModuleType)
        and getattr(value, "__module__", "").startswith(module.__name__)
    }
    assert public <= set(names)
    for name in names:
        assert hasattr(module, name)


def test_verify_is_exported_at_the_top() -> None:
    assert "verify" in evservice.__all__
    assert evservice.verify is evservice.verification.verify
