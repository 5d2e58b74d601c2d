"""EMVCo merchant-presented QR payloads (EMV QRCPS MPM): TLV encoder, decoder and checks.

A payload is a run of fields ``ID`` (2 digits) ``length`` (2 digits) ``value``.
Some IDs are templates whose value is itself a run of fields: the merchant
account templates 26-51, the additional data template 62, the language template
64 and the unreserved templates 80-99 (and, inside 62, the payment system
templates 50-99). ``00`` (payload format ``01``) comes first and ``63`` (the
CRC) last; the CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF) covers everything
up to and including ``6304``. The whole payload is at most 512 characters.

Lengths count characters. Values are printable ASCII ("ans") except inside the
language template 64, which may carry any printable Unicode; the CRC is taken
over the UTF-8 bytes.

In the python-stdnum style this module offers :func:`compact`, :func:`validate`,
:func:`is_valid` and :func:`format`; :func:`encode` and :func:`decode` convert
between payload text and :class:`Field` trees.
"""

from __future__ import annotations

import binascii
import re
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass

from evservice.errors import PaymentCodeError

__all__ = [
    "MAX_LENGTH",
    "Field",
    "Payload",
    "compact",
    "crc16",
    "decode",
    "encode",
    "format",
    "is_valid",
    "validate",
]

#: Largest payload EMVCo allows, in characters, CRC included.
MAX_LENGTH = 512

#: Merchant account template GUIDs whose sub-field 01 is itself a template.
#: VietQR (NAPAS): 38/01 holds 00 = acquirer BIN and 01 = account or card number.
NESTED_ACCOUNT_FIELDS: dict[str, frozenset[str]] = {"A000000727": frozenset({"01"})}


@dataclass(frozen=True, slots=True)
class Field:
    """One TLV field: a 2-digit ``tag`` and either text or a tuple of sub-fields."""

    tag: str
    value: str | tuple[Field, ...]

    @property
    def is_template(self) -> bool:
        return isinstance(self.value, tuple)

    def get(self, tag: str) -> Field | None:
        """The sub-field ``tag`` of this template (None if absent or not a template)."""
        if isinstance(self.value, tuple):
            for sub in self.value:
                if sub.tag == tag:
                    return sub
        return None

    def text(self) -> str:
        """The encoded value: the text, or the encoded sub-fields of a template."""
        return _serialize(self.value) if isinstance(self.value, tuple) else self.value


@dataclass(frozen=True, slots=True)
class Payload:
    """A decoded payload: its fields in order (without ``63``) and its CRC."""

    fields: tuple[Field, ...]
    crc: str

    def __iter__(self) -> Iterator[Field]:
        return iter(self.fields)

    def field(self, path: str) -> Field | None:
        """The field at a dotted path such as ``"62.08"`` or ``"38.01.00"``, or None."""
        current: Sequence[Field] = self.fields
        found: Field | None = None
        for tag in path.split("."):
            found = next((f for f in current if f.tag == tag), None)
            if found is None:
                return None
            current = found.value if isinstance(found.value, tuple) else ()
        return found

    def get(self, path: str) -> str | None:
        """The text of the primitive field at ``path`` (``"54"``, ``"62.08"``), or None."""
        found = self.field(path)
        if found is None or isinstance(found.value, tuple):
            return None
        return found.value

    def text(self) -> str:
        """The payload text, CRC included."""
        return f"{_serialize(self.fields)}6304{self.crc}"


# -- rules ---------------------------------------------------------------------------

_ANS = re.compile(r"[\x20-\x7e]*")
_DIGITS = re.compile(r"[0-9]+")
_AMOUNT = re.compile(r"(?=.*[0-9])[0-9]*(?:\.[0-9]*)?")
_TAG = re.compile(r"[0-9]{2}")
_HEX4 = re.compile(r"[0-9A-F]{4}")


@dataclass(frozen=True, slots=True)
class _Rule:
    max_len: int = 99
    min_len: int = 1
    kind: str = "ans"  # ans | n | amount | unicode | alpha
    choices: frozenset[str] = frozenset()


_TOP_RULES: dict[str, _Rule] = {
    "00": _Rule(2, 2, "n", frozenset({"01"})),
    "01": _Rule(2, 2, "n", frozenset({"11", "12"})),
    "52": _Rule(4, 4, "n"),
    "53": _Rule(3, 3, "n"),
    "54": _Rule(13, 1, "amount"),
    "55": _Rule(2, 2, "n", frozenset({"01", "02", "03"})),
    "56": _Rule(13, 1, "amount"),
    "57": _Rule(5, 1, "amount"),
    "58": _Rule(2, 2, "alpha"),
    "59": _Rule(25),
    "60": _Rule(15),
    "61": _Rule(10),
    "63": _Rule(4, 4),
}
_ADDITIONAL_RULES: dict[str, _Rule] = {
    **{f"{i:02d}": _Rule(25) for i in range(1, 9)},
    "09": _Rule(3),
    "10": _Rule(20),
    "11": _Rule(3),
}
_LANGUAGE_RULES: dict[str, _Rule] = {
    "00": _Rule(2, 2, "alpha"),
    "01": _Rule(25, 1, "unicode"),
    "02": _Rule(15, 1, "unicode"),
}
_GENERIC = _Rule()
_UNICODE = _Rule(kind="unicode")

