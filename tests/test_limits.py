"""Token buckets, their tables and the client address, on a clock moved by hand."""

from __future__ import annotations

import asyncio

import pytest

from chatserver.limits import (
    Buckets,
    Busy,
    Limit,
    Rate,
    RateLimiter,
    Slots,
    TokenBucket,
    client_address,
    parse_networks,
    retry_after,
)


class Ticks:
    """A monotonic clock that moves only when told to."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("1/s burst 10", Rate(1.0, 10)),
        ("30/min burst 5", Rate(0.5, 5)),
        (" 2 / h  BURST 3 ", Rate(2 / 3600, 3)),
        ("0.5/s burst 1", Rate(0.5, 1)),
    ],
)
def test_rates_parse(raw, expected):
    assert Rate.parse(raw) == expected


def test_off_means_no_limit():
    assert Rate.parse("off") is None


@pytest.mark.parametrize("raw", ["10", "1/s", "1/day burst 3", "0/s burst 3", "1/s burst 0", "x"])
def test_bad_rates_are_refused(raw):
    with pytest.raises(ValueError, match="RATE/UNIT burst N"):
        Rate.parse(raw)


def test_a_bucket_allows_its_burst_then_refills_at_its_rate():
    bucket = TokenBucket(Rate(2.0, 3), now=0.0)
    for _ in range(3):
        assert bucket.wait(0.0) == 0
        bucket.take(0.0)
    assert bucket.wait(0.0) == pytest.approx(0.5)
    assert bucket.wait(0.25) == pytest.approx(0.25)
    assert bucket.wait(0.5) == 0
    bucket.take(0.5)
    assert bucket.wait(0.5) == pytest.approx(0.5)
    # Idle for long: never more than the burst in hand.
    assert bucket.available(100.0) == 3


def test_a_refused_event_takes_no_token_from_either_bucket():
    ticks = Ticks()
    limiter = RateLimiter({"messages": Limit(Rate(1.0, 2), Rate(1.0, 3))}, ticks)
    assert limiter.check("messages", connection="a", address="203.0.113.5") == 0
    assert limiter.check("messages", connection="a", address="203.0.113.5") == 0
    # Connection a is empty; its refusal does not spend the address's last token.
    assert limiter.check("messages", connection="a", address="203.0.113.5") == pytest.approx(1.0)
    assert limiter.check("messages", connection="b", address="203.0.113.5") == 0
    # Now the address is empty: a third connection from it waits too.
    assert limiter.check("messages", connection="c", address="203.0.113.5") == pytest.approx(1.0)
    assert limiter.check("messages", connection="d", address="198.51.100.7") == 0
    ticks.now += 1.0
    assert limiter.check("messages", connection="c", address="203.0.113.5") == 0


def test_kinds_are_separate_and_unknown_kinds_unlimited():
    ticks = Ticks()
    limiter = RateLimiter(
        {"typing": Limit(Rate(1.0, 1), None), "starts": Limit(Rate(1.0, 1), None)}, ticks
    )
    assert limiter.check("typing", connection="a", address="x") == 0
    assert limiter.check("typing", connection="a", address="x") > 0
    assert limiter.check("starts", connection="a", address="x") == 0
    assert limiter.check("whatever", connection="a", address="x") == 0


def test_idle_buckets_are_evicted_so_memory_is_bounded():
    ticks = Ticks()
    table = Buckets(Rate(1.0, 10), ticks)
    for n in range(1000):
        table.take(f"client-{n}")
    assert len(table) == 1000
    ticks.now += 10.0  # every bucket is full again: as good as new
    table.take("late")
    assert len(table) == 1
    # A bucket still owing tokens is kept, with its debt.
    for _ in range(10):
        table.take("busy")
    ticks.now += 5.0
    table.take("other")
    assert table.wait("busy") == 0  # 5 tokens back
    assert len(table) == 2


def test_a_flood_of_new_keys_is_capped():
    ticks = Ticks()
    table = Buckets(Rate(1.0, 10), ticks, max_keys=100)
    for n in range(10_000):
        table.take(f"client-{n}")
    assert len(table) == 100


def test_a_connection_is_forgotten_when_it_goes():
    limiter = RateLimiter({"messages": Limit(Rate(1.0, 5), Rate(1.0, 50))}, Ticks())
    limiter.check("messages", connection="sid-1", address="x")
    assert limiter.size() == 2
    limiter.forget_connection("sid-1")
    assert limiter.size() == 1


def test_given_back_tokens_are_available_again():
    ticks = Ticks()
    table = Buckets(Rate(1.0, 1), ticks)
    table.take("k")
    assert table.wait("k") > 0
    table.give_back("k")
    assert table.wait("k") == 0


def test_retry_after_is_rounded_up_to_the_millisecond():
    assert retry_after(0.0001) == 0.001
    assert retry_after(1.2341) == 1.235


def test_the_peer_is_the_client_unless_it_is_a_trusted_proxy():
    trusted = parse_networks("10.0.0.0/8, 192.0.2.7")
    assert client_address("198.51.100.9", "203.0.113.5", trusted) == "198.51.100.9"
    assert client_address("192.0.2.7", "203.0.113.5", trusted) == "203.0.113.5"
    # The nearest untrusted hop, from the right: what the client wrote itself is ignored.
    assert client_address("10.1.2.3", "1.1.1.1, 203.0.113.5, 10.9.9.9", trusted) == "203.0.113.5"
    # Garbage in the header: the last proxy is all that is known.
    assert client_address("10.1.2.3", "nonsense", trusted) == "10.1.2.3"
    assert client_address("192.0.2.7", None, trusted) == "192.0.2.7"
    assert client_address("198.51.100.9", "203.0.113.5", ()) == "198.51.100.9"


def test_ipv6_clients_are_keyed_by_their_64_and_mapped_ipv4_as_ipv4():
    assert client_address("2001:db8:1:2:3:4:5:6", None, ()) == "2001:db8:1:2::/64"
    assert client_address("2001:db8:1:2:ffff::1", None, ()) == "2001:db8:1:2::/64"
    assert client_address("::ffff:203.0.113.5", None, ()) == "203.0.113.5"
    assert client_address(None, None, ()) == "unknown"


def test_bad_proxy_lists_are_refused():
    with pytest.raises(ValueError, match=r"'proxy\.example'"):
        parse_networks("10.0.0.1, proxy.example")


async def test_slots_bound_holders_and_refuse_beyond_the_waiting_line():
    slots = Slots(1, max_waiting=2)
    running = 0
    most = 0
    release = asyncio.Event()
    outcomes: list[str] = []

    async def work() -> None:
        nonlocal running, most
        try:
            async with slots.hold():
                running += 1
                most = max(most, running)
                await release.wait()
                running -= 1
                outcomes.append("done")
        except Busy:
            outcomes.append("busy")

    tasks = [asyncio.create_task(work()) for _ in range(6)]
    await asyncio.sleep(0.01)
    assert sorted(outcomes) == ["busy"] * 3  # one holds, two wait, three refused at once
    release.set()
    await asyncio.gather(*tasks)
    assert sorted(outcomes) == ["busy"] * 3 + ["done"] * 3
    assert most == 1
