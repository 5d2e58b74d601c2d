"""``evservice contract``: create, send a code, confirm, decline, void, seal, show.

Drafts are JSON files in the shape of :class:`~evservice.contracts.ContractDraft`.
Codes go through the channel the settings configure (the file outbox by default:
``data_dir/outbox``). ``--json`` prints one JSON document for scripts.
"""

from __future__ import annotations

from typing import Annotated, Literal

import typer

from evservice import contracts
from evservice._context import Context
from evservice.cli._common import JsonOpt, context, echo_json, read_text
from evservice.contracts import ClientInfo, Contract

__all__ = ["app"]

app = typer.Typer(
    help="Contracts signed by OTP: create, send codes, confirm, decline, void, seal.",
    no_args_is_help=True,
)

KeyArg = Annotated[str, typer.Argument(help="Contract id or number (HD2026-000001).")]
ReasonOpt = Annotated[str, typer.Option(help="Why (kept with the contract and in the audit log).")]


def _summary(contract: Contract) -> dict[str, object]:
    return {
        "id": contract.id,
        "number": contract.number,
        "kind": contract.draft.kind.value,
        "status": contract.status.value,
        "customer": contract.draft.customer.name,
        "document_sha256": contract.document_sha256,
        "final_sha256": contract.final_sha256,
    }


def _report(contract: Contract, as_json: bool, ctx: Context) -> None:
    paths = {k: str(v) for k, v in contracts.paths(contract, ctx).items() if v.exists()}
    if as_json:
        echo_json({**_summary(contract), "files": paths})
        return
    typer.echo(f"{contract.number}  {contract.draft.kind.value}  [{contract.status.value}]")
    typer.echo(f"  customer      {contract.draft.customer.name}")
    typer.echo(f"  shown sha256  {contract.document_sha256}")
    if contract.final_sha256:
        typer.echo(f"  final sha256  {contract.final_sha256}")
    for name, path in paths.items():
        typer.echo(f"  {name:<13} {path}")


@app.command("create")
def create_cmd(
    draft: Annotated[str, typer.Argument(help="Draft JSON file, or - for standard input.")],
    as_json: JsonOpt = False,
) -> None:
    """Number a contract and render the document the customer will be shown."""
    ctx = context()
    _report(contracts.create(read_text(draft, "DRAFT"), ctx=ctx), as_json, ctx)


@app.command("show")
def show_cmd(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Status, hashes, files and signers of a contract."""
    ctx = context()
    contract = contracts.get(key, ctx=ctx)
    if as_json:
        echo_json({**_summary(contract), "signers": contracts.signers(key, ctx=ctx)})
        return
    _report(contract, False, ctx)
    for signer in contracts.signers(key, ctx=ctx):
        state = f"signed {signer['signed_at']}" if signer["signed_at"] else "not signed"
        where = f"{signer['channel'] or '-'} {signer['destination'] or ''}".strip()
        typer.echo(f"  signer {signer['position']}: {signer['name']} ({signer['role']}) {where}")
        typer.echo(f"            {state}")


@app.command("send")
def send_cmd(
    key: KeyArg,
    channel: Annotated[
        str,
        typer.Option(
            help="sms, email or totp (authenticator app; the representative: email/totp)."
        ),
    ] = "sms",
    locale: Annotated[str, typer.Option(help="vi or en.")] = "vi",
    as_json: JsonOpt = False,
) -> None:
    """Send the next signer a one-time code for the document shown (totp: nothing is sent)."""
    kinds: dict[str, Literal["sms", "email", "totp"]] = {
        "sms": "sms",
        "email": "email",
        "totp": "totp",
    }
    if channel not in kinds:
        raise typer.BadParameter("must be sms, email or totp", param_hint="--channel")
    if locale not in ("vi", "en"):
        raise typer.BadParameter("must be vi or en", param_hint="--locale")
    kind = kinds[channel]
    lang: Literal["vi", "en"] = "vi" if locale == "vi" else "en"
    sent = contracts.request_consent(key, channel=kind, locale=lang, ctx=context())
    data = {
        "contract": sent.number,
        "role": sent.role.value,
        "challenge_id": sent.challenge_id,
        "channel": sent.channel,
        "destination": sent.destination_masked,
        "expires_at": sent.expires_at.isoformat(),
        "link": sent.link,
    }
    if as_json:
        echo_json(data)
        return
    if sent.channel == "totp":
        typer.echo(
            f"{sent.number}: the {sent.role.value} confirms with the code of the "
            f"{sent.destination_masked}; challenge {sent.challenge_id}, "
            f"valid until {sent.expires_at:%H:%M:%S %Z}"
        )
        if sent.link:
            typer.echo(f"  page {sent.link}")
        return
    typer.echo(
        f"code for {sent.number} sent to the {sent.role.value} by {sent.channel} "
        f"({sent.destination_masked}); challenge {sent.challenge_id}, valid until "
        f"{sent.expires_at:%H:%M:%S %Z}"
    )


@app.command("confirm")
def confirm_cmd(
    challenge_id: Annotated[str, typer.Argument(help="The challenge id printed by send.")],
    code: Annotated[
        str,
        typer.Argument(
            help="The six-digit code the signer received (or the app's, or a recovery code)."
        ),
    ],
    ip: Annotated[str | None, typer.Option(help="The signer's IP address.")] = None,
    user_agent: Annotated[str | None, typer.Option(help="The signer's user agent.")] = None,
    as_json: JsonOpt = False,
) -> None:
    """Confirm a signer's code; the last signature seals the contract."""
    client = ClientInfo(ip=ip, user_agent=user_agent)
    ctx = context()
    _report(contracts.confirm(challenge_id, code, client=client, ctx=ctx), as_json, ctx)


@app.command("decline")
def decline_cmd(key: KeyArg, reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """The customer refuses the contract."""
    ctx = context()
    _report(contracts.decline(key, reason=reason, ctx=ctx), as_json, ctx)


@app.command("void")
def void_cmd(key: KeyArg, reason: ReasonOpt, as_json: JsonOpt = False) -> None:
    """The provider withdraws a contract that is not sealed."""
    ctx = context()
    _report(contracts.void(key, reason=reason, ctx=ctx), as_json, ctx)


@app.command("seal")
def seal_cmd(key: KeyArg, as_json: JsonOpt = False) -> None:
    """Seal a countersigned contract again (after an interruption); a no-op once sealed."""
    ctx = context()
    _report(contracts.seal(key, ctx=ctx), as_json, ctx)
