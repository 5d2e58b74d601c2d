"""``evservice otp``: authenticator apps (TOTP) for customers and the provider's representative.

``enrol`` prints the ``otpauth://`` URI and draws its QR code in the terminal
(and as SVG/PNG files when asked), with the portal page that shows the same
code; ``confirm`` activates the enrolment with the app's first code and
prints the recovery codes, once. ``status``, ``recovery-codes`` (new ones,
the old stop working) and ``revoke`` act on the active enrolment. The secret
and the recovery codes are printed for the holder and never logged.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evservice import otp
from evservice.cli._common import JsonOpt, context, echo_json
from evservice.errors import DocumentError
from evservice.otp import TotpEnrolment

__all__ = ["app"]

app = typer.Typer(
    help="Authenticator apps (TOTP): enrol, confirm, recovery codes, status, revoke.",
    no_args_is_help=True,
)

HolderArg = Annotated[
    str, typer.Argument(help="Customer code (or the representative's staff code); no phone/e-mail.")
]
RepresentativeOpt = Annotated[
    bool, typer.Option("--representative", help="The holder is the provider's representative.")
]


def _kind(representative: bool) -> str:
    return "representative" if representative else "customer"


def _write(path: Path, data: bytes) -> None:
    try:
        path.write_bytes(data)
        path.chmod(0o600)  # it carries the secret
    except OSError as exc:
        raise DocumentError(f"cannot write {path}: {exc.strerror or exc}") from exc


def _facts(enrolment: TotpEnrolment) -> dict[str, object]:
    return {
        "enrolment_id": enrolment.id,
        "holder_kind": enrolment.holder_kind,
        "holder": enrolment.holder,
        "issuer": enrolment.issuer,
        "status": enrolment.status,
        "digits": enrolment.digits,
        "period": enrolment.period,
        "algorithm": enrolment.algorithm,
        "confirmed_at": enrolment.confirmed_at.isoformat() if enrolment.confirmed_at else None,
        "recovery_codes_left": enrolment.recovery_codes_left,
    }


@app.command("enrol")
def enrol_cmd(
    holder: HolderArg,
    representative: RepresentativeOpt = False,
    issuer: Annotated[str | None, typer.Option(help="Issuer the app shows.")] = None,
    svg: Annotated[Path | None, typer.Option(help="Also write the QR code as SVG.")] = None,
    png: Annotated[Path | None, typer.Option(help="Also write the QR code as PNG.")] = None,
    qr: Annotated[bool, typer.Option(help="Draw the QR code in the terminal.")] = True,
    as_json: JsonOpt = False,
) -> None:
    """Start an enrolment: the URI and QR code to scan with the authenticator app."""
    ctx = context()
    new = otp.enrol_totp(holder, kind=_kind(representative), issuer=issuer, ctx=ctx)
    if svg is not None:
        _write(svg, new.qr_svg().encode())
    if png is not None:
        _write(png, new.qr_png())
    link = otp.enrolment_link(new.enrolment.id, ctx)
    if as_json:
        echo_json({**_facts(new.enrolment), "uri": new.uri, "secret": new.secret, "link": link})
        return
    if qr:
        typer.echo(new.qr_text())
    typer.echo(f"enrolment {new.enrolment.id} for {new.enrolment.label} (pending)")
    typer.echo(f"  uri     {new.uri}")
    typer.echo(f"  secret  {new.secret_groups}")
    if link:
        typer.echo(f"  page    {link}")
    typer.echo(f"then: evservice otp confirm {new.enrolment.id} CODE")


@app.command("confirm")
def confirm_cmd(
    enrolment_id: Annotated[str, typer.Argument(help="The enrolment id printed by enrol.")],
    code: Annotated[str, typer.Argument(help="The code the app shows now.")],
    as_json: JsonOpt = False,
) -> None:
    """Activate an enrolment with the app's first code; print the recovery codes (once)."""
    codes = otp.confirm_enrolment(enrolment_id, code, ctx=context())
    if as_json:
        echo_json({"enrolment_id": enrolment_id, "status": "active", "recovery_codes": codes})
        return
    typer.echo(f"enrolment {enrolment_id} is active. Recovery codes (each works once; keep them):")
    for recovery in codes:
        typer.echo(f"  {recovery}")


@app.command("status")
def status_cmd(
    holder: HolderArg, representative: RepresentativeOpt = False, as_json: JsonOpt = False
) -> None:
    """The active enrolment of a holder and its recovery codes left."""
    enrolment = otp.get_enrolment(holder, kind=_kind(representative), ctx=context())
    if as_json:
        echo_json(_facts(enrolment))
        return
    typer.echo(
        f"{enrolment.label}: {enrolment.status} since {enrolment.confirmed_at:%Y-%m-%d %H:%M %Z}, "
        f"{enrolment.algorithm} {enrolment.digits} digits / {enrolment.period} s, "
        f"{enrolment.recovery_codes_left} recovery codes left (enrolment {enrolment.id})"
    )


@app.command("recovery-codes")
def recovery_cmd(
    holder: HolderArg, representative: RepresentativeOpt = False, as_json: JsonOpt = False
) -> None:
    """Make new recovery codes for the active enrolment; the old ones stop working."""
    codes = otp.regenerate_recovery_codes(holder, kind=_kind(representative), ctx=context())
    if as_json:
        echo_json({"holder": holder, "recovery_codes": codes})
        return
    typer.echo("new recovery codes (each works once; the old ones no longer do):")
    for recovery in codes:
        typer.echo(f"  {recovery}")


@app.command("revoke")
def revoke_cmd(
    holder: HolderArg, representative: RepresentativeOpt = False, as_json: JsonOpt = False
) -> None:
    """Withdraw the active enrolment (a lost phone): its codes and recovery codes stop working."""
    enrolment = otp.revoke_totp(holder, kind=_kind(representative), ctx=context())
    if as_json:
        echo_json(_facts(enrolment))
        return
    typer.echo(f"enrolment {enrolment.id} of {enrolment.label} revoked")
