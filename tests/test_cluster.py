"""Scale-out: several server processes share one desk through Redis (desk state, the tick's
lease, Socket.IO's emits) and PostgreSQL (conversations), as docs/deploy.md runs them.

Real processes (tests/cluster.py), the real Redis and PostgreSQL on 127.0.0.1, real
python-socketio clients; a process is killed with SIGKILL, as a crash or an OOM kill would.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from prometheus_client.parser import text_string_to_metric_families
from redis.asyncio import Redis
from sqlalchemy.ext.asyncio import create_async_engine

from chatserver.demo import DEMO_AGENTS
from tests.cluster import Client, Desk, agent, free_port, shared_desk
from tests.services import fresh_postgres, private_redis, require_redis


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with shared_desk(tmp_path) as shared:
        yield shared


async def customer(url: str, *, reconnection: bool = False) -> tuple[Client, dict[str, Any]]:
    """A customer who started a conversation on `url` and asked for a person."""
    client = Client("/customer", reconnection=reconnection)
    await client.connect(url)
    started = await client.call("start", {"languages": ["en"]})
    assert started["ok"], started
    asked = await client.call("request_agent", {})
    assert asked["ok"], asked
    return client, started


async def rows(database_url: str, query: str, **params: Any) -> list[Any]:
    engine = create_async_engine(database_url.replace("postgresql://", "postgresql+asyncpg://"))
    try:
        async with engine.connect() as connection:
            return list((await connection.execute(sa.text(query), params)).all())
    finally:
        await engine.dispose()


def texts(messages: list[dict[str, Any]], author: str) -> list[str]:
    return [m["text"] for m in messages if m["author"] == author]


async def test_a_customer_on_one_process_chats_with_an_agent_on_another_and_survives_its_death(
    desk: Desk,
) -> None:
    desk.add_agent("emma")
    a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
    emma = await agent(b.url, "emma")
    alice, started = await customer(a.url)
    conversation_id = started["conversation"]["id"]
    try:
        # Offered on B although the handoff ran on A (emits go through Redis).
        offer = await emma.wait_for("offer", lambda d: d["conversation_id"] == conversation_id)
        accepted = await emma.call("accept", {"conversation_id": offer["conversation_id"]})
        assert accepted["ok"], accepted
        await alice.wait_for("assigned")

        sent = await alice.call("message", {"text": "Hello from A", "client_id": "m1"})
        assert sent["ok"], sent
        await emma.wait_for("message", lambda d: d["text"] == "Hello from A")
        reply = {"conversation_id": conversation_id, "text": "Hi, Emma here", "client_id": "r1"}
        assert (await emma.call("message", reply))["ok"]
        await alice.wait_for("message", lambda d: d["text"] == "Hi, Emma here")
        last_seq = max(m["seq"] for m in alice.events("message"))

        await a.kill()
        # Emma answers while the customer has no connection at all.
        late = {"conversation_id": conversation_id, "text": "Are you still there?"}
        assert (await emma.call("message", {**late, "client_id": "r2"}))["ok"]

        # The customer's widget reconnects to B (the proxy's other upstream) and resumes.
        await alice.close()
        alice = Client("/customer")
        await alice.connect(b.url)
        resumed = await alice.call("start", {"token": started["token"], "last_seq": last_seq})
        assert resumed["ok"], resumed
        assert resumed["conversation"]["id"] == conversation_id
        assert resumed["conversation"]["status"] in ("assigned", "active"), resumed
        assert texts(resumed["messages"], "agent") == ["Are you still there?"]

        sent = await alice.call("message", {"text": "Yes, now on B", "client_id": "m2"})
        assert sent["ok"], sent
        await emma.wait_for("message", lambda d: d["text"] == "Yes, now on B")
        bye = {"conversation_id": conversation_id, "text": "Great", "client_id": "r3"}
        assert (await emma.call("message", bye))["ok"]
        await alice.wait_for("message", lambda d: d["text"] == "Great")
    finally:
        await alice.close()
        await emma.close()

    stored = await rows(
        desk.database_url,
        "SELECT author, text FROM messages WHERE conversation_id = :c ORDER BY seq",
        c=conversation_id,
    )
    said = [(author, text) for author, text in stored if author in ("customer", "agent")]
    assert said == [
        ("customer", "Hello from A"),
        ("agent", "Hi, Emma here"),
        ("agent", "Are you still there?"),
        ("customer", "Yes, now on B"),
        ("agent", "Great"),
    ]


async def test_a_customers_tabs_on_two_processes_each_see_the_others_messages(desk: Desk) -> None:
    # Each process delivers a published emit to its own sockets only (and encodes it only if
    # it has one in the room: chatserver/sockets/manager.py); a tab on the other process
    # must still be shown what this one sent, and the bot's answer.
    a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
    first = Client("/customer")
    second = Client("/customer")
    try:
        await first.connect(a.url)
        started = await first.call("start", {"languages": ["en"]})
        assert started["ok"], started
        await second.connect(b.url)
        resumed = await second.call("start", {"token": started["token"]})
        assert resumed["conversation"]["id"] == started["conversation"]["id"]

        sent = await first.call("message", {"text": "How do I install MT5?", "client_id": "m1"})
        assert sent["ok"], sent
        seq = sent["message"]["seq"]
        shown = await second.wait_for("message", lambda d: d["seq"] == seq)
        assert shown["author"] == "customer"
        assert shown["text"] == "How do I install MT5?"
        for tab in (first, second):
            answer = await tab.wait_for("message", lambda d: d["seq"] == seq + 1)
            assert answer["author"] == "bot"
        # The sender's own message came in its acknowledgement, not pushed to it.
        assert [m["seq"] for m in first.events("message")] == [seq + 1]

        sent = await second.call("message", {"text": "thanks", "client_id": "m2"})
        assert sent["ok"], sent
        shown = await first.wait_for("message", lambda d: d["seq"] == sent["message"]["seq"])
        assert shown["text"] == "thanks"
    finally:
        await first.close()
        await second.close()


async def exchange_groups(url: str) -> tuple[float, float]:
    """(statements, exchanges) of `chatserver_store_exchange_group` on a process's /metrics."""
    async with aiohttp.ClientSession() as session, session.get(f"{url}/metrics") as response:
        text = await response.text()
    samples = {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == "chatserver_store_exchange_group"
        for sample in family.samples
    }
    return (
        samples.get("chatserver_store_exchange_group_count", 0.0),
        samples.get("chatserver_store_exchange_group_sum", 0.0),
    )


