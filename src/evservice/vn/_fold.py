"""ASCII folding for QR purposes and SMS, and the GSM 03.38 alphabet check.

Bank transfer purposes (VietQR tag 62/08) and cheap SMS must be plain ASCII or
GSM-7, while Vietnamese text carries diacritics. :func:`fold_ascii` removes
them: ``"Nguyễn Văn Ánh"`` -> ``"Nguyen Van Anh"``, ``"Điện"`` -> ``"Dien"``.

The rule, character by character:

1. ``đ``/``Đ`` become ``d``/``D`` (they have no Unicode decomposition);
2. otherwise the character is decomposed (NFD) and its combining marks are
   dropped (tones, breve, circumflex, horn: ``ủ`` -> ``u``, ``ư`` -> ``u``);
3. what is still not ASCII goes through a small table of look-alikes (curly
   quotes, dashes, no-break and other spaces, ellipsis, ``ß``, ``Æ``, ``Ø``, ...);
4. then through its compatibility decomposition (NFKD), used only when it
   yields ASCII (full-width ``Ａ`` -> ``A``, ``ﬁ`` -> ``fi``, ``²`` -> ``2``);
5. anything left (CJK, emoji, symbols) is replaced by ``replacement``, which is
   empty by default: such characters are dropped.

Whitespace and ASCII control characters pass through unchanged; callers that
need a single line or a length limit apply it after folding.
"""

from __future__ import annotations

import unicodedata
from typing import Literal

from evservice.errors import ValidationError

__all__ = ["fold_ascii", "gsm7_length", "is_gsm7"]

_SPECIAL = {"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"}
_LOOKALIKES = {
    "\u00a0": " ",  # no-break space
    "\u2007": " ",
    "\u202f": " ",
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": "'",
    "\u201b": "'",
    "\u2032": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2033": '"',
    "\u00ab": '"',
    "\u00bb": '"',
    "\u2010": "-",
    "\u2011": "-",
    "\u2012": "-",
    "\u2013": "-",
    "\u2014": "-",
    "\u2015": "-",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u00b7": ".",
    "\u2044": "/",
    "\u00d7": "x",
    "ß": "ss",
    "Æ": "AE",
    "æ": "ae",
    "Œ": "OE",
    "œ": "oe",
    "Ø": "O",
    "ø": "o",
    "Ł": "L",
    "ł": "l",
    "Þ": "Th",
    "þ": "th",
    "ı": "i",
}


def _strip_marks(text: str, form: Literal["NFD", "NFKD"]) -> str:
    return "".join(c for c in unicodedata.normalize(form, text) if not unicodedata.combining(c))


def _fold_char(char: str, replacement: str) -> str:
    if char.isascii():
        return char
    if char in _SPECIAL:
        return _SPECIAL[char]
    base = _strip_marks(char, "NFD")
    if base.isascii():
        return base
    folded = "".join(_LOOKALIKES.get(c, c) for c in base)
    if folded.isascii():
        return folded
    compat = "".join(_LOOKALIKES.get(c, c) for c in _strip_marks(char, "NFKD"))
    if compat.isascii():
        return compat
    return replacement


def fold_ascii(text: str, *, replacement: str = "") -> str:
    """``text`` with Vietnamese (and other Latin) diacritics removed; the result is ASCII.

    ``replacement`` stands in for characters with no ASCII form (default: drop
    them); it must itself be ASCII.
    """
    if not replacement.isascii():
        raise ValidationError("replacement", "must be ASCII")
    return "".join(_fold_char(char, replacement) for char in str(text))


# GSM 03.38 default alphabet (one septet each) and its extension table (two septets:
# the escape 0x1B and the character).
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("\f^{}\\[~]|€")


def is_gsm7(text: str) -> bool:
    """True when ``text`` fits the GSM 7-bit alphabet (with its extension table).

    Such an SMS carries 160 septets per single message; anything else goes as
    UCS-2 with only 70 characters. Most Vietnamese letters with diacritics are
    not GSM-7: fold them first with :func:`fold_ascii`.
    """
    return all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in str(text))


def gsm7_length(text: str) -> int:
    """The number of septets ``text`` takes in GSM-7 (extension characters count two).

    Raises :class:`~evservice.errors.ValidationError` (field ``text``) when the
    text is not GSM-7 (see :func:`is_gsm7`).
    """
    length = 0
    for char in str(text):
        if char in _GSM7_BASIC:
            length += 1
        elif char in _GSM7_EXTENSION:
            length += 2
        else:
            raise ValidationError("text", "has characters outside the GSM 7-bit alphabet")
    return length
