"""Signed customer identity: only a valid, fresh HMAC buys VIP treatment."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from chatserver.identity import ANONYMOUS, sign, verify
from chatserver.models import Tier

SECRET = "s3cret-shared-with-the-broker-site"
NOW = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)


def signed(**fields):
    base = {
        "customer_id": "C-1001",
        "name": "Kenji Sato",
        "balance_usd": 72_000,
        "lots_month": 12,
        "manager": "aiko",
        "issued_at": NOW.isoformat(),
    } | fields
    return base | {"signature": sign(base, SECRET)}


def test_a_valid_signature_with_a_large_balance_is_vip():
    identity = verify(signed(), SECRET, NOW)
    assert identity.tier is Tier.VIP
    assert identity.manager == "aiko"
    assert identity.customer_id == "C-1001"


def test_a_hundred_lots_a_month_is_vip_too():
    assert verify(signed(balance_usd=100, lots_month=100), SECRET, NOW).tier is Tier.VIP


def test_below_both_thresholds_is_standard():
    assert verify(signed(balance_usd=49_999, lots_month=99), SECRET, NOW).tier is Tier.STANDARD


def test_a_changed_field_breaks_the_signature():
    forged = signed(balance_usd=10) | {"balance_usd": 1_000_000}
    assert verify(forged, SECRET, NOW) is ANONYMOUS


def test_wrong_secret_missing_signature_or_no_secret_are_anonymous():
    assert verify(signed(), "another secret", NOW) is ANONYMOUS
    unsigned = {k: v for k, v in signed().items() if k != "signature"}
    assert verify(unsigned, SECRET, NOW) is ANONYMOUS
    assert verify(signed(), None, NOW) is ANONYMOUS
    assert verify("C-1001", SECRET, NOW) is ANONYMOUS


def test_stale_or_future_identities_are_refused():
    assert verify(signed(issued_at=(NOW - timedelta(days=2)).isoformat()), SECRET, NOW) is (
        ANONYMOUS
    )
    assert verify(signed(issued_at=(NOW + timedelta(hours=1)).isoformat()), SECRET, NOW) is (
        ANONYMOUS
    )


def test_unknown_fields_are_refused_even_if_signed():
    fields = {"customer_id": "C-1", "issued_at": NOW.isoformat(), "vip": True}
    assert verify(fields | {"signature": sign(fields, SECRET)}, SECRET, NOW) is ANONYMOUS
