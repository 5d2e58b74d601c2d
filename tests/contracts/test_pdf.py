from __future__ import annotations

import hashlib
import subprocess
import uuid
from datetime import UTC, date, datetime
from pathlib import Path

import pypdfium2 as pdfium
import zxingcpp

from evservice.contracts._model import Contract, ContractDraft, ContractStatus
from evservice.contracts._pdf import EvidenceRow, group_hex, render_contract_pdf
from evservice.payments import emv, vietqr


def _contract(draft: ContractDraft) -> Contract:
    return Contract(
        id=str(uuid.uuid4()),
        number="HD2026-000042",
        draft=draft,
        status=ContractStatus.DRAFT,
        created_at=datetime(2026, 11, 1, tzinfo=UTC),
    )


def _text(pdf: bytes, tmp_path: Path, *, layout: bool = True) -> str:
    path = tmp_path / "c.pdf"
    path.write_bytes(pdf)
    args = ["pdftotext", *(["-layout"] if layout else []), str(path), "-"]
    return subprocess.run(args, capture_output=True, check=True, text=True).stdout


def _decode_all(pdf: bytes) -> set[str]:
    doc = pdfium.PdfDocument(pdf)
    found: set[str] = set()
    for page in doc:
        image = page.render(scale=3).to_pil()
        found |= {b.text for b in zxingcpp.read_barcodes(image)}
    doc.close()
    return found


def test_contract_pdf_shows_the_contract_and_its_codes(
    internet_draft: ContractDraft, tmp_path: Path
) -> None:
    contract = _contract(internet_draft)
    verify = "https://tracuu.example/hop-dong/HD2026-000042?sha256=" + "ab" * 32
    pay = vietqr("970436", "0011001234567", amount=300000, purpose="HD2026-000042")
    pdf = render_contract_pdf(contract, verify_payload=verify, pay_payload=pay)
    assert render_contract_pdf(contract, verify_payload=verify, pay_payload=pay) == pdf
    text = _text(pdf, tmp_path)
    assert "HỢP ĐỒNG CUNG CẤP VÀ SỬ DỤNG DỊCH VỤ INTERNET" in text
    assert "Số: HD2026-000042" in text
    assert "Lê Văn Bình" in text
    assert "Điều 2. Cước phí và thanh toán" in text
    assert "CHỨNG CỨ" not in text
    codes = _decode_all(pdf)
    assert verify in codes
    assert pay in codes
    assert emv.is_valid(pay)


def test_final_pdf_adds_the_evidence_page(electricity_draft: ContractDraft, tmp_path: Path) -> None:
    contract = _contract(electricity_draft)
    verify = "https://tracuu.example/hop-dong/HD2026-000042"
    shown = render_contract_pdf(contract, verify_payload=verify)
    digest = hashlib.sha256(shown).hexdigest()
    final = render_contract_pdf(
        contract,
        verify_payload=verify,
        evidence=[
            EvidenceRow("Số hợp đồng", contract.number),
            EvidenceRow("SHA-256 văn bản đã hiển thị", group_hex(digest)),
            EvidenceRow("Kênh, nơi nhận", "SMS +84 *** *** 678"),
        ],
    )
    text = _text(final, tmp_path, layout=False)
    assert "TRANG CHỨNG CỨ GIAO KẾT ĐIỆN TỬ" in text
    assert digest in "".join(text.split())
    assert "+84 *** *** 678" in text
    assert len(pdfium.PdfDocument(final)) == len(pdfium.PdfDocument(shown)) + 1


def test_today_is_the_day_the_contract_is_drawn_up_not_the_service_start(
    internet_draft: ContractDraft, tmp_path: Path
) -> None:
    later = internet_draft.model_copy(update={"start_date": date(2026, 12, 15)})
    contract = _contract(later).model_copy(
        update={"created_at": datetime(2026, 10, 20, 20, 0, tzinfo=UTC)}  # 21/10 in Vietnam
    )
    text = _text(render_contract_pdf(contract, verify_payload="x"), tmp_path, layout=False)
    assert "Hôm nay, ngày 21 tháng 10 năm 2026" in " ".join(text.split())
    assert "Hôm nay, ngày 15 tháng 12" not in " ".join(text.split())
    assert "15/12/2026" in text  # the start date stays in the clauses