async def test_a_customer_writing_on_two_processes_in_turn_gets_each_answer_once(
    desk: Desk,
) -> None:
    # Each process keeps the conversation's row as it last wrote it and answers from that
    # copy; the other process's exchange changes the row, so the copy is refused and read
    # again (chatserver/store/sql.py): every message is answered once, numbered in turn.
    a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
    first, second = Client("/customer"), Client("/customer")
    try:
        await first.connect(a.url)
        started = await first.call("start", {"languages": ["en"]})
        await second.connect(b.url)
        await second.call("start", {"token": started["token"]})
        question = "How do I install MT5?"
        seqs = []
        for n, tab in enumerate([first, second, first, second, first]):
            sent = await tab.call("message", {"text": question, "client_id": f"m{n}"})
            assert sent["ok"], sent
            seq = sent["message"]["seq"]
            answer = await tab.wait_for("message", lambda d, seq=seq: d["seq"] == seq + 1)
            assert answer["author"] == "bot"
            assert answer["meta"]["in_reply_to"] == seq
            seqs.append(seq)
        assert seqs == [seqs[0] + 2 * n for n in range(5)]
        stored = await rows(
            desk.database_url,
            "SELECT author, count(*) FROM messages WHERE conversation_id = :id GROUP BY author",
            id=started["conversation"]["id"],
        )
        assert dict(stored)["customer"] == 5
        assert dict(stored)["bot"] == 6  # the greeting and five answers
        # Process a's three exchanges went through its statements' groups: each once, and
        # again after reading the row where its kept copy was refused (at most twice).
        statements, exchanges = await exchange_groups(a.url)
        assert 3 <= exchanges <= 5
        assert 1 <= statements <= exchanges
    finally:
        await first.close()
        await second.close()


