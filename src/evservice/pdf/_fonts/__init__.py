"""The fonts our PDFs use: DejaVu Sans (regular, bold, oblique), shipped with the package.

DejaVu covers every Vietnamese letter as a precomposed glyph, so invoices and
contracts render correctly on a fresh machine without system fonts. The licence
(Bitstream Vera, DejaVu changes in the public domain) is ``LICENSE-DejaVu.txt``
next to the files.

:func:`register` parses the TrueType files once per process and registers them
with reportlab; every later call returns the same names at no cost, so a batch
worker never parses a font per document. reportlab embeds a subset of each font
in every PDF that uses it (needed for PDF/A).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from importlib import resources

from reportlab.lib.fonts import addMapping
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFError, TTFont

from evservice.errors import ConfigurationError

__all__ = ["FontNames", "register"]


@dataclass(frozen=True)
class FontNames:
    """reportlab font names to pass to ``canvas.setFont``."""

    regular: str
    bold: str
    italic: str


_FILES = {
    "EvsDejaVuSans": "DejaVuSans.ttf",
    "EvsDejaVuSans-Bold": "DejaVuSans-Bold.ttf",
    "EvsDejaVuSans-Oblique": "DejaVuSans-Oblique.ttf",
}
_NAMES = FontNames(
    regular="EvsDejaVuSans", bold="EvsDejaVuSans-Bold", italic="EvsDejaVuSans-Oblique"
)
_lock = threading.Lock()
_registered: FontNames | None = None


def register() -> FontNames:
    """Register the shipped fonts with reportlab (once per process) and return their names."""
    global _registered
    if _registered is not None:
        return _registered
    with _lock:
        if _registered is None:
            package = resources.files(__name__)
            for name, filename in _FILES.items():
                try:
                    with resources.as_file(package / filename) as path:
                        font = TTFont(name, str(path))
                except (OSError, TTFError) as exc:
                    raise ConfigurationError(f"cannot load the font file {filename}") from exc
                pdfmetrics.registerFont(font)
            family = _NAMES.regular
            addMapping(family, 0, 0, _NAMES.regular)
            addMapping(family, 1, 0, _NAMES.bold)
            addMapping(family, 0, 1, _NAMES.italic)
            addMapping(family, 1, 1, _NAMES.bold)
            _registered = _NAMES
    return _registered
