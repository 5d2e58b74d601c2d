"""Vietnamese specifics: tax codes (MST), amounts in words, phone numbers, ASCII folding.

Identifiers follow python-stdnum (``compact``, ``validate``, ``is_valid``,
``format``): :mod:`mst` for tax codes, :mod:`phone` for phone numbers (E.164 out,
Vietnam as the default region). :func:`mask_phone` and :func:`mask_email` give
the only forms of contact details that logs and audit events may carry;
:func:`validate_email` is the one e-mail address rule (sending, hashing, masking).
"""

from evservice.vn import _mst as mst
from evservice.vn import _phone as phone
from evservice.vn._email import EmailAddress, is_valid_email, mask_email, validate_email
from evservice.vn._fold import fold_ascii, gsm7_length, is_gsm7
from evservice.vn._mask import mask_phone
from evservice.vn._mst import TaxCode
from evservice.vn._words import MAX_WORDS_AMOUNT, amount_in_words

__all__ = [
    "MAX_WORDS_AMOUNT",
    "EmailAddress",
    "TaxCode",
    "amount_in_words",
    "fold_ascii",
    "gsm7_length",
    "is_gsm7",
    "is_valid_email",
    "mask_email",
    "mask_phone",
    "mst",
    "phone",
    "validate_email",
]