async def test_two_processes_racing_for_100_chats_never_assign_one_twice(desk: Desk) -> None:
    names = [f"agent{n}" for n in range(6)]
    for name in names:
        desk.add_agent(name, capacity=20)
    a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
    nodes = [a, b]
    agents = [await agent(nodes[n % 2].url, name) for n, name in enumerate(names)]
    customers: list[Client] = []
    try:
        t0 = asyncio.get_running_loop().time()
        started = await asyncio.gather(*(customer(nodes[n % 2].url) for n in range(100)))
        print("handoffs took", asyncio.get_running_loop().time() - t0)
        customers = [client for client, _ in started]
        ids = [s["conversation"]["id"] for _, s in started]

        # Every agent tries to take every chat, all at once, from both processes.
        async def take(console: Client, conversation_id: str) -> tuple[str, bool, Any]:
            ack = await console.call("accept", {"conversation_id": conversation_id})
            return conversation_id, bool(ack["ok"]), ack

        results = await asyncio.gather(
            *(take(console, conversation_id) for console in agents for conversation_id in ids)
        )
    finally:
        await asyncio.gather(*(c.close() for c in [*customers, *agents]))

    won = Counter(conversation_id for conversation_id, ok, _ in results if ok)
    assert set(won) == set(ids), "every chat is taken"
    assert max(won.values()) == 1, [c for c, n in won.items() if n > 1]
    refusals = Counter(ack["error"]["code"] for _, ok, ack in results if not ok)
    assert set(refusals) <= {"already_taken", "not_eligible"}, refusals  # taken; full

    holders = await rows(
        desk.database_url,
        "SELECT agent_id, count(*) FROM conversations WHERE status = 'assigned' GROUP BY agent_id",
    )
    assert sum(count for _, count in holders) == 100
    assert max(count for _, count in holders) <= 20
    stretches = await rows(
        desk.database_url,
        "SELECT conversation_id, count(*) FROM holdings GROUP BY conversation_id",
    )
    assert len(stretches) == 100
    assert {count for _, count in stretches} == {1}


async def test_processes_started_together_on_an_empty_database_all_come_up(desk: Desk) -> None:
    """`docker compose up` on a new PostgreSQL: both processes migrate and add the demo
    agents at once; one creates the schema and the agents, the other finds them."""
    nodes = [desk.node(name, CHATSERVER_DEMO_AGENTS="true") for name in ("a", "b", "c")]
    await asyncio.gather(*(node.start() for node in nodes))
    versions = await rows(desk.database_url, "SELECT version FROM schema_migrations")
    assert sorted(v for (v,) in versions) == list(range(1, len(versions) + 1))
    agents = await rows(desk.database_url, "SELECT username FROM agents")
    assert sorted(u for (u,) in agents) == sorted(name for name, *_ in DEMO_AGENTS)
    for node in nodes:  # and each serves
        customer_client, started = await customer(node.url)
        assert started["conversation"]["id"]
        await customer_client.close()


