"""The public face of evservice.pdf: complete and sorted; importing evservice stays light."""

from __future__ import annotations

import subprocess
import sys

import evservice.pdf as pdf


def _isort_key(name: str) -> tuple[int, str]:
    """Constants, then classes, then functions (the order ruff's RUF022 keeps)."""
    kind = 0 if name.isupper() else 1 if name[0].isupper() else 2
    return kind, name


def test_all_is_sorted_and_complete() -> None:
    assert pdf.__all__ == sorted(pdf.__all__, key=_isort_key)
    assert len(set(pdf.__all__)) == len(pdf.__all__)
    public = {
        name
        for name, value in vars(pdf).items()
        if not name.startswith("_") and not isinstance(value, type(sys))
    }
    assert public == set(pdf.__all__)


def test_importing_evservice_or_signing_does_not_load_the_pdf_engine() -> None:
    """reportlab (and with it the PDF engine) loads on first use, not at ``import evservice``."""
    script = (
        "import sys, evservice, evservice.signing, evservice.verification\n"
        "print(sorted(m for m in sys.modules if m.startswith(('reportlab', 'evservice.pdf'))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    assert out.strip() == "[]"
