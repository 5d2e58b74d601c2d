"""Amounts in Vietnamese words, as invoices print them (``TgTTTBChu``).

``amount_in_words(13_690_000)`` -> ``"Mười ba triệu sáu trăm chín mươi nghìn đồng"``.

The reading rules, written once:

* digits are read in groups of three; a group that is zero is skipped, except
  that zero on its own is ``"Không đồng"``;
* a group that follows a non-zero higher part is read in full: ``"không trăm"``
  for a zero hundreds digit and ``"linh"`` for a zero tens digit (1,015 ->
  ``"một nghìn không trăm mười lăm"``, 1,000,001 -> ``"một triệu không trăm
  linh một"``); the leading group is read short (105 -> ``"một trăm linh năm"``,
  5 -> ``"năm"``);
* tens: ``"mười"`` for 1 ten, ``"<digit> mươi"`` from 20 up;
* units: ``"mốt"`` after ``"mươi"`` (21 -> ``"hai mươi mốt"``, but 11 ->
  ``"mười một"`` and 101 -> ``"một trăm linh một"``); ``"lăm"`` after ``"mười"`` or
  ``"mươi"`` (15, 25), ``"năm"`` otherwise (105 -> ``"linh năm"``); ``"tư"`` only
  after ``"mươi"`` (24 -> ``"hai mươi tư"``), ``"bốn"`` everywhere else (14 ->
  ``"mười bốn"``, 104 -> ``"một trăm linh bốn"``);
* scales: ``nghìn`` (10^3), ``triệu`` (10^6), ``tỷ`` (10^9); above that the part in
  billions is read as a number of its own followed by ``tỷ``, which gives
  ``"nghìn tỷ"`` for 10^12 and ``"triệu tỷ"`` for 10^15;
* a negative amount (an adjustment that decreases) reads ``"Âm "`` followed by
  the words of its magnitude;
* the first letter is upper case and the words end in ``"đồng"``.

num2words reads 1,015 without ``"không trăm"``, which invoices do not accept,
hence this module.
"""

from __future__ import annotations

from decimal import Decimal

from evservice.errors import ValidationError

__all__ = ["MAX_WORDS_AMOUNT", "amount_in_words"]

#: The largest magnitude that has words here: 10^15 dong ("Một triệu tỷ đồng").
MAX_WORDS_AMOUNT = 10**15

_DIGITS = ("không", "một", "hai", "ba", "bốn", "năm", "sáu", "bảy", "tám", "chín")
_SCALES = ("", "nghìn", "triệu")
_BILLION = 10**9


def _group(number: int, *, full: bool) -> list[str]:
    """Words of ``0 < number < 1000``; ``full`` reads ``không trăm`` and ``linh``."""
    hundreds, rest = divmod(number, 100)
    tens, units = divmod(rest, 10)
    words: list[str] = []
    if hundreds or full:
        words += [_DIGITS[hundreds], "trăm"]
    if tens == 0:
        if units:
            if words:
                words.append("linh")
            words.append(_DIGITS[units])
        return words
    if tens == 1:
        words.append("mười")
    else:
        words += [_DIGITS[tens], "mươi"]
    if units == 1:
        words.append("mốt" if tens > 1 else "một")
    elif units == 4:
        words.append("tư" if tens > 1 else "bốn")
    elif units == 5:
        words.append("lăm")
    elif units:
        words.append(_DIGITS[units])
    return words


def _below_billion(number: int, *, full: bool) -> list[str]:
    """Words of ``0 <= number < 10^9``; ``full`` when a higher part was read before."""
    groups: list[int] = []
    while number:
        number, group = divmod(number, 1000)
        groups.append(group)
    words: list[str] = []
    for index in range(len(groups) - 1, -1, -1):
        group = groups[index]
        if not group:
            continue
        words += _group(group, full=full or bool(words))
        if _SCALES[index]:
            words.append(_SCALES[index])
    return words


def _words(number: int) -> list[str]:
    """Words of ``0 < number <= 10^15`` (no currency)."""
    billions, rest = divmod(number, _BILLION)
    words: list[str] = []
    if billions:
        words += _words(billions)
        words.append("tỷ")
    return words + _below_billion(rest, full=bool(billions))


def _as_whole(amount: object) -> int:
    if isinstance(amount, bool) or not isinstance(amount, int | Decimal):
        raise ValidationError("amount", "must be an int or a Decimal (whole dong)")
    if isinstance(amount, Decimal):
        if not amount.is_finite():
            raise ValidationError("amount", "must be a finite number")
        if amount != amount.to_integral_value():
            raise ValidationError("amount", "must be a whole number of dong")
        return int(amount)
    return amount


def amount_in_words(amount: Decimal | int) -> str:
    """The amount in Vietnamese words, invoice style: ``105`` -> ``"Một trăm linh năm đồng"``.

    Whole amounts from -10^15 to 10^15 dong inclusive; anything else raises
    :class:`~evservice.errors.ValidationError` on the field ``amount``.
    """
    number = _as_whole(amount)
    if abs(number) > MAX_WORDS_AMOUNT:
        raise ValidationError("amount", "is beyond 10^15 dong, the range of amounts in words")
    words = _words(abs(number)) if number else [_DIGITS[0]]
    if number < 0:
        words.insert(0, "âm")
    words.append("đồng")
    text = " ".join(words)
    return text[0].upper() + text[1:]
