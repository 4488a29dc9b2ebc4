"""Rate limits: token buckets per connection and per client address, and who the client is.

Pure: no aiohttp, no Socket.IO. Time is an injected monotonic clock (seconds as a float),
so tests move it by hand. A bucket holds `burst` tokens and gains `per_second` of them back
over time; each event takes one. A bucket left alone long enough to be full again is the
same as a new one, so it is dropped: memory follows the clients active in the last few
seconds, never every client ever seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import math
import re
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass

from chatserver.models import DomainError

Monotonic = Callable[[], float]
Network = ipaddress.IPv4Network | ipaddress.IPv6Network

UNITS = {"s": 1.0, "sec": 1.0, "second": 1.0, "min": 60.0, "minute": 60.0, "h": 3600.0}
_RATE = re.compile(r"^(\d+(?:\.\d+)?)\s*/\s*([a-z]+)\s+burst\s+(\d+)$")
RATE_FORMAT = "RATE/UNIT burst N, e.g. '1/s burst 10' or '30/min burst 5' (unit s, min, h)"
# Beyond this many keys in one table the least recently used bucket is forgotten, even if
# it is not full yet: an attacker who owns that many addresses gains one burst each.
MAX_KEYS = 100_000


class RateLimited(DomainError):
    """Too many requests from this connection or address; try again after `retry_after`."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class Rate:
    """`per_second` tokens come back each second, up to `burst` in hand."""

    per_second: float
    burst: int

    @classmethod
    def parse(cls, raw: str) -> Rate | None:
        """`'1/s burst 10'` -> Rate(1.0, 10); `'off'` -> None (no limit)."""
        text = " ".join(raw.strip().lower().split())
        if text in {"off", "none", "0"}:
            return None
        match = _RATE.match(text)
        if match is None or match.group(2) not in UNITS:
            raise ValueError(f"expected {RATE_FORMAT}, or off; got {raw!r}")
        count, unit, burst = float(match.group(1)), match.group(2), int(match.group(3))
        if count <= 0 or burst < 1:
            raise ValueError(f"expected {RATE_FORMAT} with both above 0, or off; got {raw!r}")
        return cls(count / UNITS[unit], burst)

    @property
    def refill_seconds(self) -> float:
        """How long an empty bucket takes to be full again."""
        return self.burst / self.per_second


class TokenBucket:
    __slots__ = ("rate", "stamp", "tokens")

    def __init__(self, rate: Rate, now: float) -> None:
        self.rate = rate
        self.tokens = float(rate.burst)
        self.stamp = now

    def available(self, now: float) -> float:
        elapsed = max(0.0, now - self.stamp)
        return min(float(self.rate.burst), self.tokens + elapsed * self.rate.per_second)

    def wait(self, now: float) -> float:
        """Seconds until one token is in hand (0: now)."""
        missing = 1.0 - self.available(now)
        return 0.0 if missing <= 1e-9 else missing / self.rate.per_second

    def take(self, now: float) -> None:
        self.tokens = self.available(now) - 1.0
        self.stamp = max(self.stamp, now)

    def give_back(self, now: float) -> None:
        self.tokens = min(float(self.rate.burst), self.available(now) + 1.0)
        self.stamp = max(self.stamp, now)

    def full(self, now: float) -> bool:
        return self.available(now) >= self.rate.burst


class Buckets:
    """One bucket per key (a connection, an address), evicted once idle long enough to
    be full again. Kept in least-recently-used order, so eviction looks only at the
    front: amortised O(1) per event."""

    def __init__(self, rate: Rate, clock: Monotonic, *, max_keys: int = MAX_KEYS) -> None:
        self.rate = rate
        self.clock = clock
        self.max_keys = max_keys
        self._buckets: OrderedDict[Hashable, TokenBucket] = OrderedDict()

    def __len__(self) -> int:
        return len(self._buckets)

    def wait(self, key: Hashable) -> float:
        bucket = self._buckets.get(key)
        return 0.0 if bucket is None else bucket.wait(self.clock())

    def take(self, key: Hashable) -> None:
        now = self.clock()
        self._evict_idle(now)
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = TokenBucket(self.rate, now)
            if len(self._buckets) > self.max_keys:
                self._buckets.popitem(last=False)
        else:
            self._buckets.move_to_end(key)
        bucket.take(now)

    def give_back(self, key: Hashable) -> None:
        """Undo a `take` (the attempt did not happen, or does not count)."""
        bucket = self._buckets.get(key)
        if bucket is not None:
            bucket.give_back(self.clock())

    def forget(self, key: Hashable) -> None:
        self._buckets.pop(key, None)

    def _evict_idle(self, now: float) -> None:
        # A bucket untouched for refill_seconds is full: as good as a new one.
        idle_after = self.rate.refill_seconds
        while self._buckets:
            key, bucket = next(iter(self._buckets.items()))
            if now - bucket.stamp < idle_after and not bucket.full(now):
                return
            del self._buckets[key]


