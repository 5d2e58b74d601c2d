"""``evservice init --env``: the settings template a batch on the operator's own file needs."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from evservice.batch import seller_from_settings
from evservice.cli import main
from evservice.cli._init import ENV_TEMPLATE
from evservice.config import Settings
from evservice.errors import ConfigurationError
from evservice.invoices import validate_series_for_date
from evservice.payments import PayeeAccount


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    from evservice.config import get_settings

    monkeypatch.setenv("EVSERVICE_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.chdir(tmp_path)
    get_settings.cache_clear()
    return tmp_path


def _run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_init_writes_a_template_that_refuses_until_filled(
    workdir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = _run(capsys, "init", "--env", ".env")
    assert code == 0
    assert "settings template: .env" in out
    env = workdir / ".env"
    assert stat.S_IMODE(env.stat().st_mode) == 0o600
    with pytest.raises(ConfigurationError, match="EVSERVICE_SELLER_NAME"):
        seller_from_settings(Settings(_env_file=env))  # type: ignore[call-arg]
    code, _, err = _run(capsys, "init", "--env", ".env")
    assert code == 2
    assert err.startswith("error: .env exists")


def test_the_template_examples_are_valid_once_uncommented(workdir: Path) -> None:
    filled = workdir / "filled.env"
    filled.write_text(
        "\n".join(line.removeprefix("# ") for line in ENV_TEMPLATE.splitlines() if "=" in line),
        encoding="utf-8",
    )
    settings = Settings(_env_file=filled)  # type: ignore[call-arg]
    seller = seller_from_settings(settings)
    assert seller.tax_code == "0100101114"
    assert PayeeAccount.from_settings(settings).bank_bin == "970436"
    assert settings.invoice_series is not None
    from datetime import date

    assert validate_series_for_date(settings.invoice_series, date(2026, 12, 1)) == "C26TAA"


def test_the_development_certificate_carries_the_configured_sellers_tax_code(
    workdir: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    from evservice.config import get_settings

    monkeypatch.setenv("EVSERVICE_SELLER_TAX_CODE", "0100101114")
    get_settings.cache_clear()
    code, _, _ = _run(capsys, "init")
    assert code == 0
    pem = (workdir / "data" / "keys" / "dev-signer.pem").read_bytes()
    subject = x509.load_pem_x509_certificate(pem).subject
    assert [a.value for a in subject.get_attributes_for_oid(NameOID.USER_ID)] == ["MST:0100101114"]
