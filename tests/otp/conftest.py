"""Fixtures of the OTP tests: a document hash and contexts with adjusted policies."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from evservice._context import Context
from evservice.store import _engine


def release_engine(url: str) -> None:
    """Dispose of the cached engine for ``url`` in this process, if any."""
    engine = _engine._engines.get((os.getpid(), url))
    if engine is not None:
        engine.dispose()


CONTRACT = "Hợp đồng mua bán điện HD2026-000123 ... (the exact PDF the customer saw)"


@pytest.fixture
def doc() -> str:
    """SHA-256 of the document shown to the customer."""
    return hashlib.sha256(CONTRACT.encode()).hexdigest()


@pytest.fixture
def other_doc() -> str:
    """SHA-256 of the same contract with one clause changed."""
    return hashlib.sha256((CONTRACT + " (edited)").encode()).hexdigest()


@pytest.fixture
def with_settings(ctx: Context) -> Callable[..., Context]:
    """``with_settings(otp_max_sends_per_recipient=3)``: the same store and clock, other knobs."""

    def make(**values: Any) -> Context:
        return Context(settings=ctx.settings.model_copy(update=values), clock=ctx.clock)

    return make


@pytest.fixture(autouse=True)
def _release_connections(request: pytest.FixtureRequest) -> Iterator[None]:
    """Close the test's pooled connections when it ends.

    Each test's PostgreSQL schema has its own engine, cached for the session;
    idle pools would otherwise pile up towards the server's connection limit
    (the concurrency tests open up to 15 connections each).
    """
    url = request.getfixturevalue("db_url") if "db_url" in request.fixturenames else None
    yield
    if url is not None:
        release_engine(url)
