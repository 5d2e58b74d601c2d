"""The customer portal: sign contracts with the OTP, look up and verify invoices, see the log.

``create_app(ctx, settings)`` returns the ASGI app (FastAPI); ``evservice
serve`` runs it on uvicorn. Pages are server-rendered HTML that works without
JavaScript, Vietnamese first with an English switch; the JSON API lives
under ``/api/v1`` with its OpenAPI schema. Needs the ``web`` extra
(``pip install 'evservice[web]'``).

Security: CSRF tokens on every form, per-IP and per-challenge rate limits
(the OTP policy still locks a challenge after five wrong codes), a CSP without
inline script or style, ``frame-ancestors 'none'``, contract pages reachable
only through the signed, expiring link of the OTP message, and one 404 for
everything that is not there, so no answer tells whether a code exists.
"""

from evservice.web._app import create_app
from evservice.web._settings import PortalSettings

__all__ = ["PortalSettings", "create_app"]
