"""Rate limits on Socket.IO: real python-socketio clients against a real server, with the
limits' clock moved by hand (no sleeping through a refill)."""

from __future__ import annotations

import asyncio
import dataclasses
from typing import Any

import pytest
import socketio
import sqlalchemy as sa

from chatserver.keys import SERVICES
from chatserver.limits import Rate, parse_networks
from chatserver.store.schema import conversations, messages
from tests.conftest import FakeClock
from tests.test_handoff_e2e import connect_agent

QUESTION = "How do I install MT5?"  # answered by the bot, so the chat stays with it
PROXY = parse_networks("127.0.0.1, ::1")  # the test client is "behind" a trusted proxy


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def limited(start_server, settings, clock):
    async def start(**changes: Any):
        return await start_server(
            dataclasses.replace(settings, **changes), clock=clock, monotonic=clock.monotonic
        )

    return start


async def count(server, table: sa.Table, *where: Any) -> int:
    query = sa.select(sa.func.count()).select_from(table).where(*where)
    return int(await server.app[SERVICES].store.read(lambda c: c.execute(query).scalar_one()))


def refused(ack: dict[str, Any]) -> bool:
    if ack.get("ok") is not False or ack["error"]["code"] != "rate_limited":
        return False
    wait = ack["error"]["retry_after"]
    assert isinstance(wait, float)
    assert wait > 0
    return True


async def test_a_burst_over_the_limit_is_refused_stores_nothing_and_others_are_served(
    limited, connect, clock
):
    server = await limited(rate_messages=Rate(1.0, 5))
    flooder = await connect(server)
    started = await flooder.call("start", {})
    conversation_id = started["conversation"]["id"]
    acks = await asyncio.gather(
        *(
            flooder.call("message", {"text": f"{QUESTION} {n}", "client_id": f"s-{n}"})
            for n in range(40)
        )
    )
    assert sum(ack["ok"] is True for ack in acks) == 5
    assert sum(refused(ack) for ack in acks) == 35
    await flooder.wait_pushed("message", 5)  # the bot answered the five it accepted
    customer_rows = (messages.c.conversation_id == conversation_id, messages.c.author == "customer")
    assert await count(server, messages, *customer_rows) == 5

    # Another customer (same address: the per-address limit is generous) is served at once.
    other = await connect(server)
    await other.call("start", {})
    ack = await other.call("message", {"text": QUESTION, "client_id": "o-1"})
    assert ack["ok"] is True
    await other.wait_pushed("message")

    # The flooder gets nothing more answered...
    assert len(flooder.pushed("message")) == 5
    # ...until retry_after has passed; then it may send again.
    wait = max(ack["error"]["retry_after"] for ack in acks if ack["ok"] is False)
    assert wait == pytest.approx(1.0, abs=0.01)
    clock.advance(wait)
    again = await flooder.call("message", {"text": QUESTION, "client_id": "s-again"})
    assert again["ok"] is True
    assert await count(server, messages, *customer_rows) == 6


async def test_one_connection_cannot_start_a_thousand_conversations(limited, connect, clock):
    server = await limited(rate_starts=Rate(1 / 60, 3))
    customer = await connect(server)
    acks = [await customer.call("start", {}) for _ in range(10)]
    assert [ack["ok"] for ack in acks] == [True] * 3 + [False] * 7
    assert all(refused(ack) for ack in acks[3:])
    assert acks[3]["error"]["retry_after"] == pytest.approx(60.0, abs=0.01)
    assert await count(server, conversations) == 3
    clock.advance(60)
    assert (await customer.call("start", {}))["ok"] is True
    assert await count(server, conversations) == 4


async def test_the_limit_per_address_spans_connections_and_trusts_only_the_proxy(limited, connect):
    server = await limited(
        trusted_proxies=PROXY, rate_messages_per_address=Rate(1.0, 4), rate_starts=None
    )
    office = {"X-Forwarded-For": "203.0.113.5"}
    first, second = await connect(server, headers=office), await connect(server, headers=office)
    elsewhere = await connect(server, headers={"X-Forwarded-For": "198.51.100.7"})
    for customer in (first, second, elsewhere):
        await customer.call("start", {})
    sent = [await first.call("message", {"text": f"a {n}"}) for n in range(2)]
    sent += [await second.call("message", {"text": f"b {n}"}) for n in range(3)]
    assert [ack["ok"] for ack in sent] == [True, True, True, True, False]
    assert refused(sent[-1])
    assert (await elsewhere.call("message", {"text": "hello"}))["ok"] is True