@dataclass(frozen=True, slots=True)
class Limit:
    """The limits of one kind of event: per connection and per client address."""

    per_connection: Rate | None
    per_address: Rate | None


class RateLimiter:
    """Token buckets by kind of event (`messages`, `starts`, `typing`, ...), one per
    connection and one per client address. An event passes only when both buckets have a
    token, and then takes one from each; a refused event takes nothing."""

    def __init__(
        self, limits: Mapping[str, Limit], clock: Monotonic, *, max_keys: int = MAX_KEYS
    ) -> None:
        self.limits = dict(limits)
        self._tables: dict[str, tuple[Buckets | None, Buckets | None]] = {
            kind: (
                Buckets(limit.per_connection, clock, max_keys=max_keys)
                if limit.per_connection
                else None,
                Buckets(limit.per_address, clock, max_keys=max_keys) if limit.per_address else None,
            )
            for kind, limit in limits.items()
        }

    def check(self, kind: str, *, connection: str | None, address: str) -> float:
        """0.0 when the event may go (its tokens are taken), else the seconds to wait."""
        per_connection, per_address = self._tables.get(kind, (None, None))
        keyed = [
            (table, key)
            for table, key in ((per_connection, connection), (per_address, address))
            if table is not None and key is not None
        ]
        wait = max((table.wait(key) for table, key in keyed), default=0.0)
        if wait > 0:
            return wait
        for table, key in keyed:
            table.take(key)
        return 0.0

    def forget_connection(self, connection: str) -> None:
        for per_connection, _ in self._tables.values():
            if per_connection is not None:
                per_connection.forget(connection)

    def size(self) -> int:
        """Buckets held, all kinds together (bounded memory, observable)."""
        return sum(len(t) for pair in self._tables.values() for t in pair if t is not None)


def retry_after(seconds: float) -> float:
    """A wait as sent to clients: seconds, rounded up to the millisecond."""
    return max(0.001, math.ceil(seconds * 1000) / 1000)


class Busy(Exception):
    """Every slot is taken and the waiting line is full."""


class Slots:
    """At most `slots` holders at a time, and at most `max_waiting` waiting for one; one
    more is refused at once (`Busy`) rather than queued without bound."""

    def __init__(self, slots: int, max_waiting: int) -> None:
        self.slots = slots
        self.max_waiting = max_waiting
        self._semaphore = asyncio.Semaphore(slots)
        self._waiting = 0

    @contextlib.asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        if self._semaphore.locked() and self._waiting >= self.max_waiting:
            raise Busy
        self._waiting += 1
        try:
            await self._semaphore.acquire()
        finally:
            self._waiting -= 1
        try:
            yield
        finally:
            self._semaphore.release()


def parse_networks(raw: str) -> tuple[Network, ...]:
    """`'10.0.0.0/8, 192.0.2.7'` -> networks (a bare address is a network of one)."""
    networks = []
    for part in (p.strip() for p in raw.split(",")):
        if not part:
            continue
        try:
            networks.append(ipaddress.ip_network(part, strict=False))
        except ValueError:
            raise ValueError(f"expected IP addresses or networks (CIDR), got {part!r}") from None
    return tuple(networks)


def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        ip = ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    return ip


def _trusted(ip: ipaddress.IPv4Address | ipaddress.IPv6Address, trusted: Sequence[Network]) -> bool:
    return any(ip.version == net.version and ip in net for net in trusted)


def _key(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    # One IPv6 subscriber gets a whole /64: limiting single addresses would limit nothing.
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def client_address(peer: str | None, forwarded_for: str | None, trusted: Sequence[Network]) -> str:
    """The address limits are keyed by: the peer, unless the peer is a trusted proxy; then
    the nearest address in X-Forwarded-For that is not a trusted proxy (read from the
    right: everything left of it is whatever the client chose to send). IPv6 addresses
    are reduced to their /64."""
    peer_ip = _ip(peer) if peer else None
    if peer_ip is None:
        return peer or "unknown"
    client = peer_ip
    if forwarded_for and _trusted(peer_ip, trusted):
        for hop in reversed(forwarded_for.split(",")):
            hop_ip = _ip(hop)
            if hop_ip is None:
                break  # a forged or broken entry: the last proxy is all we know
            client = hop_ip
            if not _trusted(hop_ip, trusted):
                break
    return _key(client)