async def test_the_tick_moves_to_another_process_when_its_holder_dies(desk: Desk) -> None:
    desk.add_agent("emma")
    desk.env["CHATSERVER_ACCEPT_TIMEOUT"] = "2"
    a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
    redis = Redis.from_url(desk.redis_url)
    try:
        async with asyncio.timeout(10):  # the first beat takes the lease
            while (owner := await tick_owner(redis, desk.prefix)) is None:
                await asyncio.sleep(0.05)
        holder, other = (a, b) if owner == a.node_id else (b, a)
        assert owner == holder.node_id, (owner, a.node_id, b.node_id)

        await holder.kill()
        loop = asyncio.get_running_loop()
        killed = loop.time()
        async with asyncio.timeout(15):
            while await tick_owner(redis, desk.prefix) != other.node_id:
                await asyncio.sleep(0.1)
        assert loop.time() - killed < 10  # the lease is 5 s

        # The survivor's tick runs the desk: an offer nobody accepts is withdrawn in time.
        emma = await agent(other.url, "emma")
        alice, _ = await customer(other.url)
        try:
            offer = await emma.wait_for("offer")
            withdrawn = await emma.wait_for(
                "offer_withdrawn", lambda d: d["conversation_id"] == offer["conversation_id"]
            )
            assert withdrawn["conversation_id"] == offer["conversation_id"]
        finally:
            await alice.close()
            await emma.close()
    finally:
        await redis.aclose()


async def knows_again(redis: Redis, prefix: str, conversation_id: str) -> bool:
    """The rebuilt desk has the customer in their conversation and an agent's console."""
    raw = await redis.get(f"{prefix}:state")
    if raw is None:
        return False
    state = json.loads(raw)
    return conversation_id in state["customers"]["sockets"] and bool(state["agents"]["consoles"])


async def tick_owner(redis: Redis, prefix: str) -> str | None:
    raw = await redis.get(f"{prefix}:tick")
    return None if raw is None else raw.decode().split(":", 1)[0]


class OwnRedis:
    """A Redis of the test's own (tests.services.private_redis), which it restarts empty."""

    def __init__(self, port: int, tmp_path: Path) -> None:
        self.port, self.tmp_path = port, tmp_path
        self._running: contextlib.AbstractAsyncContextManager[Any] | None = None

    async def start(self) -> None:
        self._running = private_redis(self.port, self.tmp_path)
        await self._running.__aenter__()

    async def stop(self) -> None:
        running, self._running = self._running, None
        if running is not None:
            await running.__aexit__(None, None, None)

    async def restart(self) -> None:
        """Redis goes, with everything in it, and an empty one comes up on the same port."""
        await self.stop()
        await self.start()


@contextlib.asynccontextmanager
async def desk_on_own_redis(tmp_path: Path, *agents: str) -> AsyncIterator[tuple[Desk, OwnRedis]]:
    """A desk on a fresh PostgreSQL database and a Redis of its own, with `agents`."""
    require_redis()
    redis = OwnRedis(free_port(), tmp_path)
    async with fresh_postgres() as database_url:
        desk = Desk(tmp_path, database_url, f"redis://127.0.0.1:{redis.port}/0")
        for username in agents:
            desk.add_agent(username)
        await redis.start()
        try:
            yield desk, redis
        finally:
            await desk.stop()
            await redis.stop()


