"""The public surface of evservice.payments: complete, sorted, and nothing private leaks."""

from __future__ import annotations

import evservice.payments as payments


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff's RUF022 keeps)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    assert payments.__all__ == sorted(payments.__all__, key=_isort_key)
    assert len(set(payments.__all__)) == len(payments.__all__)
    public = {name for name in vars(payments) if not name.startswith("_")}
    assert public == set(payments.__all__)
    for name in payments.__all__:
        assert getattr(payments, name) is not None


def test_emv_module_follows_stdnum() -> None:
    for name in ("compact", "validate", "is_valid", "format", "encode", "decode", "crc16"):
        assert callable(getattr(payments.emv, name))
    assert payments.emv.__all__ == sorted(payments.emv.__all__, key=_isort_key)
    assert {n for n in vars(payments.emv) if n in payments.emv.__all__} == set(payments.emv.__all__)


def test_reference_module_follows_stdnum() -> None:
    for name in ("compact", "validate", "is_valid", "format", "make", "find"):
        assert callable(getattr(payments.reference, name))
    assert payments.reference.__all__ == sorted(payments.reference.__all__, key=_isort_key)
