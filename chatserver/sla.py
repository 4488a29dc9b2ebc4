"""SLA policies and clocks: did each handed-off conversation get its answer in time?

This module owns the targets (`SlaPolicy`), their attachment to one conversation at handoff
(`AppliedSla`, one `SlaClock` per target) and the rules that move the clocks. It must not
know sockets, storage, timers or the wall clock: every function takes `now` (timezone-aware
UTC) and returns a new frozen state plus the events to publish (`SlaUpdate`). The
vocabulary is Chatwoot's (SlaPolicy, AppliedSla).

How the brief's tables become policies (`default_policies`):

- First response (FRT) = min(the channel's first-response target, the priority's "start of
  handling"). Channels: chat 30 s, callback 15 min, email 1 h. Start of handling: urgent
  "immediately", high 15 min, medium 1 h, low 4 h. "Immediately" is taken as the chat
  target, 30 s: the fastest human written response the desk promises anywhere (a clock
  needs a number). So chat is 30 s for every priority (no start is shorter); email is
  30 s / 15 min / 1 h / 1 h and callback 30 s / 15 min / 15 min / 15 min for urgent / high
  / medium / low. The brief's phone channel is not served by this server.
- Resolution depends on the priority only: urgent 1 h, high 4 h, medium 24 h, low 48 h.
- Both clocks start at handoff. A warning goes out `warn_before` the deadline: a third of
  the target, at most 1 h (chat FRT: 10 s); 0 turns the warning off.
- Every figure can be overridden from configuration (`policies_from_mapping`).

Clock rules:

- FRT runs from handoff to the first agent message the customer receives. Only
  `on_agent_message(..., internal=False)` stops it; bot and system messages have no
  function here at all, and internal notes are ignored. The first responder gets the
  credit; later agents change nothing.
- A transfer does nothing to the clocks: there is deliberately no transfer function.
- `tick` warns once when `now >= due - warn_before` and reports a breach once when
  `now > due` (exactly at the due instant is still in time). A breached clock shows
  `missed` at once and stays missed when the answer finally comes; the answer still stops
  it, so the real FRT is known for the histogram.
- Deadlines are data (`next_deadline`, `to_dict`/`from_dict`), so a restarted process picks
  the timers up again without firing an event twice.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from chatserver.models import Priority

_T = TypeVar("_T")


class Channel(StrEnum):
    """How the customer reached the desk; each has its own first-response target."""

    CHAT = "chat"
    CALLBACK = "callback"
    EMAIL = "email"


class ClockKind(StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


class ClockStatus(StrEnum):
    """active: running and in time; hit: stopped in time; missed: past due (running or not);
    cancelled: the conversation ended (abandoned, closed unanswered) before the target
    could be met or missed. Cancelled clocks count neither for nor against the target."""

    ACTIVE = "active"
    HIT = "hit"
    MISSED = "missed"
    CANCELLED = "cancelled"


# The brief's figures. Channel first-response targets (phone is not served here).
CHANNEL_FIRST_RESPONSE: Mapping[Channel, timedelta] = MappingProxyType(
    {
        Channel.CHAT: timedelta(seconds=30),
        Channel.CALLBACK: timedelta(minutes=15),
        Channel.EMAIL: timedelta(hours=1),
    }
)
# "Immediately" needs a number for a clock: the fastest response the desk promises (chat).
IMMEDIATELY = CHANNEL_FIRST_RESPONSE[Channel.CHAT]
START_OF_HANDLING: Mapping[Priority, timedelta] = MappingProxyType(
    {
        Priority.URGENT: IMMEDIATELY,
        Priority.HIGH: timedelta(minutes=15),
        Priority.MEDIUM: timedelta(hours=1),
        Priority.LOW: timedelta(hours=4),
    }
)
RESOLUTION: Mapping[Priority, timedelta] = MappingProxyType(
    {
        Priority.URGENT: timedelta(hours=1),
        Priority.HIGH: timedelta(hours=4),
        Priority.MEDIUM: timedelta(hours=24),
        Priority.LOW: timedelta(hours=48),
    }
)
# A third of the target leaves an agent time to act (10 s of a 30 s chat FRT: a greeting);
# more than an hour ahead is noise.
WARN_FRACTION = 3
MAX_WARN_BEFORE = timedelta(hours=1)

# A breach is reported strictly after the due instant; this is the first instant after it.
_TICK = timedelta(microseconds=1)


class SlaConfigError(ValueError):
    """A bad SLA setting; `key` names it (e.g. ``sla.email.urgent.first_response``)."""

    def __init__(self, key: str, problem: str) -> None:
        super().__init__(f"{key}: {problem}")
        self.key = key
        self.problem = problem


def default_warn_before(target: timedelta) -> timedelta:
    """A third of the target, at most an hour (30 s -> 10 s, 1 h -> 20 min, 24 h -> 1 h)."""
    return min(target / WARN_FRACTION, MAX_WARN_BEFORE)


@dataclass(frozen=True, slots=True)
class SlaPolicy:
    """The targets for one channel and priority.

    `warn_before` is the FRT warning; `resolution_warn_before` the resolution warning
    (None: the same as `warn_before`). A zero warning time means no warning.
    """

    name: str
    channel: Channel
    priority: Priority
    first_response: timedelta
    resolution: timedelta | None
    warn_before: timedelta
    resolution_warn_before: timedelta | None = None

    def __post_init__(self) -> None:
        if self.first_response <= timedelta(0):
            raise SlaConfigError("first_response", "must be positive")
        if self.resolution is not None and self.resolution <= timedelta(0):
            raise SlaConfigError("resolution", "must be positive (or none)")
        if not timedelta(0) <= self.warn_before <= self.first_response:
            raise SlaConfigError(
                "warn_before",
                f"must be between 0 and first_response ({_show(self.first_response)}), "
                f"got {_show(self.warn_before)}",
            )
        if self.resolution is not None and not (
            timedelta(0) <= self.warn_before_for(ClockKind.RESOLUTION) <= self.resolution
        ):
            raise SlaConfigError(
                "resolution_warn_before",
                f"must be between 0 and resolution ({_show(self.resolution)}), "
                f"got {_show(self.warn_before_for(ClockKind.RESOLUTION))}",
            )

    def target(self, kind: ClockKind) -> timedelta | None:
        return self.first_response if kind is ClockKind.FIRST_RESPONSE else self.resolution

    def warn_before_for(self, kind: ClockKind) -> timedelta:
        if kind is ClockKind.RESOLUTION and self.resolution_warn_before is not None:
            return self.resolution_warn_before
        return self.warn_before

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channel": str(self.channel),
            "priority": str(self.priority),
            "first_response": self.first_response.total_seconds(),
            "resolution": None if self.resolution is None else self.resolution.total_seconds(),
            "warn_before": self.warn_before.total_seconds(),
            "resolution_warn_before": (
                None
                if self.resolution_warn_before is None
                else self.resolution_warn_before.total_seconds()
            ),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaPolicy:
        return cls(
            name=str(data["name"]),
            channel=Channel(data["channel"]),
            priority=Priority(data["priority"]),
            first_response=_seconds(data["first_response"]),
            resolution=_optional(_seconds, data["resolution"]),
            warn_before=_seconds(data["warn_before"]),
            resolution_warn_before=_optional(_seconds, data.get("resolution_warn_before")),
        )


SlaPolicies = Mapping[tuple[Channel, Priority], SlaPolicy]


def default_policies() -> SlaPolicies:
    """The brief's targets for every channel and priority (see the module docstring)."""
    table: dict[tuple[Channel, Priority], SlaPolicy] = {}
    for channel, channel_target in CHANNEL_FIRST_RESPONSE.items():
        for priority in Priority:
            first_response = min(channel_target, START_OF_HANDLING[priority])
            resolution = RESOLUTION[priority]
            table[channel, priority] = SlaPolicy(
                name=f"{channel}/{priority}",
                channel=channel,
                priority=priority,
                first_response=first_response,
                resolution=resolution,
                warn_before=default_warn_before(first_response),
                resolution_warn_before=default_warn_before(resolution),
            )
    return MappingProxyType(table)


