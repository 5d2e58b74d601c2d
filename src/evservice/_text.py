"""Which text a document field may hold: what our XML and PDF writers can carry, one line.

XML 1.0 (section 2.2, ``Char``) allows TAB, LF, CR, U+0020-U+D7FF,
U+E000-U+FFFD and U+10000-U+10FFFF; lxml refuses anything else, so a NUL in a
buyer's name used to pass validation and fail only while the numbered
invoice's XML was written. Our PDF writer draws any other code point (a glyph
the font lacks is an empty box), but a field of an invoice or contract is
drawn on one line, so a line break or a tab there is a box too, and the C1
controls (U+0080-U+009F) are mis-decoded bytes, never text. The rule, for
every text field of a document:

* no control character (Unicode category ``Cc``: U+0000-U+001F, U+007F-U+009F;
  this includes TAB, LF and CR, as every field is drawn on one line);
* no surrogate code point (U+D800-U+DFFF: a lone half of a UTF-16 pair, or a
  byte that was not UTF-8, decoded with ``surrogateescape``);
* no noncharacter (U+FDD0-U+FDEF and the last two code points of every plane,
  U+FFFE, U+FFFF, U+1FFFE, ...), which XML 1.0 forbids or discourages.

Everything else (letters of any script, symbols, private-use and unassigned
code points, format characters) is carried by both writers: a property test
renders drafts made of text from the whole Unicode range.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel

from evservice.errors import ValidationError

__all__ = ["check_model_text", "check_text", "first_bad_character"]

_BAD = re.compile("[\x00-\x1f\x7f-\x9f\ud800-\udfff\ufdd0-\ufdef]")


def _is_noncharacter(point: int) -> bool:
    return 0xFDD0 <= point <= 0xFDEF or (point & 0xFFFE) == 0xFFFE


def first_bad_character(text: str) -> int | None:
    """Index of the first character a document field cannot hold, or None."""
    found = _BAD.search(text)
    first = found.start() if found else None
    # U+FFFE/U+FFFF of each plane: rare, so a scan only when the text has such a point.
    for index, char in enumerate(text if first is None else text[:first]):
        if ord(char) >= 0xFFFE and _is_noncharacter(ord(char)):
            return index
    return first


def _describe(char: str) -> str:
    point = ord(char)
    if 0xD800 <= point <= 0xDFFF:
        if 0xDC80 <= point <= 0xDCFF:
            return f"the byte 0x{point - 0xDC00:02X}, which is not UTF-8"
        return f"U+{point:04X}, a lone surrogate"
    if _is_noncharacter(point):
        return f"U+{point:04X}, a noncharacter"
    name = {0x09: "a tab", 0x0A: "a line break", 0x0D: "a line break"}.get(point)
    if name is None:
        name = "a control character" if unicodedata.category(char) == "Cc" else "a character"
    return f"U+{point:04X}, {name}"


def check_text(text: str, field: str) -> str:
    """``text`` unchanged, or :class:`ValidationError` naming ``field`` and the character.

    The message gives the code point and its position, never the text itself
    (names and addresses are personal data).
    """
    index = first_bad_character(text)
    if index is None:
        return text
    raise ValidationError(
        field,
        f"contains {_describe(text[index])} at position {index + 1}, which a document "
        "field cannot hold (one line of text, XML 1.0 characters)",
    )


def check_model_text(model: BaseModel, *, skip: frozenset[str] = frozenset()) -> None:
    """:func:`check_text` on every text field of ``model`` (and every key and value of a
    ``dict[str, str]`` field), naming the field; nested models check themselves."""
    for name in type(model).model_fields:
        if name in skip:
            continue
        value: Any = getattr(model, name)
        if isinstance(value, str):
            check_text(value, name)
        elif isinstance(value, Mapping):
            for key, item in value.items():
                if isinstance(key, str):
                    check_text(key, name)  # a bad key: name the mapping, not the key
                    if isinstance(item, str):
                        check_text(item, f"{name}.{key}")
