"""The customer identity a broker's site passes to the widget, signed so it cannot be forged.

The host site knows who is logged in; it sends the widget these fields plus
`signature` = hex HMAC-SHA256 over the canonical JSON of the other fields (sorted keys, no
spaces, UTF-8) with the secret shared with this server (`CHATSERVER_IDENTITY_SECRET`).
Anything unsigned, badly signed or stale is treated as an anonymous standard customer:
a forged balance must never buy VIP treatment.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from chatserver.models import Tier

# The brief's VIP rule: a balance of USD 50,000 or more, or 100 lots or more a month.
VIP_BALANCE_USD = 50_000
VIP_LOTS_PER_MONTH = 100
# A signed identity older than this is refused: a copied one stops working soon.
MAX_AGE = timedelta(days=1)
FIELDS = ("customer_id", "name", "email", "balance_usd", "lots_month", "manager", "issued_at")


@dataclass(frozen=True, slots=True)
class CustomerIdentity:
    customer_id: str
    name: str | None
    email: str | None
    balance_usd: float
    lots_month: float
    manager: str | None  # the dedicated account manager's username
    tier: Tier


ANONYMOUS = CustomerIdentity("", None, None, 0.0, 0.0, None, Tier.STANDARD)


def canonical(fields: Mapping[str, Any]) -> bytes:
    payload = {k: v for k, v in fields.items() if k != "signature"}
    return json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def sign(fields: Mapping[str, Any], secret: str) -> str:
    """What the host site computes (shown here for its developers and for tests)."""
    return hmac.new(secret.encode(), canonical(fields), hashlib.sha256).hexdigest()


def verify(fields: Any, secret: str | None, now: datetime) -> CustomerIdentity:
    """The identity if its signature checks out and it is fresh; ANONYMOUS otherwise."""
    if not secret or not isinstance(fields, dict):
        return ANONYMOUS
    signature = fields.get("signature")
    if not isinstance(signature, str) or set(fields) - {*FIELDS, "signature"}:
        return ANONYMOUS
    if not hmac.compare_digest(signature, sign(fields, secret)):
        return ANONYMOUS
    try:
        issued = datetime.fromisoformat(str(fields["issued_at"]))
        customer_id = str(fields["customer_id"])
        balance = float(fields.get("balance_usd", 0))
        lots = float(fields.get("lots_month", 0))
    except (KeyError, ValueError, TypeError):
        return ANONYMOUS
    if issued.tzinfo is None or not now - MAX_AGE <= issued <= now + timedelta(minutes=5):
        return ANONYMOUS
    vip = balance >= VIP_BALANCE_USD or lots >= VIP_LOTS_PER_MONTH
    manager = fields.get("manager")
    return CustomerIdentity(
        customer_id=customer_id,
        name=_text(fields.get("name")),
        email=_text(fields.get("email")),
        balance_usd=balance,
        lots_month=lots,
        manager=manager if isinstance(manager, str) and manager else None,
        tier=Tier.VIP if vip else Tier.STANDARD,
    )


def _text(value: Any) -> str | None:
    return value[:200] if isinstance(value, str) and value else None
