"""ASCII folding for QR purposes and SMS, and the GSM-7 alphabet."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import ValidationError
from evservice.vn import fold_ascii, gsm7_length, is_gsm7

VIETNAMESE_LOWER = (
    "aàáảãạăằắẳẵặâầấẩẫậbcdđeèéẻẽẹêềếểễệghiìíỉĩịklmnoòóỏõọôồốổỗộơờớởỡợpqrstuùúủũụưừứửữựvxyỳýỷỹỵ"
)
FOLDED_LOWER = (
    "aaaaaaaaaaaaaaaaaabcddeeeeeeeeeeeeghiiiiiiklmnoooooooooooooooooopqrstuuuuuuuuuuuuvxyyyyyy"
)


@pytest.mark.parametrize(
    ("text", "folded"),
    [
        ("Đ", "D"),
        ("đ", "d"),
        ("ủ", "u"),
        ("Nguyễn Văn Ánh", "Nguyen Van Anh"),
        ("Thanh toán tiền điện tháng 5/2025", "Thanh toan tien dien thang 5/2025"),
        ("ĐIỆN LỰC HÀ NỘI", "DIEN LUC HA NOI"),
        ("Trường Sa, Hoàng Sa", "Truong Sa, Hoang Sa"),
        ("“Hóa đơn” – số 12…", '"Hoa don" - so 12...'),
        ("Ａ１ ﬁ ²", "A1 fi 2"),
        ("½", "1/2"),
        ("Straße Øre Æble", "Strasse Ore AEble"),
        ("no\u00a0break", "no break"),
        ("điện 中文 😀!", "dien  !"),
        ("plain ASCII {}[]\n", "plain ASCII {}[]\n"),
        ("", ""),
    ],
)
def test_fold_table(text: str, folded: str) -> None:
    assert fold_ascii(text) == folded


def test_every_vietnamese_letter() -> None:
    assert len(VIETNAMESE_LOWER) == len(FOLDED_LOWER)
    assert fold_ascii(VIETNAMESE_LOWER) == FOLDED_LOWER
    assert fold_ascii(VIETNAMESE_LOWER.upper()) == FOLDED_LOWER.upper()


def test_decomposed_input_folds_the_same() -> None:
    import unicodedata

    text = "Nguyễn Thị Hường"
    assert fold_ascii(unicodedata.normalize("NFD", text)) == fold_ascii(text) == "Nguyen Thi Huong"


def test_replacement() -> None:
    assert fold_ascii("a中b", replacement="?") == "a?b"
    with pytest.raises(ValidationError) as info:
        fold_ascii("a", replacement="ồ")
    assert info.value.field == "replacement"


@given(st.text())
def test_fold_is_ascii_and_idempotent(text: str) -> None:
    folded = fold_ascii(text)
    assert folded.isascii()
    assert fold_ascii(folded) == folded


@given(st.text(alphabet=st.characters(max_codepoint=127)))
def test_ascii_is_unchanged(text: str) -> None:
    assert fold_ascii(text) == text


@given(st.text(alphabet=VIETNAMESE_LOWER + VIETNAMESE_LOWER.upper() + " 0123456789.,-/"))
def test_vietnamese_folds_letter_for_letter_into_gsm7(text: str) -> None:
    folded = fold_ascii(text)
    assert len(folded) == len(text)
    assert is_gsm7(folded)
    assert gsm7_length(folded) == len(folded)


def test_gsm7() -> None:
    assert is_gsm7("Ma OTP cua Quy khach: 123456")
    assert is_gsm7("Ä é @ £ € {}")
    assert not is_gsm7("Mã OTP")
    assert not is_gsm7("`")
    assert gsm7_length("abc") == 3
    assert gsm7_length("a€[") == 5
    assert gsm7_length("") == 0
    with pytest.raises(ValidationError) as info:
        gsm7_length("Mã")
    assert info.value.field == "text"