async def test_a_restart_of_redis_loses_no_conversation(tmp_path: Path) -> None:
    async with desk_on_own_redis(tmp_path, "emma") as (desk, redis):
        a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
        emma = await agent(b.url, "emma", reconnection=True)
        alice, started = await customer(a.url, reconnection=True)
        conversation_id = started["conversation"]["id"]

        async def resume() -> None:  # what the widget does on every reconnection
            seqs = [m["seq"] for m in alice.events("message")] or [0]
            await alice.call("start", {"token": started["token"], "last_seq": max(seqs)})

        alice.on_connect = resume
        waiting: Client | None = None
        try:
            offer = await emma.wait_for("offer")
            assert (await emma.call("accept", {"conversation_id": offer["conversation_id"]}))["ok"]
            waiting, _ = await customer(a.url, reconnection=True)  # nobody free: queued
            await redis.restart()

            # Both processes notice, one rebuilds the desk from PostgreSQL, and each puts its
            # own sockets back in the presence: nobody has to reconnect.
            fresh = Redis(port=redis.port)
            try:
                async with asyncio.timeout(30):
                    while not await knows_again(fresh, desk.prefix, conversation_id):
                        await asyncio.sleep(0.1)
                # ...and keeps them: the heartbeats went with the old Redis too, which must
                # not make the tick take the other process for dead.
                await asyncio.sleep(3)
                assert await knows_again(fresh, desk.prefix, conversation_id)
            finally:
                await fresh.aclose()
            assert (alice.connections, emma.connections) == (1, 1)
            sent = {"text": "Still there after Redis?", "client_id": "after"}
            async with asyncio.timeout(30):
                while True:  # the first try may land before the resume
                    ack = await alice.call("message", sent)
                    if ack["ok"]:
                        break
                    await asyncio.sleep(0.2)
            await emma.wait_for("message", lambda d: d["text"] == sent["text"], timeout=30)
            reply = {"conversation_id": conversation_id, "text": "Yes", "client_id": "y"}
            assert (await emma.call("message", reply))["ok"]
            await alice.wait_for("message", lambda d: d["text"] == "Yes", timeout=30)
        finally:
            await alice.close()
            if waiting is not None:
                await waiting.close()
            await emma.close()
        await desk.stop()
        stored = await rows(
            desk.database_url,
            "SELECT status, agent_id FROM conversations WHERE id = :c",
            c=conversation_id,
        )
        assert [status for status, _ in stored] == ["active"]  # still Emma's, answered


async def router_agent(redis: Redis, prefix: str, name: str) -> dict[str, Any] | None:
    raw = await redis.get(f"{prefix}:state")
    if raw is None:
        return None
    agents = json.loads(raw)["router"]["agents"]
    return next((a for a in agents if a["name"] == name), None)


async def test_an_agent_who_stepped_away_is_still_away_after_redis_restarts(
    tmp_path: Path,
) -> None:
    """Redis keeps the statuses agents chose, and the store does not: the rebuilt desk takes
    them from the processes' last copies, so a restart offers nobody on a break a chat."""
    async with desk_on_own_redis(tmp_path, "liam") as (desk, redis):
        a, b = await asyncio.gather(desk.node("a").start(), desk.node("b").start())
        # Two consoles, one on each process; the break is taken on B.
        on_a = await agent(a.url, "liam", reconnection=True)
        on_b = await agent(b.url, "liam", reconnection=True)
        fresh = Redis(port=redis.port)
        try:
            assert (await on_b.call("status", {"status": "away"}))["ok"]
            # The console on A shows it too (the `status` push goes through Redis).
            await on_a.wait_for("status", lambda d: d == {"status": "away"})
            # A's copy follows within a heartbeat (2 s) even when nothing happens on A.
            await asyncio.sleep(3)
            await redis.restart()  # every status goes with it
            async with asyncio.timeout(30):  # both processes put their console back
                while True:
                    raw = await fresh.get(f"{desk.prefix}:state")
                    consoles = json.loads(raw)["agents"]["consoles"] if raw else {}
                    if sum(len(sids) for sids in consoles.values()) == 2:
                        break
                    await asyncio.sleep(0.1)
            liam = await router_agent(fresh, desk.prefix, "Liam")
            assert liam is not None
            assert liam["status"] == "away", liam
            assert on_a.events("status")[-1] == {"status": "away"}
            assert on_b.events("status")[-1] == {"status": "away"}

            alice, _ = await customer(a.url)  # nobody online: she may leave a message
            await alice.wait_for("offline")
            assert on_a.events("offer") == []
            assert on_b.events("offer") == []

            assert (await on_a.call("status", {"status": "online"}))["ok"]
            await on_b.wait_for("status", lambda d: d == {"status": "online"})
            bob, started = await customer(b.url)  # back from the break: offered at once
            offer = await on_a.wait_for("offer")
            assert offer["conversation_id"] == started["conversation"]["id"]
            await alice.close()
            await bob.close()
        finally:
            await fresh.aclose()
            await on_a.close()
            await on_b.close()
