"""SLA targets by topic and tier: the brief's account-support table over the channel x
priority policies of `sla.py`, so that each conversation's clocks come from one cell of a
matrix channel x topic x tier x priority.

The brief (seed, "account-support response times"): standard | priority member | completed

    account opening            24 h       | 4 h          | 48 h
    document check             12 h       | 2 h          | 24 h
    deposit/withdrawal check   1 h        | immediately  | same day
    security                   immediately| immediately  | immediately

Priority members are the desk's VIPs. A topic is a row of that table, reached through the
FAQ entries that belong to it (a handoff from the "withdrawal-missing" entry is a
deposit/withdrawal check) or, for a conversation without such an entry, through its team
(`topics` may name a team, e.g. `trading`, to give the whole team targets).

How a cell is made from the policy of its channel and priority:
- first response = the lesser of the policy's and the topic's for the customer's tier (a
  chat is still answered within 30 s; an email about account opening within the hour);
- resolution = the topic's completion (the specific table wins over the generic priority
  one), but never later than an urgent priority's 1 h;
- "immediately" is the chat target, 30 s, as in `sla.py`; "same day" is taken as 24 h
  (a clock needs a number, and the desk works around the clock);
- warnings follow the targets (`sla.default_warn_before`).
The cell's name, e.g. `chat/funds-check/vip/high` or `chat/trading/standard/medium` (no
topic: the team), is the policy's name, stored with the clocks, and what the attainment
report groups by.

Pure: no I/O. The SLA file's `topics:` key overrides or adds rows (`matrix_from_mapping`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import timedelta
from types import MappingProxyType
from typing import Any

from chatserver import sla
from chatserver.models import Priority, Team, Tier
from chatserver.sla import Channel, SlaConfigError, SlaPolicies, SlaPolicy

SAME_DAY = timedelta(hours=24)
IMMEDIATELY = sla.IMMEDIATELY
_TIER_KEYS = {"standard": Tier.STANDARD, "vip": Tier.VIP}
_TOPIC_KEYS = (*_TIER_KEYS, "completion", "faq")


@dataclass(frozen=True, slots=True)
class TopicTargets:
    """One row of the account-support table."""

    standard: timedelta  # first response for a standard customer
    vip: timedelta  # first response for a priority member
    completion: timedelta | None  # resolution; None: the priority's
    faq: tuple[str, ...] = ()  # FAQ entries whose handoffs are this topic

    def response(self, tier: Tier) -> timedelta:
        return self.vip if tier is Tier.VIP else self.standard


BRIEF_TOPICS: Mapping[str, TopicTargets] = MappingProxyType(
    {
        "account-opening": TopicTargets(
            timedelta(hours=24),
            timedelta(hours=4),
            timedelta(hours=48),
            (
                "account-opening",
                "account-opening-time",
                "additional-account",
                "change-account-type",
            ),
        ),
        "document-check": TopicTargets(
            timedelta(hours=12),
            timedelta(hours=2),
            timedelta(hours=24),
            ("required-documents", "document-verification-status", "change-personal-details"),
        ),
        "funds-check": TopicTargets(
            timedelta(hours=1),
            IMMEDIATELY,
            SAME_DAY,
            ("deposit-not-credited", "withdrawal-processing-time", "withdrawal-missing"),
        ),
        "security": TopicTargets(
            IMMEDIATELY,
            IMMEDIATELY,
            sla.RESOLUTION[Priority.URGENT],  # "immediately" done: the urgent 1 h
            ("account-hacked", "two-factor-auth", "portal-password-reset"),
        ),
    }
)


class SlaMatrix(Mapping[tuple[Channel, Priority], SlaPolicy]):
    """The channel x priority policies (it is that mapping, so `sla.policy_for` takes it)
    with the topics that refine them into cells."""

    def __init__(
        self, policies: SlaPolicies, topics: Mapping[str, TopicTargets] = BRIEF_TOPICS
    ) -> None:
        self.policies = policies
        self.topics = MappingProxyType(dict(topics))
        entries: dict[str, str] = {}
        for name, targets in self.topics.items():
            for faq_id in targets.faq:
                entries.setdefault(faq_id, name)
        self.entries = MappingProxyType(entries)

    def __getitem__(self, key: tuple[Channel, Priority]) -> SlaPolicy:
        return self.policies[key]

    def __iter__(self) -> Iterator[tuple[Channel, Priority]]:
        return iter(self.policies)

    def __len__(self) -> int:
        return len(self.policies)

    def topic_of(self, *, faq_id: str | None, team: Team | None) -> str | None:
        """The conversation's row: its FAQ entry's topic, else its team's if the team has
        targets of its own (None: the channel and priority decide alone)."""
        if faq_id is not None and faq_id in self.entries:
            return self.entries[faq_id]
        if team is not None and str(team) in self.topics:
            return str(team)
        return None

    def cell(
        self,
        channel: Channel,
        priority: Priority,
        *,
        tier: Tier,
        team: Team | None,
        faq_id: str | None = None,
    ) -> SlaPolicy:
        """The policy of one cell (module docstring), named after it."""
        base = sla.policy_for(channel, priority, self.policies)
        topic = self.topic_of(faq_id=faq_id, team=team)
        name = f"{channel}/{topic or team or '-'}/{tier}/{priority}"
        if topic is None:
            return replace(base, name=name)
        targets = self.topics[topic]
        first_response = min(base.first_response, targets.response(tier))
        resolution = base.resolution if targets.completion is None else targets.completion
        if priority is Priority.URGENT and base.resolution is not None:
            resolution = base.resolution if resolution is None else min(resolution, base.resolution)
        return replace(
            base,
            name=name,
            first_response=first_response,
            warn_before=(
                base.warn_before
                if first_response == base.first_response
                else sla.default_warn_before(first_response)
            ),
            resolution=resolution,
            resolution_warn_before=(
                base.resolution_warn_before
                if resolution == base.resolution
                else None
                if resolution is None
                else sla.default_warn_before(resolution)
            ),
        )


def default_matrix() -> SlaMatrix:
    """The brief's tables: channel x priority (`sla.default_policies`) and its topics."""
    return SlaMatrix(sla.default_policies())


