from __future__ import annotations

import itertools

import pytest

from evservice.contracts._lifecycle import ALLOWED, check_transition
from evservice.contracts._model import ContractStatus as S
from evservice.errors import LifecycleError

HAPPY_PATH = [S.DRAFT, S.SENT, S.CONSENTED, S.COUNTERSIGNED, S.SEALED]


def test_happy_path_is_allowed() -> None:
    for current, wanted in itertools.pairwise(HAPPY_PATH):
        assert check_transition(current, wanted) is wanted


def test_every_pair_is_either_allowed_or_a_clear_error() -> None:
    for current, wanted in itertools.product(S, S):
        if wanted in ALLOWED[current]:
            assert check_transition(current, wanted) is wanted
        else:
            with pytest.raises(LifecycleError) as err:
                check_transition(current, wanted)
            assert err.value.current == current.value
            assert err.value.wanted == wanted.value
            assert f"from {current.value!r} to {wanted.value!r}" in str(err.value)


def test_order_is_enforced_and_dead_ends_are_final() -> None:
    with pytest.raises(LifecycleError):
        check_transition(S.SENT, S.COUNTERSIGNED)  # the representative cannot sign first
    with pytest.raises(LifecycleError):
        check_transition(S.DRAFT, S.SEALED)
    for dead in (S.SEALED, S.DECLINED, S.EXPIRED, S.VOIDED):
        assert not ALLOWED[dead]