_DEFAULTS = default_policies()


def policy_for(
    channel: Channel | str, priority: Priority | str, policies: SlaPolicies | None = None
) -> SlaPolicy:
    """The policy for a channel and priority (ValueError for an unknown one)."""
    table = _DEFAULTS if policies is None else policies
    return table[Channel(channel), Priority(priority)]


# -- configuration -------------------------------------------------------------------------

_FIELDS = ("first_response", "resolution", "warn_before", "resolution_warn_before")
_NULLABLE = frozenset({"resolution"})
_PRIORITY_KEYS = frozenset(str(priority) for priority in Priority)
_DURATION = re.compile(
    r"(?:(?P<d>\d+)d)?(?:(?P<h>\d+)h)?(?:(?P<m>\d+)m(?!s))?"
    r"(?:(?P<s>\d+(?:\.\d+)?)s)?(?:(?P<ms>\d+)ms)?"
)


def parse_duration(value: object) -> timedelta:
    """A duration from configuration: seconds as a number, or text like 30s, 15m, 1h30m, 2d."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, bool):
        raise ValueError(f"expected a duration like 30s, 15m or 1h, got {value!r}")
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise ValueError(f"expected a non-negative duration, got {value!r}")
        try:
            return timedelta(seconds=value)
        except OverflowError:
            raise ValueError(f"duration too large: {value!r}") from None
    if isinstance(value, str):
        text = value.strip().lower().replace(" ", "")
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            return parse_duration(seconds)
        match = _DURATION.fullmatch(text)
        if text and match:
            parts = {unit: float(amount) for unit, amount in match.groupdict(default="0").items()}
            try:
                return timedelta(
                    days=parts["d"],
                    hours=parts["h"],
                    minutes=parts["m"],
                    seconds=parts["s"],
                    milliseconds=parts["ms"],
                )
            except OverflowError:
                raise ValueError(f"duration too large: {value!r}") from None
    raise ValueError(f"expected a duration like 30s, 15m or 1h, got {value!r}")


def _field_value(name: str, value: object) -> timedelta | None:
    if name in _NULLABLE and (
        value is None or (isinstance(value, str) and value.strip().lower() in {"none", "off"})
    ):
        return None
    return parse_duration(value)


def policies_from_mapping(
    config: object, *, base: SlaPolicies | None = None, prefix: str = "sla"
) -> SlaPolicies:
    """Policies from configuration, on top of `base` (default: the brief's).

    Shape: channel -> fields for every priority, and/or priority -> fields for one::

        {"chat": {"warn_before": "5s", "urgent": {"resolution": "30m"}},
         "email": {"high": {"first_response": "10m"}, "low": {"resolution": "none"}}}

    Fields: first_response, resolution, warn_before, resolution_warn_before. Durations are
    seconds or text (30s, 15m, 1h, 2d); resolution may be none; a warning of 0 is off; a
    changed target without its own warning gets the default one. Any mistake raises
    SlaConfigError naming the key, e.g. ``sla.chat.urgent.first_response``.
    """
    table = dict(_DEFAULTS if base is None else base)
    if not isinstance(config, Mapping):
        raise SlaConfigError(prefix, f"expected a mapping of channels, got {config!r}")
    channels = ", ".join(Channel)
    for channel_key, channel_config in config.items():
        where = f"{prefix}.{channel_key}"
        try:
            channel = Channel(channel_key)
        except ValueError:
            raise SlaConfigError(where, f"unknown channel; expected one of {channels}") from None
        if not isinstance(channel_config, Mapping):
            raise SlaConfigError(where, f"expected a mapping, got {channel_config!r}")
        shared = _parse_fields(where, channel_config, allow_priorities=True)
        for priority in Priority:
            own_config = channel_config.get(str(priority), {})
            own_where = f"{where}.{priority}"
            if not isinstance(own_config, Mapping):
                raise SlaConfigError(own_where, f"expected a mapping, got {own_config!r}")
            changes = {**shared, **_parse_fields(own_where, own_config, allow_priorities=False)}
            if not changes:
                continue
            try:
                table[channel, priority] = _changed(table[channel, priority], changes)
            except SlaConfigError as exc:
                raise SlaConfigError(f"{own_where}.{exc.key}", exc.problem) from None
    return MappingProxyType(table)


def _changed(policy: SlaPolicy, changes: Mapping[str, timedelta | None]) -> SlaPolicy:
    """Apply changes; a changed target without its own warning gets the default warning."""
    changed_first_response = changes.get("first_response")
    first_response = (
        policy.first_response if changed_first_response is None else changed_first_response
    )
    resolution = changes.get("resolution", policy.resolution)
    warn_before = changes.get("warn_before")
    if warn_before is None:
        warn_before = (
            default_warn_before(first_response)
            if "first_response" in changes
            else policy.warn_before
        )
    if "resolution_warn_before" in changes:
        resolution_warn_before = changes["resolution_warn_before"]
    elif "resolution" in changes:
        resolution_warn_before = None if resolution is None else default_warn_before(resolution)
    else:
        resolution_warn_before = policy.resolution_warn_before
    return replace(
        policy,
        first_response=first_response,
        resolution=resolution,
        warn_before=warn_before,
        resolution_warn_before=resolution_warn_before,
    )


def _parse_fields(
    where: str, config: Mapping[str, Any], *, allow_priorities: bool
) -> dict[str, timedelta | None]:
    fields: dict[str, timedelta | None] = {}
    for key, value in config.items():
        if allow_priorities and key in _PRIORITY_KEYS:
            continue
        if key not in _FIELDS:
            expected = ", ".join((*Priority, *_FIELDS) if allow_priorities else _FIELDS)
            raise SlaConfigError(f"{where}.{key}", f"unknown key; expected one of {expected}")
        try:
            fields[key] = _field_value(key, value)
        except ValueError as exc:
            raise SlaConfigError(f"{where}.{key}", str(exc)) from None
    return fields


def _seconds(value: Any) -> timedelta:
    return timedelta(seconds=float(value))


def _optional(convert: Callable[[Any], _T], value: Any) -> _T | None:
    return None if value is None else convert(value)


def _show(value: timedelta) -> str:
    return f"{value.total_seconds():g}s"


# -- clocks --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaClock:
    """One target of one conversation.

    `warn_at` is None when the policy has no warning. `stopped_at` is set when the clock
    stops (answer, resolution, end); a breached clock shows `missed` before that.
    `warned` and `breached` record that the event went out, so it never goes out twice.
    """

    kind: ClockKind
    started_at: datetime
    due_at: datetime
    status: ClockStatus
    stopped_at: datetime | None
    warned: bool
    breached: bool
    warn_at: datetime | None

    @property
    def running(self) -> bool:
        """Not stopped yet (in time or already missed)."""
        return self.stopped_at is None

    @property
    def elapsed(self) -> timedelta | None:
        """How long it ran, once stopped (the FRT itself for the first-response clock)."""
        return None if self.stopped_at is None else self.stopped_at - self.started_at

    def remaining(self, now: datetime) -> timedelta:
        """Time left; negative when overdue; frozen at the stop once stopped."""
        return self.due_at - (self.stopped_at or now)

    def next_deadline(self) -> datetime | None:
        if self.status is not ClockStatus.ACTIVE:
            return None
        if self.warn_at is not None and not self.warned:
            return self.warn_at
        return self.due_at + _TICK

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": str(self.kind),
            "started_at": self.started_at.isoformat(),
            "due_at": self.due_at.isoformat(),
            "status": str(self.status),
            "stopped_at": None if self.stopped_at is None else self.stopped_at.isoformat(),
            "warned": self.warned,
            "breached": self.breached,
            "warn_at": None if self.warn_at is None else self.warn_at.isoformat(),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SlaClock:
        return cls(
            kind=ClockKind(data["kind"]),
            started_at=datetime.fromisoformat(data["started_at"]),
            due_at=datetime.fromisoformat(data["due_at"]),
            status=ClockStatus(data["status"]),
            stopped_at=_optional(datetime.fromisoformat, data["stopped_at"]),
            warned=bool(data["warned"]),
            breached=bool(data["breached"]),
            warn_at=_optional(datetime.fromisoformat, data["warn_at"]),
        )


@dataclass(frozen=True, slots=True)
class AppliedSla:
    """A policy applied to one conversation at handoff, with its clocks."""

    conversation_id: str
    policy: SlaPolicy
    first_response: SlaClock
    resolution: SlaClock | None
    first_responder: str | None = None

    @property
    def clocks(self) -> tuple[SlaClock, ...]:
        if self.resolution is None:
            return (self.first_response,)
        return (self.first_response, self.resolution)

    def clock(self, kind: ClockKind) -> SlaClock | None:
        return self.first_response if kind is ClockKind.FIRST_RESPONSE else self.resolution

    @property
    def first_response_met(self) -> bool | None:
        """True: answered in time; False: missed; None: still running in time, or cancelled."""
        status = self.first_response.status
        if status is ClockStatus.HIT:
            return True
        if status is ClockStatus.MISSED:
            return False
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "conversation_id": self.conversation_id,
            "policy": self.policy.to_dict(),
            "first_response": self.first_response.to_dict(),
            "resolution": None if self.resolution is None else self.resolution.to_dict(),
            "first_responder": self.first_responder,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> AppliedSla:
        resolution = data.get("resolution")
        return cls(
            conversation_id=str(data["conversation_id"]),
            policy=SlaPolicy.from_dict(data["policy"]),
            first_response=SlaClock.from_dict(data["first_response"]),
            resolution=None if resolution is None else SlaClock.from_dict(resolution),
            first_responder=data.get("first_responder"),
        )

    def _with(self, clock: SlaClock) -> AppliedSla:
        if clock.kind is ClockKind.FIRST_RESPONSE:
            return replace(self, first_response=clock)
        return replace(self, resolution=clock)


# -- events --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SlaWarning:
    """The deadline is near (agents' console: `sla_warning`)."""

    name: ClassVar[str] = "sla.warning"
    conversation_id: str
    kind: ClockKind
    due_at: datetime
    remaining: timedelta


@dataclass(frozen=True, slots=True)
class SlaBreached:
    """The deadline passed with the clock still running in time (supervisors: `sla_breach`)."""

    name: ClassVar[str] = "sla.breached"
    conversation_id: str
    kind: ClockKind
    due_at: datetime


@dataclass(frozen=True, slots=True)
class SlaClockStopped:
    """A clock stopped: hit, missed or cancelled; for metrics (FRT histogram, share in target).

    `agent_id` is the first responder for the first-response clock, else None.
    """

    name: ClassVar[str] = "sla.stopped"
    conversation_id: str
    kind: ClockKind
    status: ClockStatus
    started_at: datetime
    due_at: datetime
    stopped_at: datetime
    agent_id: str | None = None

    @property
    def elapsed(self) -> timedelta:
        return self.stopped_at - self.started_at


SlaEvent = SlaWarning | SlaBreached | SlaClockStopped
# What every clock rule returns: the applied SLA as the rule left it, and the events it
# produced (none when nothing changed).
SlaUpdate = tuple[AppliedSla, tuple[SlaEvent, ...]]


# -- rules ---------------------------------------------------------------------------------


def apply(policy: SlaPolicy, conversation_id: str, handed_off_at: datetime) -> AppliedSla:
    """Attach `policy` to a conversation at handoff: its clocks start now."""
    if handed_off_at.tzinfo is None:
        raise ValueError("handed_off_at must be timezone-aware (UTC)")

    def start(kind: ClockKind, target: timedelta) -> SlaClock:
        due_at = handed_off_at + target
        warn_before = policy.warn_before_for(kind)
        return SlaClock(
            kind=kind,
            started_at=handed_off_at,
            due_at=due_at,
            status=ClockStatus.ACTIVE,
            stopped_at=None,
            warned=False,
            breached=False,
            warn_at=due_at - warn_before if warn_before > timedelta(0) else None,
        )

    return AppliedSla(
        conversation_id=conversation_id,
        policy=policy,
        first_response=start(ClockKind.FIRST_RESPONSE, policy.first_response),
        resolution=(
            None if policy.resolution is None else start(ClockKind.RESOLUTION, policy.resolution)
        ),
    )


def on_agent_message(sla: AppliedSla, now: datetime, agent_id: str, *, internal: bool) -> SlaUpdate:
    """An agent wrote. A message the customer receives stops the FRT clock (hit when
    `now <= due`) and credits its author; an internal note changes nothing. Bot and
    system messages never reach this function."""
    clock = sla.first_response
    if internal or not clock.running:
        return sla, ()
    in_time = clock.status is ClockStatus.ACTIVE and now <= clock.due_at
    status = ClockStatus.HIT if in_time else ClockStatus.MISSED
    stopped, events = _stop(sla, clock, now, status, agent_id=agent_id)
    return replace(sla._with(stopped), first_responder=agent_id), tuple(events)


def on_resolved(sla: AppliedSla, now: datetime) -> SlaUpdate:
    """The conversation was resolved: the resolution clock stops (hit when `now <= due`).

    An FRT clock still running (closed without a visible agent message) stops too: missed
    if it was already overdue, otherwise cancelled.
    """
    events: list[SlaEvent] = []
    for clock in sla.clocks:
        if not clock.running:
            continue
        if clock.kind is ClockKind.RESOLUTION:
            in_time = clock.status is ClockStatus.ACTIVE and now <= clock.due_at
            status = ClockStatus.HIT if in_time else ClockStatus.MISSED
        else:
            status = _unmet(clock, now)
        stopped, stop_events = _stop(sla, clock, now, status)
        sla = sla._with(stopped)
        events.extend(stop_events)
    return sla, tuple(events)


def cancel(sla: AppliedSla, now: datetime) -> SlaUpdate:
    """The conversation ended without meeting its targets (abandoned, closed unanswered):
    running clocks stop, missed if already overdue, otherwise cancelled."""
    events: list[SlaEvent] = []
    for clock in sla.clocks:
        if clock.running:
            stopped, stop_events = _stop(sla, clock, now, _unmet(clock, now))
            sla = sla._with(stopped)
            events.extend(stop_events)
    return sla, tuple(events)


def tick(sla: AppliedSla, now: datetime) -> SlaUpdate:
    """Time passed: warn once near a deadline, report a breach once past it.

    Past the deadline no warning goes out any more, only the breach.
    """
    events: list[SlaEvent] = []
    for clock in sla.clocks:
        if clock.status is not ClockStatus.ACTIVE:
            continue
        if now > clock.due_at:
            sla = sla._with(replace(clock, status=ClockStatus.MISSED, breached=True))
            events.append(SlaBreached(sla.conversation_id, clock.kind, clock.due_at))
        elif clock.warn_at is not None and not clock.warned and now >= clock.warn_at:
            sla = sla._with(replace(clock, warned=True))
            events.append(
                SlaWarning(sla.conversation_id, clock.kind, clock.due_at, clock.due_at - now)
            )
    return sla, tuple(events)


def remaining(sla: AppliedSla, now: datetime, kind: ClockKind) -> timedelta:
    """Time left on a clock, negative when overdue (the agents' countdown).

    KeyError when the policy has no such clock (a policy without resolution target).
    """
    clock = sla.clock(kind)
    if clock is None:
        raise KeyError(f"{sla.policy.name} has no {kind} clock")
    return clock.remaining(now)


def next_deadline(sla: AppliedSla) -> datetime | None:
    """The next instant `tick` has something to report (a warning or a breach), or None.

    A breach is reported strictly after the due instant, so its deadline is 1 µs later.
    """
    return _earliest(clock.next_deadline() for clock in sla.clocks)


def _earliest(instants: Iterable[datetime | None]) -> datetime | None:
    present = [instant for instant in instants if instant is not None]
    return min(present) if present else None


def _unmet(clock: SlaClock, now: datetime) -> ClockStatus:
    if clock.status is ClockStatus.MISSED or now > clock.due_at:
        return ClockStatus.MISSED
    return ClockStatus.CANCELLED


def _stop(
    sla: AppliedSla,
    clock: SlaClock,
    now: datetime,
    status: ClockStatus,
    *,
    agent_id: str | None = None,
) -> tuple[SlaClock, list[SlaEvent]]:
    """Stop a running clock; a miss nobody reported yet is reported now (exactly once)."""
    events: list[SlaEvent] = []
    breached = clock.breached
    if status is ClockStatus.MISSED and not breached:
        events.append(SlaBreached(sla.conversation_id, clock.kind, clock.due_at))
        breached = True
    stopped = replace(clock, status=status, stopped_at=now, breached=breached)
    events.append(
        SlaClockStopped(
            conversation_id=sla.conversation_id,
            kind=clock.kind,
            status=status,
            started_at=clock.started_at,
            due_at=clock.due_at,
            stopped_at=now,
            agent_id=agent_id,
        )
    )
    return stopped, events