_NAMES: dict[str, str] = {
    "00": "payload format indicator",
    "01": "point of initiation",
    "52": "merchant category code",
    "53": "currency",
    "54": "amount",
    "55": "tip or convenience indicator",
    "56": "convenience fee (fixed)",
    "57": "convenience fee (percentage)",
    "58": "country",
    "59": "merchant name",
    "60": "merchant city",
    "61": "postal code",
    "62": "additional data",
    "63": "CRC",
    "64": "merchant information (alternate language)",
}
_ADDITIONAL_NAMES: dict[str, str] = {
    "01": "bill number",
    "02": "mobile number",
    "03": "store label",
    "04": "loyalty number",
    "05": "reference label",
    "06": "customer label",
    "07": "terminal label",
    "08": "purpose",
    "09": "additional consumer data request",
    "10": "merchant tax ID",
    "11": "merchant channel",
}


def _is_account_template(tag: str) -> bool:
    return 26 <= int(tag) <= 51 or 80 <= int(tag) <= 99


def _is_top_template(tag: str) -> bool:
    return _is_account_template(tag) or tag in ("62", "64")


class _Level:
    """What the sub-fields of one template level may be."""

    __slots__ = ("kind", "nested")

    def __init__(self, kind: str, nested: frozenset[str] = frozenset()) -> None:
        self.kind = kind  # top | account | additional | language | generic
        self.nested = nested

    def is_template(self, tag: str) -> bool:
        if self.kind == "top":
            return _is_top_template(tag)
        if self.kind == "additional":
            return int(tag) >= 50
        if self.kind == "account":
            return tag in self.nested
        return False

    def child(self, tag: str) -> _Level:
        if self.kind == "top":
            if tag == "62":
                return _Level("additional")
            if tag == "64":
                return _Level("language")
            return _Level("account")
        return _Level("generic")

    def rule(self, tag: str) -> _Rule:
        if self.kind == "top":
            return _TOP_RULES.get(tag, _GENERIC)
        if self.kind == "additional":
            return _ADDITIONAL_RULES.get(tag, _GENERIC)
        if self.kind == "language":
            return _LANGUAGE_RULES.get(tag, _UNICODE)
        return _GENERIC


_TOP = _Level("top")


def _account_level(subs: Sequence[Field]) -> _Level:
    """The level of a merchant account template's sub-fields, nested ones set by its GUID."""
    guid = next((s.value for s in subs if s.tag == "00"), None)
    nested = NESTED_ACCOUNT_FIELDS.get(guid, frozenset()) if isinstance(guid, str) else frozenset()
    return _Level("account", nested)


def _where(path: str) -> str:
    return f"tag {path}"


def _check_value(path: str, value: str, rule: _Rule, strict: bool) -> None:
    if not value:
        raise PaymentCodeError(_where(path), "is empty; a field holds 1 to 99 characters")
    if len(value) > 99:
        raise PaymentCodeError(_where(path), f"is {len(value)} characters long; at most 99 fit")
    if rule.kind == "unicode":
        if not value.isprintable():
            raise PaymentCodeError(_where(path), "contains control characters")
    elif not _ANS.fullmatch(value):
        raise PaymentCodeError(_where(path), "must be printable ASCII (no accents, no controls)")
    if not strict:
        return
    if not rule.min_len <= len(value) <= rule.max_len:
        size = (
            f"exactly {rule.max_len}"
            if rule.min_len == rule.max_len
            else f"{rule.min_len} to {rule.max_len}"
        )
        raise PaymentCodeError(_where(path), f"must be {size} characters long, got {len(value)}")
    if rule.kind == "n" and not _DIGITS.fullmatch(value):
        raise PaymentCodeError(_where(path), "must be digits only")
    if rule.kind == "amount" and not _AMOUNT.fullmatch(value):
        raise PaymentCodeError(_where(path), "must be an amount: digits and at most one '.'")
    if rule.kind == "alpha" and not re.fullmatch(r"[A-Za-z]+", value):
        raise PaymentCodeError(_where(path), "must be letters only")
    if rule.choices and value not in rule.choices:
        raise PaymentCodeError(_where(path), f"must be one of {', '.join(sorted(rule.choices))}")


