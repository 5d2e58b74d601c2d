"""verify says when the signing certificate's tax code is not the invoice's seller's."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from evservice.cli import main
from evservice.config import get_settings
from evservice.signing import DEV_TAX_CODE, clear_signer_cache

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "invoice_draft.json"
SELLER = "0100101114"  # the example draft's seller


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    import evservice._context as context_module

    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.delenv("EVSERVICE_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    monkeypatch.setattr(context_module, "_default", None)
    clear_signer_cache()
    yield tmp_path
    get_settings.cache_clear()
    clear_signer_cache()


def _issue_and_verify(capsys: pytest.CaptureFixture[str]) -> dict[str, dict[str, object]]:
    main(["invoice", "issue", str(EXAMPLE), "--json"])
    issued = json.loads(capsys.readouterr().out)
    found = {}
    for kind in ("xml", "pdf"):
        main(["verify", issued[kind], "--json"])  # exits only when something fails
        [found[kind]] = json.loads(capsys.readouterr().out)
    return found


def _seller_signatures(report: dict[str, object]) -> list[dict[str, object]]:
    signatures = list(report["signatures"])  # type: ignore[call-overload]
    embedded = report.get("embedded_xml") or {}
    signatures += list(embedded.get("signatures", ()))  # type: ignore[union-attr]
    return [s for s in signatures if s.get("seller_tax_code")]


def test_a_certificate_of_another_tax_code_is_named(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    reports = _issue_and_verify(capsys)  # the development key carries DEV_TAX_CODE
    for kind in ("xml", "pdf"):
        signatures = _seller_signatures(
            reports[kind][0] if isinstance(reports[kind], list) else reports[kind]
        )
        assert signatures, kind
        for signature in signatures:
            assert signature["tax_code"] == DEV_TAX_CODE
            assert signature["seller_tax_code"] == SELLER
            assert signature["tax_code_matches_seller"] is False
            assert "NOT_THE_SELLERS_TAX_CODE" in str(signature["summary"])


def test_the_development_key_made_for_the_seller_matches(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("EVSERVICE_SELLER_TAX_CODE", SELLER)
    get_settings.cache_clear()
    reports = _issue_and_verify(capsys)
    for kind in ("xml", "pdf"):
        signatures = _seller_signatures(reports[kind])
        assert signatures, kind
        for signature in signatures:
            assert signature["tax_code_matches_seller"] is True
            assert "NOT_THE_SELLERS_TAX_CODE" not in str(signature["summary"])
