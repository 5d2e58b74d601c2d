"""The sealed field format: round trip, and every kind of tampering detected."""

from __future__ import annotations

import base64
import secrets

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given
from hypothesis import strategies as st

from evservice.errors import StoreError
from evservice.privacy import FieldPlace, is_sealed, key_id_of
from evservice.privacy._cipher import open_text, seal_text

KEY = AESGCM(bytes(range(32)))
KEY_ID = "0123456789abcdef"
PLACE = FieldPlace("contract", "draft_json", "c-1")
texts = st.text(min_size=0, max_size=400)


@given(texts)
def test_round_trip(plaintext: str) -> None:
    sealed = seal_text(KEY, KEY_ID, PLACE, plaintext)
    assert is_sealed(sealed)
    assert key_id_of(sealed) == KEY_ID
    assert open_text(KEY, PLACE, sealed) == plaintext
    assert seal_text(KEY, KEY_ID, PLACE, plaintext) != sealed  # a fresh nonce each time


@given(texts, st.data())
def test_one_flipped_byte_fails(plaintext: str, data: st.DataObject) -> None:
    sealed = seal_text(KEY, KEY_ID, PLACE, plaintext)
    body = sealed.rsplit(":", 1)[1]
    raw = bytearray(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    tampered = sealed.rsplit(":", 1)[0] + ":" + base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    with pytest.raises(StoreError, match="does not decrypt"):
        open_text(KEY, PLACE, tampered)


@pytest.mark.parametrize(
    "other",
    [
        FieldPlace("contract", "draft_json", "c-2"),  # another row
        FieldPlace("contract", "customer_index", "c-1"),  # another column
        FieldPlace("invoice", "draft_json", "c-1"),  # another table
    ],
)
def test_a_value_moved_elsewhere_fails(other: FieldPlace) -> None:
    sealed = seal_text(KEY, KEY_ID, PLACE, "Nguyễn Thị Mai")
    with pytest.raises(StoreError, match="copied from another row or column") as caught:
        open_text(KEY, other, sealed)
    assert "Mai" not in str(caught.value)


def test_a_relabelled_key_id_fails() -> None:
    sealed = seal_text(KEY, KEY_ID, PLACE, "0912345678")
    relabelled = sealed.replace(KEY_ID, "fedcba9876543210")
    with pytest.raises(StoreError):
        open_text(KEY, PLACE, relabelled)


def test_the_wrong_key_fails() -> None:
    sealed = seal_text(KEY, KEY_ID, PLACE, "x")
    with pytest.raises(StoreError):
        open_text(AESGCM(secrets.token_bytes(32)), PLACE, sealed)


@pytest.mark.parametrize(
    "value", ["", "Nguyễn", "ev1:", "ev1:0123:abc", "ev2:0123456789abcdef:AAAA", "ev1:XYZ:AA"]
)
def test_plaintext_is_not_taken_for_a_sealed_value(value: str) -> None:
    assert not is_sealed(value)
    assert key_id_of(value) is None
