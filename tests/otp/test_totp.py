"""The authenticator-app channel: RFC 6238 vectors, oathtool, window, replay, lock, recovery."""

from __future__ import annotations

import base64
import subprocess
import urllib.parse
from datetime import timedelta

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.otp.totp_helpers import active, at, b32, enrol_with_secret

from evservice import audit, otp
from evservice._context import Context
from evservice.clock import ManualClock
from evservice.errors import (
    ChallengeLocked,
    CodeMismatch,
    CodeReused,
    LifecycleError,
    NotFoundError,
    RateLimited,
    StoreError,
    ValidationError,
)

# RFC 6238 Appendix B: the seeds (ASCII) and the 8-digit codes at each time.
SEEDS = {
    "SHA1": b"12345678901234567890",
    "SHA256": b"12345678901234567890123456789012",
    "SHA512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
VECTORS = [
    (59, {"SHA1": "94287082", "SHA256": "46119246", "SHA512": "90693936"}),
    (1111111109, {"SHA1": "07081804", "SHA256": "68084774", "SHA512": "25091201"}),
    (1111111111, {"SHA1": "14050471", "SHA256": "67062674", "SHA512": "99943326"}),
    (1234567890, {"SHA1": "89005924", "SHA256": "91819424", "SHA512": "93441116"}),
    (2000000000, {"SHA1": "69279037", "SHA256": "90698825", "SHA512": "38618901"}),
    (20000000000, {"SHA1": "65353130", "SHA256": "77737706", "SHA512": "47863826"}),
]


def _event_types(ctx: Context, subject: str) -> list[str]:
    bundle = audit.prove_subject(subject, ctx)
    result = audit.verify_bundle(bundle, audit.log_public_key_string(ctx.settings))
    assert result.ok
    return [e.type for e in result.events]


def _challenge(ctx: Context, holder: str, n: int, doc: str, kind: str = "customer") -> str:
    return otp.open_totp_challenge(
        ctx, subject=f"contract:HD2026-{n:06d}", document_sha256=doc, holder=holder, kind=kind
    ).id


@pytest.mark.parametrize("algorithm", sorted(SEEDS))
def test_rfc6238_appendix_b_vectors(algorithm: str) -> None:
    secret = b32(SEEDS[algorithm])
    for when, codes in VECTORS:
        assert otp.totp_code(secret, when, digits=8, algorithm=algorithm) == codes[algorithm]
        step = otp.matching_step(secret, codes[algorithm], when, digits=8, algorithm=algorithm)
        assert step == when // 30


@pytest.mark.parametrize("algorithm", sorted(SEEDS))
def test_rfc6238_vectors_confirm_through_enrolment_and_challenges(
    ctx: Context, doc: str, algorithm: str
) -> None:
    """The stored-encrypted path: enrol, confirm at 59 s, then a challenge at each later time."""
    holder = f"RFC-{algorithm}"
    first, *later = VECTORS
    new = enrol_with_secret(
        at(ctx, first[0]), holder, b32(SEEDS[algorithm]), digits=8, algorithm=algorithm
    )
    assert new.secret == b32(SEEDS[algorithm])
    otp.confirm_enrolment(new.enrolment.id, first[1][algorithm], ctx=at(ctx, first[0]))
    for n, (when, codes) in enumerate(later, start=1):
        here = at(ctx, when)
        challenge = _challenge(here, holder, n, doc)
        consent = otp.verify(challenge, codes[algorithm], document_sha256=doc, ctx=here)
        assert consent.channel == "totp"
        assert consent.method == "totp"


def _oathtool(secret: bytes, when: int, digits: int, algorithm: str) -> str:
    out = subprocess.run(
        [
            "oathtool",
            f"--totp={algorithm.lower()}",
            "-d",
            str(digits),
            "-s",
            "30",
            "-N",
            f"@{when}",
            secret.hex(),
        ],
        capture_output=True,
        check=True,
        text=True,
    )
    return out.stdout.strip()


@settings(max_examples=150, deadline=None)
@given(
    secret=st.binary(min_size=16, max_size=64),
    when=st.integers(min_value=0, max_value=2**34),
    digits=st.sampled_from([6, 7, 8]),
    algorithm=st.sampled_from(sorted(SEEDS)),
)
def test_codes_agree_with_oathtool(secret: bytes, when: int, digits: int, algorithm: str) -> None:
    expected = _oathtool(secret, when, digits, algorithm)
    ours = otp.totp_code(b32(secret), when, digits=digits, algorithm=algorithm)
    assert ours == expected
    step = otp.matching_step(b32(secret), expected, when, digits=digits, algorithm=algorithm)
    assert step is not None
    assert abs(step - when // 30) <= 1


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(offset=st.integers(min_value=0, max_value=29))
def test_an_enrolled_secret_gives_oathtools_codes(sqlite_ctx: Context, offset: int) -> None:
    """What the app computes from the enrolment's URI is what oathtool computes from its secret."""
    new = otp.enrol_totp(f"X{offset}", ctx=sqlite_ctx)
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(new.uri).query)
    secret = base64.b32decode(query["secret"][0] + "=" * (-len(query["secret"][0]) % 8))
    when = int(sqlite_ctx.clock.now().timestamp()) + offset
    assert otp.totp_code(new.secret, when) == _oathtool(secret, when, 6, "SHA1")


def test_enrolment_secret_uri_and_storage(ctx: Context) -> None:
    new = otp.enrol_totp("PD0001", ctx=ctx)
    raw = base64.b32decode(new.secret)
    assert len(raw) * 8 >= 160
    parts = urllib.parse.urlsplit(new.uri)
    assert (parts.scheme, parts.netloc) == ("otpauth", "totp")
    assert urllib.parse.unquote(parts.path) == "/evservice:PD0001"
    query = dict(urllib.parse.parse_qsl(parts.query))
    assert query["secret"] == new.secret
    assert query["issuer"] == "evservice"
    assert "secret=" not in repr(new)
    assert new.secret not in repr(new)
    with ctx.engine.connect() as conn:
        dump = repr(
            [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM otp_totp_enrolment"))]
        )
    assert new.secret not in dump
    assert new.secret.lower() not in dump.lower()
    assert raw.hex() not in dump
    assert otp.pending_enrolment(new.enrolment.id, ctx).secret == new.secret


def test_a_sealed_secret_moved_to_another_row_does_not_open(ctx: Context) -> None:
    one = otp.enrol_totp("PD0001", ctx=ctx)
    two = otp.enrol_totp("PD0002", ctx=ctx)
    with ctx.engine.begin() as conn:
        sealed = conn.execute(
            sa.text("SELECT secret_sealed FROM otp_totp_enrolment WHERE id = :i"),
            {"i": one.enrolment.id},
        ).scalar_one()
        conn.execute(
            sa.text("UPDATE otp_totp_enrolment SET secret_sealed = :s WHERE id = :i"),
            {"s": sealed, "i": two.enrolment.id},
        )
    with pytest.raises(StoreError) as err:
        otp.pending_enrolment(two.enrolment.id, ctx)
    assert one.secret not in str(err.value)
    key = otp.field_key(ctx.settings)
    flipped = sealed[:-3] + ("A" if sealed[-3] != "A" else "B") + sealed[-2:]
    with pytest.raises(StoreError):
        otp.open_field(
            key,
            flipped,
            table="otp_totp_enrolment",
            column="secret_sealed",
            primary_key=one.enrolment.id,
        )
    with pytest.raises(StoreError):
        otp.open_field(
            key, sealed, table="otp_totp_enrolment", column="issuer", primary_key=one.enrolment.id
        )


@pytest.mark.parametrize("holder", ["0912345678", "+84912345678", "an@example.com", "a b", ""])
def test_the_account_label_is_never_a_phone_or_email(sqlite_ctx: Context, holder: str) -> None:
    with pytest.raises(ValidationError) as err:
        otp.enrol_totp(holder, ctx=sqlite_ctx)
    assert err.value.field == "holder"


def test_enrolment_needs_a_first_valid_code(ctx: Context, clock: ManualClock) -> None:
    new = otp.enrol_totp("PD0001", ctx=ctx)
    with pytest.raises(NotFoundError):  # not active yet
        otp.get_enrolment("PD0001", ctx=ctx)
    wrong = f"{(int(otp.totp_code(new.secret, clock.now())) + 1) % 10**6:06d}"
    for left in (4, 3, 2, 1):
        with pytest.raises(CodeMismatch) as err:
            otp.confirm_enrolment(new.enrolment.id, wrong, ctx=ctx)
        assert err.value.remaining == left
    with pytest.raises(CodeMismatch):
        otp.confirm_enrolment(new.enrolment.id, wrong, ctx=ctx)
    with pytest.raises(LifecycleError):  # revoked after five wrong codes
        otp.confirm_enrolment(new.enrolment.id, otp.totp_code(new.secret, clock.now()), ctx=ctx)

    again, codes = active(ctx, "PD0001")
    assert len(codes) == 10
    assert len(set(codes)) == 10
    assert otp.get_enrolment("PD0001", ctx=ctx).recovery_codes_left == 10
    with pytest.raises(LifecycleError):  # the secret is shown only while pending
        otp.pending_enrolment(again.enrolment.id, ctx)
    # A newer enrolment, once confirmed, replaces the older one.
    clock.advance(30)
    newer, _ = active(ctx, "PD0001")
    assert otp.get_enrolment("PD0001", ctx=ctx).id == newer.enrolment.id
    assert _event_types(ctx, again.enrolment.id) == [
        "otp.totp_enrolled",
        "otp.totp_activated",
        "otp.totp_recovery_generated",
        "otp.totp_revoked",
    ]
    assert (
        _event_types(ctx, new.enrolment.id)
        == ["otp.totp_enrolled"] + ["otp.totp_enrolment_failed"] * 5
    )


def test_window_one_step_either_side(ctx: Context, clock: ManualClock, doc: str) -> None:
    new, _ = active(ctx, "PD0001")
    clock.advance(300)
    now = int(clock.now().timestamp())
    secret = new.secret
    for n, delta in enumerate((-60, 60), start=1):
        challenge = _challenge(ctx, "PD0001", n, doc)
        with pytest.raises(CodeMismatch):
            otp.verify(challenge, otp.totp_code(secret, now + delta), document_sha256=doc, ctx=ctx)
    for n, delta in enumerate((-30, 30), start=3):
        challenge = _challenge(ctx, "PD0001", n, doc)
        consent = otp.verify(
            challenge, otp.totp_code(secret, now + delta), document_sha256=doc, ctx=ctx
        )
        assert consent.method == "totp"


def test_each_code_is_accepted_once(ctx: Context, clock: ManualClock, doc: str) -> None:
    new, _ = active(ctx, "PD0001")
    clock.advance(60)
    code = otp.totp_code(new.secret, clock.now())
    first = _challenge(ctx, "PD0001", 1, doc)
    second = _challenge(ctx, "PD0001", 2, doc)
    otp.verify(first, code, document_sha256=doc, ctx=ctx)
    with pytest.raises(CodeReused) as err:
        otp.verify(second, code, document_sha256=doc, ctx=ctx)
    assert code not in str(err.value)
    assert otp.get_challenge(second, ctx).attempts == 0  # no try counted
    # The previous step's code is in the window but older than the one used: refused too.
    earlier = otp.totp_code(new.secret, clock.now() - timedelta(seconds=30))
    with pytest.raises(CodeReused):
        otp.verify(second, earlier, document_sha256=doc, ctx=ctx)
    clock.advance(30)
    assert otp.verify(second, otp.totp_code(new.secret, clock.now()), document_sha256=doc, ctx=ctx)


def test_the_enrolment_code_cannot_sign(ctx: Context, doc: str) -> None:
    new, _ = active(ctx, "PD0001")
    challenge = _challenge(ctx, "PD0001", 1, doc)
    with pytest.raises(CodeReused):
        otp.verify(
            challenge, otp.totp_code(new.secret, ctx.clock.now()), document_sha256=doc, ctx=ctx
        )


def test_five_wrong_codes_lock_and_cool_down(ctx: Context, clock: ManualClock, doc: str) -> None:
    new, _ = active(ctx, "PD0001")
    clock.advance(60)
    right = otp.totp_code(new.secret, clock.now())
    wrong = f"{(int(right) + 1) % 10**6:06d}"
    challenge = _challenge(ctx, "PD0001", 1, doc)
    for left in (4, 3, 2, 1, 0):
        with pytest.raises(CodeMismatch) as err:
            otp.verify(challenge, wrong, document_sha256=doc, ctx=ctx)
        assert err.value.remaining == left
    with pytest.raises(ChallengeLocked):
        otp.verify(challenge, right, document_sha256=doc, ctx=ctx)
    with pytest.raises(RateLimited) as limited:  # the holder's cool-down, across documents
        _challenge(ctx, "PD0001", 2, doc)
    assert limited.value.retry_after == pytest.approx(900, abs=1)
    clock.advance(901)
    assert _challenge(ctx, "PD0001", 2, doc)
    assert _event_types(ctx, challenge) == ["otp.totp_opened"] + ["otp.failed"] * 4 + ["otp.locked"]


def test_recovery_codes_are_single_use_and_regenerable(
    ctx: Context, clock: ManualClock, doc: str
) -> None:
    _, codes = active(ctx, "PD0001")
    first = _challenge(ctx, "PD0001", 1, doc)
    consent = otp.verify(first, codes[0].upper().replace("-", " "), document_sha256=doc, ctx=ctx)
    assert consent.method == "recovery"
    assert consent.evidence()["method"] == "recovery"
    assert otp.get_enrolment("PD0001", ctx=ctx).recovery_codes_left == 9
    second = _challenge(ctx, "PD0001", 2, doc)
    with pytest.raises(CodeMismatch):
        otp.verify(second, codes[0], document_sha256=doc, ctx=ctx)
    fresh = otp.regenerate_recovery_codes("PD0001", ctx=ctx)
    assert not set(fresh) & set(codes)
    with pytest.raises(CodeMismatch):
        otp.verify(second, codes[1], document_sha256=doc, ctx=ctx)
    assert otp.verify(second, fresh[0], document_sha256=doc, ctx=ctx).method == "recovery"
    with ctx.engine.connect() as conn:
        dump = repr(
            [dict(r._mapping) for r in conn.execute(sa.text("SELECT * FROM otp_totp_recovery"))]
        )
    for code in codes + fresh:
        assert code not in dump
        assert code.replace("-", "") not in dump


def test_a_revoked_app_confirms_nothing(ctx: Context, clock: ManualClock, doc: str) -> None:
    new, codes = active(ctx, "PD0001")
    challenge = _challenge(ctx, "PD0001", 1, doc)
    otp.revoke_totp("PD0001", ctx=ctx)
    clock.advance(30)
    with pytest.raises(CodeMismatch):
        otp.verify(challenge, otp.totp_code(new.secret, clock.now()), document_sha256=doc, ctx=ctx)
    with pytest.raises(CodeMismatch):
        otp.verify(challenge, codes[0], document_sha256=doc, ctx=ctx)
    with pytest.raises(NotFoundError):
        _challenge(ctx, "PD0001", 2, doc)


def test_sms_challenges_still_take_six_digits_only(ctx: Context, doc: str) -> None:
    challenge, _ = otp.create_challenge(
        ctx,
        subject="HD2026-000001",
        document_sha256=doc,
        channel="sms",
        destination="0912345678",
        purpose="contract.sign",
    )
    for bad in ("abcde-fghjk", "1234567"):
        with pytest.raises(ValidationError):
            otp.verify(challenge.id, bad, document_sha256=doc, ctx=ctx)
    assert otp.get_challenge(challenge.id, ctx).attempts == 0


def test_the_representative_enrols_apart_from_customers(ctx: Context, doc: str) -> None:
    active(ctx, "NV-0007", kind="representative")
    with pytest.raises(NotFoundError):
        _challenge(ctx, "NV-0007", 1, doc)
    assert _challenge(ctx, "NV-0007", 1, doc, kind="representative")
