"""The portal's words, Vietnamese first, English on request (``?lang=en``, kept in a cookie)."""

from __future__ import annotations

from typing import Literal

__all__ = ["LANG_COOKIE", "Locale", "Translator", "pick_locale"]

Locale = Literal["vi", "en"]
LANG_COOKIE = "evs_lang"

_WORDS: dict[str, tuple[str, str]] = {
    "site": ("Cổng khách hàng", "Customer portal"),
    "nav.invoice": ("Tra cứu hóa đơn", "Look up an invoice"),
    "nav.verify": ("Kiểm tra tệp", "Verify a file"),
    "nav.transparency": ("Minh bạch", "Transparency"),
    "switch": ("English", "Tiếng Việt"),
    "home.lead": (
        "Tra cứu và kiểm tra hóa đơn điện tử, ký hợp đồng bằng mã OTP, xem nhật ký kiểm toán.",
        "Look up and verify e-invoices, sign contracts with a one-time code, see the audit log.",
    ),
    "home.contract": (
        "Để ký hợp đồng, mở liên kết trong tin nhắn chứa mã OTP.",
        "To sign a contract, open the link in the message that brought your code.",
    ),
    "contract.title": ("Hợp đồng", "Contract"),
    "contract.status": ("Trạng thái", "Status"),
    "contract.view": ("Xem hợp đồng (PDF)", "View the contract (PDF)"),
    "contract.download": ("Tải hợp đồng", "Download the contract"),
    "contract.hash": (
        "Mã băm SHA-256 của đúng văn bản này (mã OTP chỉ xác nhận văn bản có mã băm này):",
        "SHA-256 of exactly this document (the code confirms only the document with this hash):",
    ),
    "contract.code": ("Mã OTP (6 chữ số)", "One-time code (6 digits)"),
    "contract.sign": ("Ký hợp đồng", "Sign the contract"),
    "contract.expires": ("Mã hết hạn lúc", "The code expires at"),
    "contract.tries": ("Số lần thử còn lại", "Tries left"),
    "contract.resend": ("Gửi lại mã", "Send a new code"),
    "contract.resend_wait": ("Có thể gửi lại sau {s} giây.", "You can ask again in {s} s."),
    "contract.sends_left": ("Còn {n} lần gửi lại.", "{n} more codes can be sent."),
    "contract.sent": ("Đã gửi mã mới tới {to}.", "A new code was sent to {to}."),
    "contract.to": ("Mã được gửi qua {channel} tới {to}.", "The code goes by {channel} to {to}."),
    "contract.ok": (
        "Đã xác nhận. Cảm ơn Quý khách đã ký hợp đồng.",
        "Confirmed. Thank you for signing the contract.",
    ),
    "contract.wait_seal": (
        "Hợp đồng sẽ được niêm phong sau khi đại diện bên cung cấp ký.",
        "The contract is sealed once the provider's representative has signed.",
    ),
    "contract.sealed": ("Hợp đồng đã được niêm phong.", "The contract is sealed."),
    "contract.sealed_pdf": ("Tải hợp đồng đã niêm phong", "Download the sealed contract"),
    "contract.proof": ("Tải bằng chứng nhật ký", "Download the audit proof"),
    "err.code_mismatch": (
        "Mã không đúng. Còn {n} lần thử.",
        "Wrong code. {n} tries left.",
    ),
    "err.locked": (
        "Đã nhập sai 5 lần: mã này đã bị khóa. Xin liên hệ bên cung cấp để được gửi yêu cầu mới.",
        "Too many wrong codes: this code is locked. Please ask the provider for a new request.",
    ),
    "err.expired": (
        "Mã đã hết hạn. Bấm «Gửi lại mã» để nhận mã mới.",
        "The code has expired. Press “Send a new code” to get another.",
    ),
    "err.used": ("Mã này đã được dùng.", "This code was already used."),
    "err.changed": (
        "Văn bản đã thay đổi so với lúc gửi mã: mã này không xác nhận gì. Xin tải lại trang.",
        "The document changed since the code was sent: the code confirms nothing. Reload.",
    ),
    "err.lifecycle": (
        "Hợp đồng không còn chờ chữ ký này.",
        "The contract no longer waits for this signature.",
    ),
    "err.code_format": ("Mã gồm đúng 6 chữ số.", "The code is exactly 6 digits."),
    "err.rate": (
        "Quá nhiều yêu cầu. Xin thử lại sau {s} giây.",
        "Too many requests. Please try again in {s} s.",
    ),
    "err.not_delivered": (
        "Chưa gửi được mã. Xin thử gửi lại.",
        "The code could not be delivered. Please try again.",
    ),
    "err.csrf": (
        "Phiên biểu mẫu đã hết hạn. Xin tải lại trang và thử lại.",
        "The form has expired. Please reload the page and try again.",
    ),
    "err.link_expired": (
        "Liên kết đã hết hạn. Xin liên hệ bên cung cấp để nhận liên kết mới.",
        "This link has expired. Please ask the provider for a new one.",
    ),
    "err.not_found": (
        "Không tìm thấy. Xin kiểm tra lại thông tin đã nhập.",
        "Not found. Please check what you entered.",
    ),
    "err.too_large": ("Tệp quá lớn (tối đa {mb} MB).", "The file is too large (at most {mb} MB)."),
    "err.file_type": (
        "Chỉ nhận tệp PDF hoặc XML.",
        "Only PDF or XML files are accepted.",
    ),
    "err.no_file": ("Chưa chọn tệp.", "No file was chosen."),
    "err.title": ("Có lỗi", "Something went wrong"),
    "invoice.title": ("Tra cứu hóa đơn điện tử", "Look up an e-invoice"),
    "invoice.code": ("Mã tra cứu", "Lookup code"),
    "invoice.seller_tax": ("Mã số thuế bên bán", "Seller's tax code"),
    "invoice.find": ("Tra cứu", "Look up"),
    "invoice.label": ("Hóa đơn", "Invoice"),
    "invoice.date": ("Ngày lập", "Issue date"),
    "invoice.seller": ("Bên bán", "Seller"),
    "invoice.buyer": ("Bên mua", "Buyer"),
    "invoice.lines": ("Hàng hóa, dịch vụ", "Goods and services"),
    "invoice.amount": ("Thành tiền", "Amount"),
    "invoice.before_tax": ("Cộng tiền hàng", "Total before tax"),
    "invoice.tax": ("Tiền thuế GTGT", "VAT"),
    "invoice.payable": ("Tổng tiền thanh toán", "Total payable"),
    "invoice.status": ("Trạng thái", "Status"),
    "invoice.pdf": ("Tải PDF", "Download PDF"),
    "invoice.xml": ("Tải XML", "Download XML"),
    "invoice.pending": (
        "Tệp hóa đơn đang được tạo, xin quay lại sau.",
        "The invoice files are being made; please come back later.",
    ),
    "invoice.pay": ("Thanh toán bằng VietQR", "Pay with VietQR"),
    "invoice.payload": ("Nội dung mã VietQR", "VietQR payload"),
    "verify.title": ("Kiểm tra chữ ký số", "Verify digital signatures"),
    "verify.lead": (
        "Chọn tệp PDF hoặc XML (của chúng tôi hay của đơn vị khác). "
        "Tệp chỉ được kiểm tra, không lưu.",
        "Choose a PDF or XML file (ours or another issuer's). It is checked, never kept.",
    ),
    "verify.file": ("Tệp", "File"),
    "verify.go": ("Kiểm tra", "Verify"),
    "verify.result": ("Kết quả kiểm tra", "Verification result"),
    "verify.ok": ("HỢP LỆ", "VALID"),
    "verify.failed": ("KHÔNG HỢP LỆ", "NOT VALID"),
    "verify.signatures": ("Chữ ký", "Signatures"),
    "verify.signer": ("Người ký", "Signed by"),
    "verify.time": ("Thời điểm ký", "Signing time"),
    "verify.embedded": ("XML gắn trong PDF", "XML embedded in the PDF"),
    "verify.dev": (
        "Ký bằng khóa thử nghiệm (chỉ dùng để phát triển).",
        "Signed with the development key (DEVELOPMENT ONLY).",
    ),
    "verify.details": ("Báo cáo đầy đủ", "Full report"),
    "tr.title": ("Minh bạch: nhật ký kiểm toán", "Transparency: the audit log"),
    "tr.lead": (
        "Mọi thay đổi trạng thái hóa đơn, hợp đồng và mã OTP được ghi vào một nhật ký Merkle "
        "(RFC 6962). Nhật ký ký các điểm kiểm tra; ai cũng kiểm tra được bằng khóa công khai.",
        "Every change of an invoice, contract or code is appended to a Merkle log (RFC 6962). "
        "The log signs checkpoints that anyone can check with its public key.",
    ),
    "tr.checkpoint": ("Điểm kiểm tra mới nhất", "Latest signed checkpoint"),
    "tr.none": ("Chưa có điểm kiểm tra.", "No checkpoint yet."),
    "tr.key": ("Khóa công khai của nhật ký", "The log's public key"),
    "tr.size": ("Số sự kiện", "Events"),
    "tr.proof": (
        "Bằng chứng cho một hóa đơn hay hợp đồng: tải từ trang tra cứu hóa đơn hoặc trang ký "
        "hợp đồng, rồi kiểm tra ngoại tuyến bằng một lệnh:",
        "A proof for an invoice or contract: download it from the invoice or contract page, "
        "then check it offline with one command:",
    ),
    "tr.standalone": (
        "Hoặc không cần cài evservice (chỉ cần Python và cryptography):",
        "Or without evservice (Python and cryptography only):",
    ),
    "status.draft": ("Bản nháp", "Draft"),
    "status.sent": ("Chờ khách hàng ký", "Waiting for the customer"),
    "status.consented": ("Khách hàng đã ký", "Signed by the customer"),
    "status.countersigned": ("Hai bên đã ký", "Signed by both"),
    "status.sealed": ("Đã niêm phong", "Sealed"),
    "status.declined": ("Bị từ chối", "Declined"),
    "status.voided": ("Đã hủy", "Voided"),
    "status.expired": ("Hết hạn", "Expired"),
    "channel.sms": ("SMS", "SMS"),
    "channel.email": ("thư điện tử", "e-mail"),
    "channel.totp": ("ứng dụng xác thực", "authenticator app"),
    "contract.totp_code": (
        "Mã trong ứng dụng xác thực (6 chữ số) hoặc một mã khôi phục",
        "The code your authenticator app shows (6 digits), or a recovery code",
    ),
    "contract.totp_to": (
        "Không có mã nào được gửi: nhập mã đang hiện trong ứng dụng xác thực đã đăng ký ({to}).",
        "Nothing is sent: type the code your enrolled authenticator app shows now ({to}).",
    ),
    "err.reused": (
        "Mã này vừa được dùng. Xin đợi mã tiếp theo trong ứng dụng (không tính là lần thử sai).",
        "This code was just used. Wait for the app's next code (no try was counted).",
    ),
    "totp.title": ("Đăng ký ứng dụng xác thực", "Set up your authenticator app"),
    "totp.scan": (
        "Quét mã QR này bằng ứng dụng xác thực (Google Authenticator, Microsoft Authenticator, "
        "FreeOTP, ...), hoặc nhập khóa bên dưới. Không chia sẻ mã QR hay khóa này với ai.",
        "Scan this QR code with an authenticator app (Google Authenticator, Microsoft "
        "Authenticator, FreeOTP, ...), or type the key below. Share neither with anyone.",
    ),
    "totp.account": ("Tài khoản", "Account"),
    "totp.secret": ("Khóa (nhập tay)", "Key (to type by hand)"),
    "totp.code": ("Mã đầu tiên ứng dụng hiển thị", "The first code the app shows"),
    "totp.confirm": ("Xác nhận", "Confirm"),
    "totp.done": (
        "Ứng dụng xác thực đã được kích hoạt.",
        "Your authenticator app is set up.",
    ),
    "totp.recovery": (
        "Mã khôi phục: mỗi mã dùng được một lần thay cho mã của ứng dụng (khi mất điện thoại). "
        "Hãy lưu lại ngay: trang này sẽ không hiện lại chúng.",
        "Recovery codes: each works once in place of the app's code (if you lose your phone). "
        "Keep them now: this page will not show them again.",
    ),
    "totp.active": (
        "Đăng ký này đã hoàn tất hoặc không còn hiệu lực; khóa không được hiển thị lại.",
        "This enrolment is complete or no longer valid; its key is not shown again.",
    ),
    "totp.code_format": ("Mã gồm 6 đến 8 chữ số.", "The code is 6 to 8 digits."),
    "yes": ("có", "yes"),
    "no": ("không", "no"),
}


class Translator:
    """``t("key", n=3)``: the text of ``key`` in the locale, with ``{n}`` filled in."""

    def __init__(self, locale: Locale) -> None:
        self.locale: Locale = locale
        self._index = 0 if locale == "vi" else 1

    def __call__(self, key: str, **values: object) -> str:
        text = _WORDS[key][self._index]
        return text.format(**values) if values else text


def pick_locale(query: str | None, cookie: str | None) -> Locale:
    """``?lang=`` first, then the cookie, then Vietnamese."""
    for value in (query, cookie):
        if value == "en":
            return "en"
        if value == "vi":
            return "vi"
    return "vi"
