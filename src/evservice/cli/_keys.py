"""``evservice keys`` and ``evservice privacy``: data keys of the personal data at rest.

``keys rotate`` makes a new data key for every scope and seals every value
again, a batch per transaction, printing its progress; a killed run resumes
where it stopped when started again. Old keys still open what they sealed
until ``--retire`` drops the ones no value uses. ``keys migrate`` seals the
values of a store written before encryption (or with ``privacy_encrypt`` off),
resumable the same way. ``keys verify`` counts, per table and column, what is
still plaintext and what is under superseded keys, and exits 1 unless both are
0. ``privacy forget`` destroys a person's data keys (crypto-shredding).
"""

from __future__ import annotations

from typing import Annotated

import typer

from evservice import contracts, delivery, invoices, privacy
from evservice._context import Context

__all__ = ["SEALED_TABLES", "app", "privacy_app"]

#: Every table with sealed columns, in the order the passes walk them.
SEALED_TABLES: tuple[privacy.SealedTable, ...] = (
    *invoices.SEALED_TABLES,
    *contracts.SEALED_TABLES,
    *delivery.SEALED_TABLES,
)

app = typer.Typer(help="Data keys of the personal data at rest: rotate, migrate, verify.")
privacy_app = typer.Typer(help="Requests about personal data: forget a customer.")

BatchOpt = Annotated[int, typer.Option(min=1, max=100_000, help="Rows per transaction.")]


def _progress(table: str, rows: int, resealed: int) -> None:
    typer.echo(f"  {table}: {rows} rows read, {resealed} values sealed again")


@app.command("rotate")
def rotate_cmd(
    retire: Annotated[
        bool, typer.Option(help="Then drop the old keys that no stored value uses any more.")
    ] = False,
    batch_size: BatchOpt = 500,
) -> None:
    """New data key per scope; every value sealed again under it (resumable)."""
    result = privacy.rotate(
        Context.default(),
        SEALED_TABLES,
        retire_old=retire,
        batch_size=batch_size,
        progress=_progress,
    )
    resumed = " (resumed)" if result.resumed else ""
    typer.echo(f"rotated{resumed}: {result.resealed} values sealed again")
    if retire:
        typer.echo(f"{result.retired} old keys retired")


@app.command("migrate")
def migrate_cmd(batch_size: BatchOpt = 500) -> None:
    """Seal every plaintext value of the store in place (resumable)."""
    result = privacy.migrate(
        Context.default(), SEALED_TABLES, batch_size=batch_size, progress=_progress
    )
    resumed = " (resumed)" if result.resumed else ""
    typer.echo(f"migrated{resumed}: {result.resealed} values sealed")


@app.command("verify")
def verify_cmd() -> None:
    """Count plaintext values and values under superseded keys; exit 1 unless both are 0."""
    report = privacy.verify(Context.default(), SEALED_TABLES)
    typer.echo(report.summary())
    if not report.ok:
        raise typer.Exit(1)


@privacy_app.command("forget")
def forget_cmd(
    customer: Annotated[
        list[str],
        typer.Argument(
            help="The customer's phone numbers, e-mail addresses or customer codes (all of them)."
        ),
    ],
) -> None:
    """Destroy the customer's data keys: contracts and messages read as erased,
    issued invoices stay (the law keeps them). Recorded in the audit log."""
    result = privacy.forget(Context.default(), customer, SEALED_TABLES, actor="operator")
    typer.echo(result.summary())


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="keys")
    root.add_typer(privacy_app, name="privacy")