def _check_fields(fields: Sequence[Field], level: _Level, prefix: str, strict: bool) -> None:
    seen: set[str] = set()
    for field in fields:
        path = f"{prefix}.{field.tag}" if prefix else field.tag
        if not isinstance(field.tag, str) or not _TAG.fullmatch(field.tag):
            raise PaymentCodeError(_where(path), "an ID must be two digits")
        if field.tag in seen:
            raise PaymentCodeError(_where(path), "appears twice")
        seen.add(field.tag)
        wants_template = level.is_template(field.tag)
        if isinstance(field.value, tuple):
            if not wants_template:
                raise PaymentCodeError(_where(path), "is a plain field, not a template")
            if not field.value:
                raise PaymentCodeError(_where(path), "is an empty template")
            child = level.child(field.tag)
            if child.kind == "account":
                child = _account_level(field.value)
            _check_fields(field.value, child, path, strict)
            encoded = _serialize(field.value)
            if len(encoded) > 99:
                raise PaymentCodeError(
                    _where(path), f"template is {len(encoded)} characters long; at most 99 fit"
                )
        elif isinstance(field.value, str):
            if wants_template and strict:
                raise PaymentCodeError(_where(path), "is a template; give its sub-fields")
            _check_value(path, field.value, level.rule(field.tag), strict)
        else:
            raise PaymentCodeError(_where(path), "value must be text or a tuple of fields")


def _check_payload_shape(fields: Sequence[Field], strict: bool) -> None:
    if not fields or fields[0].tag != "00":
        raise PaymentCodeError("tag 00", "the payload format indicator must come first")
    if any(f.tag == "63" for f in fields):
        raise PaymentCodeError("tag 63", "the CRC is computed; it must not be given as a field")
    if strict and not any(2 <= int(f.tag) <= 51 for f in fields if _TAG.fullmatch(f.tag)):
        raise PaymentCodeError("payload", "needs at least one merchant account (IDs 02-51)")


# -- encoding -----------------------------------------------------------------------


def _serialize(fields: Iterable[Field]) -> str:
    parts: list[str] = []
    for field in fields:
        value = field.text()
        parts.append(f"{field.tag}{len(value):02d}{value}")
    return "".join(parts)


def crc16(data: str | bytes) -> str:
    """CRC-16/CCITT-FALSE of ``data`` (UTF-8 for text) as four upper-case hex digits."""
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return f"{binascii.crc_hqx(raw, 0xFFFF):04X}"


def encode(fields: Iterable[Field], *, strict: bool = True) -> str:
    """The payload text for ``fields`` (in the order given), with ``6304`` and the CRC.

    Checks every field (IDs, lengths, character sets, templates) and the 512
    character limit; raises :class:`PaymentCodeError` naming the tag.
    """
    items = tuple(fields)
    _check_fields(items, _TOP, "", strict)
    _check_payload_shape(items, strict)
    body = _serialize(items) + "6304"
    text = body + crc16(body)
    if len(text) > MAX_LENGTH:
        raise PaymentCodeError(
            "payload", f"is {len(text)} characters long; EMVCo allows at most {MAX_LENGTH}"
        )
    return text


# -- decoding -----------------------------------------------------------------------


def _parse(text: str, level: _Level, prefix: str, strict: bool) -> tuple[Field, ...]:
    fields: list[Field] = []
    pos = 0
    while pos < len(text):
        head = text[pos : pos + 4]
        where = _where(f"{prefix}.{head[:2]}" if prefix else head[:2])
        if len(head) < 4 or not _TAG.fullmatch(head[:2]) or not _TAG.fullmatch(head[2:]):
            raise PaymentCodeError(
                where if _TAG.fullmatch(head[:2]) else (_where(prefix) if prefix else "payload"),
                f"truncated or malformed field header at position {pos}",
            )
        tag, length = head[:2], int(head[2:])
        value = text[pos + 4 : pos + 4 + length]
        if len(value) < length:
            raise PaymentCodeError(
                where, f"declares {length} characters but only {len(value)} remain"
            )
        path = f"{prefix}.{tag}" if prefix else tag
        if level.is_template(tag):
            child = level.child(tag)
            subs = _parse(value, child, path, strict)
            if child.kind == "account":
                inner = _Level("generic")
                nested = _account_level(subs).nested
                subs = tuple(
                    Field(s.tag, _parse(s.value, inner, f"{path}.{s.tag}", strict))
                    if s.tag in nested and isinstance(s.value, str)
                    else s
                    for s in subs
                )
            fields.append(Field(tag, subs))
        else:
            fields.append(Field(tag, value))
        pos += 4 + length
    return tuple(fields)


def compact(payload: str) -> str:
    """Strip the whitespace and line breaks that scanners and copy-paste add around a payload."""
    return str(payload).strip(" \t\r\n\x00\ufeff")


