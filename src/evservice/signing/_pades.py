"""PAdES signatures with pyHanko: B-B, B-T (RFC 3161 time-stamp) and B-LT (validation data).

One incremental update carries the signed XML as an associated file
(``/AFRelationship /Source``, listed in the catalog's ``/AF`` and in the
``EmbeddedFiles`` name tree, Factur-X / PDF/A-3 style) and the signature, so the
PDF signature covers the XML too and one file is enough to verify everything.

Cost per document: the key is parsed once (:class:`~._keys.LoadedKeySigner`) and
``bytes_reserved`` is fixed, so pyHanko signs once instead of doing a dry run to
measure the signature (``bench/bench_signing.py`` measures the difference).
The visible stamp ("Ký bởi ... / Ký ngày ...") is drawn by reportlab in DejaVu
Sans, which has every Vietnamese letter (registered once per process; pyHanko's
own TrueType stamp re-parses and subsets the font per document, ~1 s).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from io import BytesIO
from typing import TYPE_CHECKING, Any, Protocol

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.content import PdfContent
from pyhanko.pdf_utils.embed import EmbeddedFileObject, EmbeddedFileParams, FileSpec
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.layout import BoxConstraints
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError as PyHankoSigningError
from pyhanko.sign.timestamps import TimestampRequestError
from pyhanko.stamp import StaticStampStyle
from pyhanko_certvalidator import ValidationContext

from evservice.clock import VN_TZ, ensure_aware
from evservice.errors import DocumentError, SigningError, TimestampError
from evservice.signing._fastpades import FastAttachment, fast_sign_pdf
from evservice.signing._trust import to_asn1

if TYPE_CHECKING:
    from evservice.signing._signer import Signer

__all__ = [
    "STAMP_TEXT",
    "XML_MIME_TYPE",
    "Attachment",
    "PageBoxLike",
    "PdfSignatureBox",
    "sign_pdf",
]

#: The stamp text: who signed, and when (Vietnam local time).
STAMP_TEXT = "Ký bởi: %(signer)s\nKý ngày: %(ts)s"
XML_MIME_TYPE = "text/xml"


class PageBoxLike(Protocol):
    """A box as the PDF renderers describe it (``RenderedPdf.signature_box``)."""

    @property
    def page(self) -> int: ...

    @property
    def rect(self) -> tuple[float, float, float, float]: ...


@dataclass(frozen=True)
class PdfSignatureBox:
    """Where the visible signature goes: a page (0 = first) and a box in PDF points."""

    box: tuple[float, float, float, float]  # x1, y1, x2, y2 from the bottom left
    page: int = 0

    @classmethod
    def of(cls, box: PdfSignatureBox | PageBoxLike) -> PdfSignatureBox:
        """Accept ours or anything with ``page`` and ``rect`` (the invoice PDF's ``PageBox``)."""
        if isinstance(box, PdfSignatureBox):
            return box
        x1, y1, x2, y2 = box.rect
        return cls(box=(x1, y1, x2, y2), page=box.page)

    def as_ints(self) -> tuple[int, int, int, int]:
        x1, y1, x2, y2 = self.box
        return round(x1), round(y1), round(x2), round(y2)


def _font_name() -> str:
    """The shipped DejaVu Sans, registered with reportlab once per process."""
    from evservice.pdf import register_fonts  # loads reportlab: on first use only

    return register_fonts().regular


def _stamp_pdf(text: str, width: float, height: float) -> bytes:
    """A one-page PDF the size of the box: a frame and ``text``, shrunk until it fits.

    Drawn with reportlab, whose TrueType subsetting costs little per document,
    and imported by pyHanko as the signature's appearance.
    """
    from reportlab.pdfgen import canvas

    from evservice.pdf import stamp_layout

    font = _font_name()
    out = BytesIO()
    page = canvas.Canvas(out, pagesize=(width, height), pageCompression=1)
    page.setLineWidth(0.8)
    page.setStrokeColorRGB(0.1, 0.45, 0.2)
    page.rect(0.4, 0.4, width - 0.8, height - 0.8)
    margin = 4.0
    size, lines = stamp_layout(text, font, width, height)
    page.setFillColorRGB(0.1, 0.45, 0.2)
    page.setFont(font, size)
    y = height - margin - size
    for line in lines:
        page.drawString(margin, y, line)
        y -= size * 1.25
    page.showPage()
    page.save()
    return out.getvalue()


class _StampPage(PdfContent):
    """Page 1 of an in-memory PDF, imported as a form XObject (pyHanko reads only files)."""

    def __init__(self, data: bytes) -> None:
        super().__init__()
        self._data = data

    def render(self) -> bytes:
        reader = PdfFileReader(BytesIO(self._data))
        xobject = self._ensure_writer.import_page_as_xobject(reader, page_ix=0)
        name = "/EvsStamp"
        self.resources.xobject[name] = xobject
        x1, y1, x2, y2 = xobject.get_object()["/BBox"]
        self.box = BoxConstraints(width=abs(x1 - x2), height=abs(y1 - y2))
        return b"/EvsStamp Do"


def _stamp_text(signer_name: str, when: datetime, development: bool) -> str:
    text = STAMP_TEXT % {"signer": signer_name, "ts": when.strftime("%d/%m/%Y %H:%M:%S (GMT+7)")}
    if development:
        text += "\nKHÓA THỬ NGHIỆM - DEVELOPMENT ONLY"
    return text


def _stamp_style(
    signer_name: str, when: datetime, box: PdfSignatureBox, development: bool
) -> StaticStampStyle:
    x1, y1, x2, y2 = box.as_ints()
    data = _stamp_pdf(_stamp_text(signer_name, when, development), abs(x2 - x1), abs(y2 - y1))
    return StaticStampStyle(background=_StampPage(data), border_width=0, background_opacity=1.0)


class _TimedPdfSigner(signers.PdfSigner):
    """pyHanko's ``PdfSigner`` with the signing time passed in (it reads the system clock)."""

    def __init__(self, *args: Any, signing_time: datetime, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._signing_time = signing_time

    def init_signing_session(self, pdf_out: Any, existing_fields_only: bool = False) -> Any:
        session = super().init_signing_session(pdf_out, existing_fields_only=existing_fields_only)
        session.system_time = self._signing_time
        return session


#: An extra associated file: (file name, MIME type, bytes, AFRelationship such as
#: "Source", "Data", "Alternative" or "Supplement").
Attachment = tuple[str, str, bytes, str]

_XML_DESCRIPTION = "Hóa đơn điện tử (XML đã ký) - the signed e-invoice XML, the legal record"


def _embed(
    writer: IncrementalPdfFileWriter,
    data: bytes,
    filename: str,
    when: datetime,
    *,
    mime_type: str = XML_MIME_TYPE,
    relationship: str = "Source",
    description: str | None = _XML_DESCRIPTION,
) -> None:
    """Add ``data`` as an associated file of the document (``/AF`` and EmbeddedFiles)."""
    stream = EmbeddedFileObject.from_file_data(
        writer,
        data,
        mime_type=mime_type,
        params=EmbeddedFileParams(creation_date=when, modification_date=when),
    )
    spec = FileSpec(
        file_spec_string=filename,
        file_name=filename,
        embedded_data=stream,
        description=description,
        af_relationship=generic.pdf_name("/" + relationship.lstrip("/")),
    )
    spec_ref = writer.add_object(spec.as_pdf_object())
    root = writer.root
    if "/Names" in root:
        names = root["/Names"]
    else:
        names = generic.DictionaryObject()  # type: ignore[no-untyped-call]
        root["/Names"] = writer.add_object(names)
    if "/EmbeddedFiles" in names:
        tree = names["/EmbeddedFiles"]
    else:
        tree = generic.DictionaryObject()  # type: ignore[no-untyped-call]
        names["/EmbeddedFiles"] = writer.add_object(tree)
    if "/Kids" in tree:
        raise DocumentError("the PDF's EmbeddedFiles name tree is nested; not supported")
    pairs = list(tree["/Names"]) if "/Names" in tree else []
    existing = [str(pairs[i]) for i in range(0, len(pairs), 2)]
    if filename in existing:
        raise DocumentError(f"the PDF already embeds a file named {filename!r}")
    entries = sorted(
        [*zip(existing, pairs[1::2], strict=True), (filename, spec_ref)], key=lambda p: p[0]
    )
    tree["/Names"] = generic.ArrayObject(
        item for name, ref in entries for item in (generic.pdf_string(name), ref)
    )
    af = list(root["/AF"]) if "/AF" in root else []
    root["/AF"] = generic.ArrayObject([*af, spec_ref])
    for container in (tree, names):
        if isinstance(container, generic.DictionaryObject) and container.container_ref:
            writer.update_container(container)
    writer.update_root()  # type: ignore[no-untyped-call]


def _field_name(writer: IncrementalPdfFileWriter) -> str:
    taken = {name for name, _, _ in fields.enumerate_sig_fields(writer.prev)}
    n = 1
    while f"Signature{n}" in taken:
        n += 1
    return f"Signature{n}"


def sign_pdf(
    pdf: bytes,
    signer: Signer,
    *,
    signing_time: datetime,
    box: PdfSignatureBox | PageBoxLike | None = None,
    embedded_xml: bytes | None = None,
    xml_filename: str = "invoice.xml",
    reason: str | None = None,
    location: str | None = None,
    attachments: Sequence[Attachment] = (),
) -> bytes:
    """PAdES-sign ``pdf`` (bytes in, bytes out) at the signer's level.

    ``box`` places the visible stamp (signer name and time); without it the
    signature is invisible. ``embedded_xml`` is attached before signing, in the
    same revision, so the signature covers it; so are ``attachments`` (other
    associated files, e.g. a contract's XML and its consent evidence).

    B-B and B-T signatures of PDFs our renderer made are appended directly
    (:mod:`evservice.signing._fastpades`, a few milliseconds); B-LT and any
    other PDF go through pyHanko's incremental writer. Both write the same
    structure and pass the same verifiers.
    """
    when = ensure_aware(signing_time).astimezone(VN_TZ)
    box = PdfSignatureBox.of(box) if box is not None else None
    files: list[FastAttachment] = []
    if embedded_xml is not None:
        files.append((xml_filename, XML_MIME_TYPE, embedded_xml, "Source", _XML_DESCRIPTION))
    files.extend((name, mime, data, rel, None) for name, mime, data, rel in attachments)
    fast = fast_sign_pdf(
        pdf,
        signer,
        when=when,
        page=box.page if box is not None else 0,
        rect=box.as_ints() if box is not None else None,
        stamp_text=(
            _stamp_text(signer.signer_name, when, signer.development) if box is not None else None
        ),
        stamp_font=_font_name() if box is not None else None,
        files=files,
        reason=reason,
        location=location,
    )
    if fast is not None:
        return fast
    return _sign_with_pyhanko(
        pdf,
        signer,
        when=when,
        box=box,
        embedded_xml=embedded_xml,
        xml_filename=xml_filename,
        reason=reason,
        location=location,
        attachments=attachments,
    )


def _sign_with_pyhanko(
    pdf: bytes,
    signer: Signer,
    *,
    when: datetime,
    box: PdfSignatureBox | None,
    embedded_xml: bytes | None,
    xml_filename: str,
    reason: str | None,
    location: str | None,
    attachments: Sequence[Attachment],
) -> bytes:
    """The general path: pyHanko's incremental writer and ``PdfSigner`` (any PDF, any level)."""
    try:
        writer = IncrementalPdfFileWriter(BytesIO(pdf), strict=False)
    except (PdfError, ValueError, KeyError, TypeError) as exc:
        raise DocumentError(f"the PDF cannot be read: {exc}") from exc
    try:
        if embedded_xml is not None:
            _embed(writer, embedded_xml, xml_filename, when)
        for filename, mime_type, data, relationship in attachments:
            _embed(
                writer,
                data,
                filename,
                when,
                mime_type=mime_type,
                relationship=relationship,
                description=None,
            )
        name = _field_name(writer)
        level = signer.pades_level
        context = None
        if level == "B-LT":
            context = ValidationContext(
                trust_roots=[to_asn1(c) for c in signer.trust_roots],
                other_certs=[to_asn1(c) for c in signer.chain],
                allow_fetching=True,
            )
        meta = signers.PdfSignatureMetadata(
            field_name=name,
            md_algorithm="sha256",
            subfilter=fields.SigSeedSubFilter.PADES,
            reason=reason,
            location=location,
            embed_validation_info=level == "B-LT",
            validation_context=context,
        )
        spec = (
            fields.SigFieldSpec(sig_field_name=name, on_page=box.page, box=box.as_ints())
            if box is not None
            else fields.SigFieldSpec(sig_field_name=name)
        )
        pdf_signer = _TimedPdfSigner(
            meta,
            signer=signer.signer,
            timestamper=signer.timestamper if level != "B-B" else None,
            stamp_style=(
                _stamp_style(signer.signer_name, when, box, signer.development)
                if box is not None
                else None
            ),
            new_field_spec=spec,
            signing_time=when,
        )
        with signer.guard():
            out = pdf_signer.sign_pdf(writer, bytes_reserved=signer.bytes_reserved)
    except TimestampRequestError as exc:
        raise TimestampError(f"the time-stamp authority failed: {exc}") from exc
    except (PyHankoSigningError, PdfError) as exc:
        raise SigningError(f"PAdES signing failed: {exc}") from exc
    except DocumentError:
        raise
    except Exception as exc:  # pyHanko wraps little; keep the cause chained
        if "timestamp" in type(exc).__name__.lower():
            raise TimestampError(f"the time-stamp authority failed: {exc}") from exc
        raise SigningError(f"PAdES signing failed: {type(exc).__name__}: {exc}") from exc
    return bytes(out.getvalue())
