"""Fixtures of the OTP tests: a document hash and contexts with adjusted policies."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from evservice._context import Context

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
