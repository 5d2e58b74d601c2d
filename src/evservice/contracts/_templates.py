"""Contract templates (Jinja2) rendered into numbered articles and clauses.

A template is plain text: a line ``# Title`` opens an article (Điều), every
other non-empty line is one clause of the current article. Numbering is done
here, not in the template, so an edit never leaves a gap. The Jinja2
environment is built once per process.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import cache

import jinja2

from evservice.contracts._model import ContractDraft, ContractKind
from evservice.errors import DocumentError
from evservice.money import format_vnd

__all__ = ["TITLES", "Article", "Clause", "render_clauses"]

TITLES = {
    ContractKind.ELECTRICITY: "HỢP ĐỒNG MUA BÁN ĐIỆN PHỤC VỤ MỤC ĐÍCH SINH HOẠT",
    ContractKind.INTERNET: "HỢP ĐỒNG CUNG CẤP VÀ SỬ DỤNG DỊCH VỤ INTERNET",
}


@dataclass(frozen=True)
class Clause:
    number: str  # "2.3"
    text: str


@dataclass(frozen=True)
class Article:
    number: int
    title: str
    clauses: tuple[Clause, ...]


def _vn_date(value: date) -> str:
    return f"{value.day:02d}/{value.month:02d}/{value.year}"


def _money(value: Decimal) -> str:
    return format_vnd(value)


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("evservice.contracts", "templates"),
        autoescape=False,  # noqa: S701 - plain text, escaped by the XML and PDF writers
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals.update(money=_money, date=_vn_date)
    return env


def render_clauses(draft: ContractDraft) -> tuple[Article, ...]:
    """The contract's articles with numbered clauses, from the template of its kind."""
    try:
        template = _environment().get_template(f"{draft.kind.value}.j2")
        text = template.render(terms=draft.terms, start_date=draft.start_date, draft=draft)
    except jinja2.TemplateError as exc:
        raise DocumentError(f"contract template {draft.kind.value}: {exc}") from exc
    articles: list[Article] = []
    title: str | None = None
    clauses: list[Clause] = []
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if not line:
            continue
        if line.startswith("# "):
            if title is not None:
                articles.append(Article(len(articles) + 1, title, tuple(clauses)))
            title, clauses = line[2:], []
            continue
        if title is None:
            raise DocumentError(f"contract template {draft.kind.value}: clause before any article")
        clauses.append(Clause(f"{len(articles) + 1}.{len(clauses) + 1}", line))
    if title is not None:
        articles.append(Article(len(articles) + 1, title, tuple(clauses)))
    return tuple(articles)
