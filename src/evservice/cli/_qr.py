"""``evservice qr``: make a VietQR payload (text, PNG or SVG) and decode any payment QR payload."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from evservice.errors import DocumentError, PaymentCodeError
from evservice.payments import QUIET_ZONE, EpcTransfer, VietQR, emv, make_qr, make_vietqr

__all__ = ["app"]

app = typer.Typer(help="Payment QR codes: VietQR payloads, PNG/SVG images, decoding.")


def _save(payload: str, path: Path, kind: str, scale: int) -> None:
    try:
        make_qr(payload).save(str(path), kind=kind, scale=scale, border=QUIET_ZONE)
    except OSError as exc:
        raise DocumentError(f"cannot write the {kind.upper()} file {path}: {exc}") from exc


@app.command("vietqr")
def vietqr_command(
    bank_bin: Annotated[str, typer.Option("--bin", help="6-digit NAPAS acquirer BIN.")],
    account: Annotated[str, typer.Option(help="Account number (or card number with --card).")],
    amount: Annotated[str | None, typer.Option(help="Whole dong; makes a dynamic code.")] = None,
    purpose: Annotated[
        str | None, typer.Option(help="Transfer purpose (tag 62.08), folded to ASCII, <= 25.")
    ] = None,
    bill_number: Annotated[str | None, typer.Option(help="Bill number (tag 62.01).")] = None,
    card: Annotated[bool, typer.Option(help="Pay to a card (QRIBFTTC).")] = False,
    png: Annotated[Path | None, typer.Option(help="Also write the code as a PNG file.")] = None,
    svg: Annotated[Path | None, typer.Option(help="Also write the code as an SVG file.")] = None,
    scale: Annotated[int, typer.Option(min=1, max=64, help="Pixels per module (PNG/SVG).")] = 8,
) -> None:
    """Print a VietQR payload; optionally write it as a PNG and/or SVG image."""
    payload = make_vietqr(
        bank_bin, account, amount=amount, purpose=purpose, bill_number=bill_number, card=card
    ).payload()
    typer.echo(payload)
    if png is not None:
        _save(payload, png, "png", scale)
    if svg is not None:
        _save(payload, svg, "svg", scale)


@app.command("decode")
def decode_command(
    payload: Annotated[str, typer.Argument(help="The payload text a scanner read.")],
    lenient: Annotated[
        bool,
        typer.Option(help="Accept values that break EMVCo's field limits (CRC still checked)."),
    ] = False,
) -> None:
    """Print the fields of an EMVCo payload (VietQR, PayNow, PromptPay) or an EPC QR payload."""
    text = payload.replace("\\n", "\n") if payload.startswith("BCD\\n") else payload
    if text.startswith("BCD\n") or text.startswith("BCD\r\n"):
        transfer = EpcTransfer.from_payload(text)
        for name in ("version", "bic", "name", "iban", "amount", "purpose", "reference", "text"):
            value = getattr(transfer, name)
            if value is not None:
                typer.echo(f"{name}: {value}")
        if transfer.information:
            typer.echo(f"information: {transfer.information}")
        return
    if not lenient:
        emv.validate(text)
    typer.echo(emv.format(text))
    if not lenient:
        try:
            code = VietQR.from_payload(text)
        except PaymentCodeError:
            return
        bank = code.bank
        typer.echo(
            "VietQR: "
            + ("dynamic" if code.dynamic else "static")
            + f", to {'card' if code.card else 'account'} {code.account}"
            + f" at {bank.short_name + ' - ' + bank.name if bank else 'BIN ' + code.bank_bin}"
            + (f", amount {code.amount} VND" if code.amount is not None else "")
        )
