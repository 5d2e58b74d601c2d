"""``evservice init``: prepare a deployment's data directory, one step after another.

Each step is a function ``(ctx, force) -> message`` in :data:`STEPS`; later
features add theirs to the same list: the development signing key and its chain
(clearly marked DEVELOPMENT ONLY), the audit log's Ed25519 key (its verifier
key string is printed, for auditors) and the OTP HMAC key. Configured keys are
only checked, never replaced.

A batch on the operator's own file needs the seller (``EVSERVICE_SELLER_*``)
and the payee of the QR code (``EVSERVICE_PAYEE_*``): ``init --env .env``
writes a template with every such setting commented out, to be filled in; run
in a terminal without ``--env``, ``init`` offers to write ``./.env`` when there
is none. The template's lines are commented so that an unfilled template makes
the batch refuse to start ("the seller of the invoices is not configured")
instead of issuing bills for an example company.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

import typer

from evservice._context import Context
from evservice._files import private_dir
from evservice.config import Settings
from evservice.errors import ConfigurationError
from evservice.signing import DEV_TAX_CODE, clear_signer_cache, init_dev_keys, uses_development_key

__all__ = ["ENV_TEMPLATE", "STEPS", "init_command", "register", "write_env_template"]

#: What ``init --env`` writes: every setting a batch on your own file needs, commented out.
ENV_TEMPLATE = """\
# evservice settings (read from ./.env or the environment). Uncomment and fill in.
# The seller printed on every invoice (NBan): name, tax code (MST) and address are required.
# EVSERVICE_SELLER_NAME=Công ty Điện lực Mẫu
# EVSERVICE_SELLER_TAX_CODE=0100101114
# EVSERVICE_SELLER_ADDRESS=Số 1 Phố Mẫu, Hà Nội
# EVSERVICE_SELLER_PHONE=19001288
# EVSERVICE_SELLER_EMAIL=cskh@example.vn
# EVSERVICE_SELLER_BANK_ACCOUNT=0011001234567
# EVSERVICE_SELLER_BANK_NAME=Vietcombank
# The account customers pay into (the VietQR code on each bill): NAPAS BIN and account.
# EVSERVICE_PAYEE_BANK_BIN=970436
# EVSERVICE_PAYEE_ACCOUNT=0011001234567
# EVSERVICE_PAYEE_NAME=CONG TY DIEN LUC MAU
# The invoice series (KHHDon): C or K, the issue year, T, two letters of yours.
# EVSERVICE_INVOICE_SERIES=C26TAA
# The store: SQLite under the data folder by default, or PostgreSQL.
# EVSERVICE_DATA_DIR=evservice-data
# EVSERVICE_DATABASE_URL=postgresql+psycopg://user@host:5432/evservice
"""


def _signing_key(ctx: Context, force: bool, tax_code: str | None) -> str:
    if not uses_development_key(ctx.settings):
        return "signing key: configured in the settings (no development key needed)"
    paths, created = init_dev_keys(ctx.settings, tax_code=tax_code, clock=ctx.clock, force=force)
    clear_signer_cache()
    state = "created" if created else "already present"
    return (
        f"signing key: development key {state} in {paths.signer_key.parent} "
        f"(certificate subject says DEVELOPMENT ONLY; root {paths.root_cert.name})"
    )


def _audit_key(ctx: Context, force: bool, tax_code: str | None) -> str:
    from evservice.audit import ensure_log_key, log_key_path, log_public_key_string

    ensure_log_key(ctx.settings)
    return (
        f"audit log key: {log_key_path(ctx.settings)}; verifier key for auditors: "
        f"{log_public_key_string(ctx.settings)}"
    )


def _otp_key(ctx: Context, force: bool, tax_code: str | None) -> str:
    from evservice.otp import server_key

    server_key(ctx.settings)
    where = ctx.settings.otp_key_path or ctx.settings.keys_dir / "otp-hmac.key"
    return f"OTP key: {where} (codes are stored only as HMACs under this key)"


#: (name, step). A step returns one line saying what it did.
STEPS: list[tuple[str, Callable[[Context, bool, str | None], str]]] = [
    ("signing-key", _signing_key),
    ("audit-key", _audit_key),
    ("otp-key", _otp_key),
]


def write_env_template(path: Path, *, force: bool = False) -> Path:
    """Write :data:`ENV_TEMPLATE` to ``path`` (0600); keep an existing file unless ``force``."""
    if path.exists() and not force:
        raise ConfigurationError(f"{path} exists; keep it, or pass --force to replace it")
    try:
        path.write_text(ENV_TEMPLATE, encoding="utf-8")
        path.chmod(0o600)
    except OSError as exc:
        raise ConfigurationError(f"cannot write {path}: {exc.strerror}") from exc
    return path


def init_command(
    force: Annotated[
        bool, typer.Option("--force", help="Replace development keys (and --env) that exist.")
    ] = False,
    tax_code: Annotated[
        str | None,
        typer.Option(
            help="Tax code (MST) for the development certificate's UID "
            f"(default: EVSERVICE_SELLER_TAX_CODE, else {DEV_TAX_CODE})."
        ),
    ] = None,
    env: Annotated[
        Path | None,
        typer.Option(help="Write a settings template (seller, payee, series, store) here."),
    ] = None,
) -> None:
    """Create what a fresh deployment needs (development keys under data_dir/keys)."""
    ctx = Context(settings=Settings())
    private_dir(ctx.settings.data_dir)
    for _name, step in STEPS:
        typer.echo(step(ctx, force, tax_code))
    if env is None and sys.stdin.isatty() and not Path(".env").exists():
        question = "Write a .env template here for the seller and payee settings a batch needs?"
        if typer.confirm(question, default=False):
            env = Path(".env")
    if env is not None:
        written = write_env_template(env, force=force)
        typer.echo(f"settings template: {written} (uncomment and fill in the seller and payee)")


def register(app: typer.Typer) -> None:
    """Add the top-level ``init`` command."""
    app.command("init")(init_command)
