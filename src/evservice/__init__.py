"""evservice: signed e-invoices and contracts, QR payment codes, OTP consent, verifiable audit.

The library logs under the ``evservice`` logger and, as a library should, adds
only a ``NullHandler``: what is shown, and where, is the application's choice
(the CLI shows nothing but its one-line errors unless ``EVSERVICE_LOG_LEVEL`` is set).
"""

import logging as _logging

from evservice._context import Context
from evservice.clock import Clock, ManualClock, SystemClock
from evservice.config import Settings, get_settings
from evservice.errors import EvServiceError, ValidationError
from evservice.verification import verify

__version__ = "0.1.0"

_logging.getLogger("evservice").addHandler(_logging.NullHandler())

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
