"""The public surface of ``evservice.audit``: a complete, sorted ``__all__``."""

from __future__ import annotations

import types

import evservice.audit as audit
import evservice.audit._offline as offline


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff's RUF022 keeps)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    names = list(audit.__all__)
    assert names == sorted(names, key=_isort_key)
    assert len(set(names)) == len(names)
    public = {
        n
        for n, v in vars(audit).items()
        if not n.startswith("_") and not isinstance(v, types.ModuleType)
    }
    assert public == set(names)


def test_offline_module_exports_exist() -> None:
    assert all(hasattr(offline, name) for name in offline.__all__)