def cell_policy(
    policies: SlaPolicies,
    channel: Channel,
    priority: Priority,
    *,
    tier: Tier,
    team: Team | None,
    faq_id: str | None = None,
) -> SlaPolicy:
    """A cell of `policies` when they are a matrix; plain channel x priority policies (as
    tests and older callers pass) are a matrix without topics."""
    matrix = policies if isinstance(policies, SlaMatrix) else SlaMatrix(policies, {})
    return matrix.cell(channel, priority, tier=tier, team=team, faq_id=faq_id)


def matrix_from_mapping(config: object, *, prefix: str = "sla") -> SlaMatrix:
    """The SLA file: channels as `sla.policies_from_mapping` reads them, and `topics`::

        topics:
          account-opening: {standard: 24h, vip: 4h, completion: 48h}   # the brief's row
          trading: {standard: 30m, vip: 5m, completion: 4h}            # a whole team
          margin-help: {standard: 1h, vip: 15m, faq: [margin-call, margin-calculation]}

    A topic named like the brief's changes only the fields given; a new topic needs
    `standard` and `vip`. `faq` lists the FAQ entries whose handoffs are that topic.
    Mistakes raise SlaConfigError naming the key, e.g. ``sla.topics.security.vip``.
    """
    if not isinstance(config, Mapping):
        raise SlaConfigError(prefix, f"expected a mapping of channels, got {config!r}")
    channels = {key: value for key, value in config.items() if key != "topics"}
    policies = sla.policies_from_mapping(channels, prefix=prefix)
    topics = dict(BRIEF_TOPICS)
    raw_topics = config.get("topics", {}) or {}
    if not isinstance(raw_topics, Mapping):
        raise SlaConfigError(f"{prefix}.topics", f"expected a mapping, got {raw_topics!r}")
    for name, raw in raw_topics.items():
        topics[str(name)] = _topic(f"{prefix}.topics.{name}", raw, topics.get(str(name)))
    return SlaMatrix(policies, topics)


def _topic(where: str, raw: object, base: TopicTargets | None) -> TopicTargets:
    if not isinstance(raw, Mapping):
        raise SlaConfigError(where, f"expected a mapping, got {raw!r}")
    for key in raw:
        if key not in _TOPIC_KEYS:
            raise SlaConfigError(
                f"{where}.{key}", f"unknown key; expected one of {', '.join(_TOPIC_KEYS)}"
            )
    values: dict[str, Any] = {}
    for key in ("standard", "vip"):
        if key in raw:
            values[key] = _duration(f"{where}.{key}", raw[key])
        elif base is None:
            raise SlaConfigError(f"{where}.{key}", "missing: a new topic needs standard and vip")
    if "completion" in raw:
        value = raw["completion"]
        none = value is None or (
            isinstance(value, str) and value.strip().lower() in {"none", "off"}
        )
        values["completion"] = None if none else _duration(f"{where}.completion", value)
    if "faq" in raw:
        faq = raw["faq"]
        if not isinstance(faq, list) or not all(isinstance(i, str) and i for i in faq):
            raise SlaConfigError(f"{where}.faq", "expected a list of FAQ entry ids")
        values["faq"] = tuple(faq)
    if base is None:
        return TopicTargets(
            values["standard"], values["vip"], values.get("completion"), values.get("faq", ())
        )
    return replace(base, **values)


def _duration(where: str, value: object) -> timedelta:
    try:
        duration = sla.parse_duration(value)
    except ValueError as exc:
        raise SlaConfigError(where, str(exc)) from None
    if duration <= timedelta(0):
        raise SlaConfigError(where, "must be positive")
    return duration
