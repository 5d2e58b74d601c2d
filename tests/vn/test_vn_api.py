"""The public surface of evservice.vn: complete, sorted, and nothing private leaks."""

from __future__ import annotations

import evservice.vn as vn


def test_all_is_sorted_and_complete() -> None:
    def key(name: str) -> tuple[int, str]:
        kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
        return kind, name

    assert vn.__all__ == sorted(vn.__all__, key=key)
    assert len(set(vn.__all__)) == len(vn.__all__)
    public = {name for name in vars(vn) if not name.startswith("_")}
    assert public == set(vn.__all__)
    for name in vn.__all__:
        assert getattr(vn, name) is not None


def test_identifier_modules_follow_stdnum() -> None:
    for module in (vn.mst, vn.phone):
        for name in ("compact", "validate", "is_valid", "format"):
            assert callable(getattr(module, name))
