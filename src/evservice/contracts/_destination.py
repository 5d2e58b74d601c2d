"""Where a signer's code goes: a phone number, an e-mail address, or an authenticator app.

The raw phone number or e-mail address is read from the contract's draft here
and handed straight to the channel; for the ``totp`` channel the answer is the
holder code the signer's app is enrolled under (``customer.customer_code``,
``provider.representative_code``), never a contact detail.
"""

from __future__ import annotations

from evservice.contracts._model import Contract, SignerRole
from evservice.errors import ValidationError

__all__ = ["destination"]

_HOLDER_FIELD = {
    SignerRole.CUSTOMER: "customer.customer_code",
    SignerRole.REPRESENTATIVE: "provider.representative_code",
}


def destination(contract: Contract, role: SignerRole, channel: str) -> str:
    """The destination of ``role``'s code by ``channel`` (``sms``, ``email`` or ``totp``)."""
    d = contract.draft
    if channel == "totp":
        if role is SignerRole.CUSTOMER:
            holder = d.customer.customer_code
        else:
            holder = d.provider.representative_code
        if not holder:
            raise ValidationError(
                _HOLDER_FIELD[role], "is needed to sign with the authenticator app"
            )
        return holder
    if role is SignerRole.REPRESENTATIVE:
        if channel != "email":
            raise ValidationError("channel", "the representative signs by e-mail or with the app")
        if not d.provider.representative_email:
            raise ValidationError("provider.representative_email", "is needed to countersign")
        return d.provider.representative_email
    value = d.customer.phone if channel == "sms" else d.customer.email
    if not value:
        what = "phone number" if channel == "sms" else "e-mail address"
        raise ValidationError("channel", f"the customer has no {what}; use the other channel")
    return value