def decode(payload: str, *, strict: bool = True) -> Payload:
    """Parse and check ``payload``: structure, CRC, 512-character limit, and field rules.

    ``strict=False`` keeps the structural checks (TLV shape, CRC, ASCII) but
    accepts values that break EMVCo's per-field lengths and formats, as some
    issuers' codes do; use it to inspect such codes, never to make them.
    """
    if not isinstance(payload, str):
        raise PaymentCodeError("payload", "must be text")
    text = compact(payload)
    if len(text) > MAX_LENGTH:
        raise PaymentCodeError(
            "payload", f"is {len(text)} characters long; EMVCo allows at most {MAX_LENGTH}"
        )
    if len(text) < 8 or text[-8:-4] != "6304":
        raise PaymentCodeError("tag 63", "the payload must end with the CRC field 6304XXXX")
    body, crc = text[:-4], text[-4:]
    if not _HEX4.fullmatch(crc):
        raise PaymentCodeError("tag 63", "the CRC must be four upper-case hex digits")
    expected = crc16(body)
    if crc != expected:
        raise PaymentCodeError(
            "tag 63", f"CRC {crc} does not match the content (expected {expected})"
        )
    fields = _parse(text[:-8], _TOP, "", strict)
    _check_fields(fields, _TOP, "", strict)
    _check_payload_shape(fields, strict)
    return Payload(fields, crc)


def validate(payload: str) -> str:
    """Return the compacted payload if it is a valid EMVCo QR payload, or raise."""
    return decode(payload).text()


def is_valid(payload: str) -> bool:
    """True when ``payload`` is a valid EMVCo QR payload; never raises."""
    try:
        validate(payload)
    except PaymentCodeError:
        return False
    return True


_SCHEMES = {
    "A000000727": "VietQR / NAPAS",
    "SG.PAYNOW": "PayNow",
    "A000000677010111": "PromptPay",
    "A000000677010112": "PromptPay bill payment",
}
_ACCOUNT_NAMES: dict[tuple[str, str], str] = {
    ("A000000727", "01"): "beneficiary",
    ("A000000727", "02"): "service code",
    ("A000000727/01", "00"): "acquirer BIN",
    ("A000000727/01", "01"): "account or card number",
    ("SG.PAYNOW", "01"): "proxy type",
    ("SG.PAYNOW", "02"): "proxy value",
    ("SG.PAYNOW", "03"): "amount editable",
    ("SG.PAYNOW", "04"): "expiry date",
    ("A000000677010111", "01"): "mobile number",
    ("A000000677010111", "02"): "tax ID",
    ("A000000677010111", "03"): "e-wallet ID",
    ("A000000677010112", "01"): "biller ID",
    ("A000000677010112", "02"): "reference 1",
    ("A000000677010112", "03"): "reference 2",
}


def _name(level: _Level, tag: str, scheme: str) -> str:
    if level.kind == "top":
        if 2 <= int(tag) <= 25:
            return "merchant account (card network)"
        return _NAMES.get(tag, "reserved")
    if level.kind == "additional":
        fallback = "payment system template" if int(tag) >= 50 else "reserved"
        return _ADDITIONAL_NAMES.get(tag, fallback)
    if level.kind == "language":
        return {"00": "language", "01": "merchant name", "02": "merchant city"}.get(tag, "reserved")
    if level.kind == "account" and tag == "00":
        return "globally unique identifier"
    return _ACCOUNT_NAMES.get((scheme, tag), "data")


def _format_fields(fields: Sequence[Field], level: _Level, depth: int, scheme: str) -> list[str]:
    lines: list[str] = []
    indent = "  " * depth
    for field in fields:
        if not isinstance(field.value, tuple):
            lines.append(f"{indent}{field.tag} {_name(level, field.tag, scheme)}: {field.value}")
            continue
        child = level.child(field.tag) if level.kind == "top" else _Level("generic")
        child_scheme = f"{scheme}/{field.tag}"
        name = _name(level, field.tag, scheme)
        if child.kind == "account":
            guid = field.get("00")
            child_scheme = guid.value if guid is not None and isinstance(guid.value, str) else ""
            label = _SCHEMES.get(child_scheme, child_scheme)
            name = f"merchant account ({label})" if label else "merchant account"
        lines.append(f"{indent}{field.tag} {name}")
        lines.extend(_format_fields(field.value, child, depth + 1, child_scheme))
    return lines


def format(payload: str) -> str:
    """A readable listing of the fields, one per line, indented by template.

    Decodes leniently (see :func:`decode`) so that an operator can look at a
    customer's odd code; the CRC must still match.
    """
    decoded = decode(payload, strict=False)
    lines = _format_fields(decoded.fields, _TOP, 0, "")
    lines.append(f"63 CRC: {decoded.crc}")
    return "\n".join(lines)
