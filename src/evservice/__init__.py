"""evservice: signed e-invoices and contracts, QR payment codes, OTP consent, verifiable audit."""

from evservice._context import Context
from evservice.clock import Clock, ManualClock, SystemClock
from evservice.config import Settings, get_settings
from evservice.errors import EvServiceError, ValidationError
from evservice.verification import verify

__version__ = "0.1.0"

__all__ = [
    "Clock",
    "Context",
    "EvServiceError",
    "ManualClock",
    "Settings",
    "SystemClock",
    "ValidationError",
    "__version__",
    "get_settings",
    "verify",
]
