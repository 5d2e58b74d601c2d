"""The names of the tax authority's invoice XML (v2.0.x) that our writer and parser share.

Fields of the model that the standard has no element for travel in
``TTChung/TTKhac/TTin`` (``TTruong``/``KDLieu``/``DLieu``), the extension block
providers use for the same purpose:

* ``MaTraCuu``: the lookup code (the name used by CyberBill, SmartSign and others;
  MISA calls it ``TransactionID``, VNPT and Viettel ``Mã tra cứu`` or ``Mã số bí
  mật``; the parser accepts all of them);
* ``MaThamChieu``: the caller's reference (idempotency key) of the draft;
* ``MaNHThuHuong``, ``STKThuHuong``, ``TenTKThuHuong``: the payee account of the
  VietQR code (bank BIN, account, holder);
* then ``draft.extra`` in its order. Line extras go in ``HHDVu/TTKhac``.
"""

from __future__ import annotations

__all__ = [
    "LOOKUP_ALIASES",
    "LOOKUP_CODE_FIELD",
    "MAX_XML_BYTES",
    "PAYEE_ACCOUNT_FIELD",
    "PAYEE_BIN_FIELD",
    "PAYEE_NAME_FIELD",
    "REFERENCE_FIELD",
    "RESERVED",
    "XML_VERSION",
]

#: ``PBan``: the version of the format we write.
XML_VERSION = "2.0.0"
#: ``TTruong`` of the lookup code in ``TTChung/TTKhac``.
LOOKUP_CODE_FIELD = "MaTraCuu"
#: Largest document the parser accepts (an invoice of 10,000 lines is about 2 MB).
MAX_XML_BYTES = 16 * 1024 * 1024

REFERENCE_FIELD = "MaThamChieu"
PAYEE_BIN_FIELD = "MaNHThuHuong"
PAYEE_ACCOUNT_FIELD = "STKThuHuong"
PAYEE_NAME_FIELD = "TenTKThuHuong"
RESERVED = frozenset(
    {
        LOOKUP_CODE_FIELD,
        REFERENCE_FIELD,
        PAYEE_BIN_FIELD,
        PAYEE_ACCOUNT_FIELD,
        PAYEE_NAME_FIELD,
    }
)
# Names other providers give the lookup code, compared case-insensitively.
LOOKUP_ALIASES = frozenset(
    {
        "matracuu",
        "mã tra cứu",
        "ma tra cuu",
        "transactionid",
        "mã số bí mật",
        "masobimat",
        "mtcuu",
        "searchkey",
        "lookupcode",
    }
)