async def test_forwarded_for_from_an_untrusted_peer_is_ignored(limited, connect):
    server = await limited(rate_messages_per_address=Rate(1.0, 2))  # no trusted proxy
    spoofer = await connect(server, headers={"X-Forwarded-For": "192.0.2.1"})
    other = await connect(server, headers={"X-Forwarded-For": "192.0.2.2"})
    for customer in (spoofer, other):
        await customer.call("start", {})
    assert (await spoofer.call("message", {"text": "one"}))["ok"] is True
    assert (await spoofer.call("message", {"text": "two"}))["ok"] is True
    # Both are 127.0.0.1 whatever they claim: the address's two tokens are spent.
    assert refused(await other.call("message", {"text": "three"}))


async def test_typing_is_limited_by_its_own_kind(limited, connect):
    server = await limited(rate_typing=Rate(1.0, 2))
    customer = await connect(server)
    # Counted before the payload is read, even a malformed one.
    assert (await customer.call("typing", {}))["error"]["code"] == "invalid_payload"
    assert (await customer.call("start", {}))["ok"] is True
    acks = [await customer.call("typing", {"typing": True}) for _ in range(2)]
    assert acks[0] == {"ok": True}
    assert acks[1]["error"]["code"] == "rate_limited"
    # Other kinds are not spent by it.
    assert (await customer.call("message", {"text": "hello"}))["ok"] is True


async def test_agent_messages_are_limited_too(limited, clock):
    server = await limited(rate_messages=Rate(1.0, 3))
    agent = await connect_agent(server, "aiko", "Aiko Tanaka", ["ja"])
    try:
        payload = {"conversation_id": "0" * 32, "text": "hello", "client_id": "x"}
        codes = [(await agent.call("message", payload))["error"]["code"] for _ in range(4)]
        assert codes[:3] != ["rate_limited"] * 3
        assert codes[3] == "rate_limited"
        clock.advance(1)
        assert (await agent.call("note", payload))["error"]["code"] != "rate_limited"
    finally:
        await agent.client.disconnect()


async def _refusal(server, namespace: str, **connect_args: Any) -> dict[str, Any] | None:
    """Connect to `namespace`: None if accepted (then disconnect), else the refusal's data."""
    client = socketio.AsyncClient(reconnection=False)
    errors: list[Any] = []
    client.on("connect_error", errors.append, namespace=namespace)
    try:
        await client.connect(
            str(server.make_url("/")),
            namespaces=[namespace],
            transports=["websocket"],
            wait_timeout=5,
            **connect_args,
        )
    except socketio.exceptions.ConnectionError:
        assert errors, "refused without a reason"
        (reason,) = errors  # {"message": ..., "data": ...}: JS clients see error.message, .data
        assert isinstance(reason["message"], str)
        return dict(reason.get("data") or {"message": reason["message"]})
    finally:
        await client.disconnect()
    return None


async def test_new_connections_are_limited_per_address_on_both_namespaces(limited, clock):
    server = await limited(trusted_proxies=PROXY, rate_connections_per_address=Rate(1 / 60, 2))
    here = {"X-Forwarded-For": "203.0.113.5"}
    assert await _refusal(server, "/customer", headers=here) is None
    assert await _refusal(server, "/customer", headers=here) is None
    for namespace in ("/customer", "/agent"):
        refusal = await _refusal(server, namespace, headers=here, auth={"token": "x"})
        assert refusal is not None
        assert refusal["code"] == "rate_limited"
        assert refusal["retry_after"] == pytest.approx(60.0, abs=0.01)
    assert await _refusal(server, "/customer", headers={"X-Forwarded-For": "198.51.100.7"}) is None
    clock.advance(60)
    assert await _refusal(server, "/customer", headers=here) is None


async def test_the_defaults_never_bother_a_customer_typing_fast(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    for n in range(10):  # ten in a row, as fast as the client can send them
        assert (await customer.call("message", {"text": f"{QUESTION} {n}"}))["ok"] is True


async def test_the_defaults_allow_a_message_a_second_for_ever(limited, connect, clock):
    server = await limited()
    customer = await connect(server)
    await customer.call("start", {})
    for n in range(60):
        assert (await customer.call("message", {"text": f"{QUESTION} {n}"}))["ok"] is True
        clock.advance(1)
