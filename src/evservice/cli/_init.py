"""``evservice init``: prepare a deployment's data directory, one step after another.

Each step is a function ``(ctx, force) -> message`` in :data:`STEPS`; later
features add theirs to the same list: the development signing key and its chain
(clearly marked DEVELOPMENT ONLY), the audit log's Ed25519 key (its verifier
key string is printed, for auditors) and the OTP HMAC key. Configured keys are
only checked, never replaced.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from evservice._context import Context
from evservice.config import Settings
from evservice.signing import clear_signer_cache, init_dev_keys
from evservice.signing._devkeys import DEV_TAX_CODE
from evservice.signing._trust import uses_development_key

__all__ = ["STEPS", "init_command", "register"]


def _signing_key(ctx: Context, force: bool, tax_code: str) -> str:
    if not uses_development_key(ctx.settings):
        return "signing key: configured in the settings (no development key needed)"
    paths, created = init_dev_keys(ctx.settings, tax_code=tax_code, clock=ctx.clock, force=force)
    clear_signer_cache()
    state = "created" if created else "already present"
    return (
        f"signing key: development key {state} in {paths.signer_key.parent} "
        f"(certificate subject says DEVELOPMENT ONLY; root {paths.root_cert.name})"
    )


def _audit_key(ctx: Context, force: bool, tax_code: str) -> str:
    from evservice.audit import ensure_log_key, log_key_path, log_public_key_string

    ensure_log_key(ctx.settings)
    return (
        f"audit log key: {log_key_path(ctx.settings)}; verifier key for auditors: "
        f"{log_public_key_string(ctx.settings)}"
    )


def _otp_key(ctx: Context, force: bool, tax_code: str) -> str:
    from evservice.otp import server_key

    server_key(ctx.settings)
    where = ctx.settings.otp_key_path or ctx.settings.keys_dir / "otp-hmac.key"
    return f"OTP key: {where} (codes are stored only as HMACs under this key)"


#: (name, step). A step returns one line saying what it did.
STEPS: list[tuple[str, Callable[[Context, bool, str], str]]] = [
    ("signing-key", _signing_key),
    ("audit-key", _audit_key),
    ("otp-key", _otp_key),
]


def init_command(
    force: Annotated[
        bool, typer.Option("--force", help="Replace development keys that already exist.")
    ] = False,
    tax_code: Annotated[
        str, typer.Option(help="Tax code (MST) for the development certificate's UID.")
    ] = DEV_TAX_CODE,
) -> None:
    """Create what a fresh deployment needs (development keys under data_dir/keys)."""
    ctx = Context(settings=Settings())
    ctx.settings.data_dir.mkdir(parents=True, exist_ok=True)
    for _name, step in STEPS:
        typer.echo(step(ctx, force, tax_code))


def register(app: typer.Typer) -> None:
    """Add the top-level ``init`` command."""
    app.command("init")(init_command)
