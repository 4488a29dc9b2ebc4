"""One process's client manager: an emit that reaches nobody is not encoded, and every
emit that reaches somebody still arrives (chatserver/sockets/manager.py)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import signal
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import redis.asyncio
import socketio

from chatserver.keys import SIO
from chatserver.sockets.base import conversation_room
from chatserver.sockets.manager import LocalManager, SharedManager
from tests.cluster import free_port
from tests.services import fresh_postgres, private_redis, require_redis

QUESTION = "How do I install MT5?"


def count_encoded_events(sio: Any) -> Counter[str]:
    """From now on, count the events `sio` encodes, by name."""
    encoded: Counter[str] = Counter()
    base = sio.packet_class

    class CountingPacket(base):  # type: ignore[misc, valid-type]
        def encode(self) -> Any:
            if self.packet_type == socketio.packet.EVENT and self.data:
                encoded[self.data[0]] += 1
            return super().encode()

    sio.packet_class = CountingPacket
    return encoded


async def test_a_message_from_a_customer_with_one_tab_is_not_encoded_for_other_tabs(
    server, connect
):
    sio = server.app[SIO]
    assert isinstance(sio.manager, LocalManager)
    tab = await connect(server)
    await tab.call("start", {"language": "en"})
    encoded = count_encoded_events(sio)

    ack = await tab.call("message", {"text": QUESTION, "client_id": "c1"})

    (reply,) = await tab.wait_pushed("message")
    assert reply["author"] == "bot"
    assert reply["seq"] == ack["message"]["seq"] + 1
    # The bot's reply went out; the copy of the customer's message for other tabs did not,
    # as there is none.
    assert encoded["message"] == 1


async def test_a_customer_message_reaches_their_other_tab_and_not_the_sender(server, connect):
    sio = server.app[SIO]
    first, second = await connect(server), await connect(server)
    started = await first.call("start", {"language": "en"})
    await second.call("start", {"token": started["token"]})
    conversation_id = started["conversation"]["id"]
    sids = [
        sid
        for sid, _ in sio.manager.get_participants("/customer", conversation_room(conversation_id))
    ]
    assert len(sids) == 2
    encoded = count_encoded_events(sio)

    ack = await first.call("message", {"text": QUESTION, "client_id": "c1"})

    pushed = await second.wait_pushed("message", count=2)
    assert [(m["author"], m["seq"]) for m in pushed] == [
        ("customer", ack["message"]["seq"]),
        ("bot", ack["message"]["seq"] + 1),
    ]
    assert pushed[0]["text"] == QUESTION
    (reply,) = await first.wait_pushed("message")
    assert reply["author"] == "bot"  # the sender has its own message in the ack, not pushed
    assert encoded["message"] == 2


async def test_whether_a_room_has_a_recipient_besides_the_skipped_sockets(server, connect):
    manager = server.app[SIO].manager
    first, second = await connect(server), await connect(server)
    started = await first.call("start", {"language": "en"})
    room = conversation_room(started["conversation"]["id"])
    (only,) = [sid for sid, _ in manager.get_participants("/customer", room)]

    assert manager.has_recipient("/customer", room)
    assert not manager.has_recipient("/customer", room, only)
    assert not manager.has_recipient("/customer", room, [only])
    assert not manager.has_recipient("/customer", conversation_room("nobody"))
    assert not manager.has_recipient("/agent", room)

    await second.call("start", {"token": started["token"]})
    assert manager.has_recipient("/customer", room, only)
    other = next(sid for sid, _ in manager.get_participants("/customer", room) if sid != only)
    assert not manager.has_recipient("/customer", room, [only, other])


async def test_through_redis_every_emit_is_published_and_encoded_only_where_it_is_delivered(
    start_server, settings, connect
):
    redis_url = require_redis()
    prefix = f"test-{uuid.uuid4().hex[:8]}"
    async with fresh_postgres() as database_url:
        server = await start_server(
            dataclasses.replace(
                settings, database_url=database_url, redis_url=redis_url, redis_prefix=prefix
            )
        )
        sio = server.app[SIO]
        assert isinstance(sio.manager, SharedManager)
        tab = await connect(server)
        started = await tab.call("start", {"language": "en"})
        room = conversation_room(started["conversation"]["id"])
        # Another process, as python-socketio documents it: an emitter on the same channel.
        other = socketio.AsyncRedisManager(redis_url, channel=f"{prefix}:socketio", write_only=True)
        try:
            encoded = count_encoded_events(sio)

            await other.emit(
                "announcement",
                {"text": "nobody here"},
                room=conversation_room("x"),
                namespace="/customer",
            )
            await other.emit(
                "announcement", {"text": "for the tab"}, room=room, namespace="/customer"
            )
            (delivered,) = await tab.wait_pushed("announcement")
            assert delivered == {"text": "for the tab"}
            assert encoded["announcement"] == 1  # the one to a room with nobody here was not

            ack = await tab.call("message", {"text": QUESTION, "client_id": "c1"})
            (reply,) = await tab.wait_pushed("message")
            assert reply["seq"] == ack["message"]["seq"] + 1
            assert encoded["message"] == 1  # the reply; no copy for other tabs of this process
            await asyncio.sleep(0.2)
            assert tab.pushed("announcement") == [{"text": "for the tab"}]
        finally:
            if other.redis is not None:
                await other.redis.aclose()


async def test_connections_share_the_keys_of_their_environ_and_keep_every_header(server, connect):
    """Engine.IO keeps each socket's environ for its life; its keys are one shared copy
    (chatserver.sockets.base.interning_keys), its headers all still there."""
    sio = server.app[SIO]
    headers = {"Accept-Language": "th-TH,th;q=0.9", "X-Custom-Header": "kept"}
    first, second = await connect(server, headers=headers), await connect(server, headers=headers)
    started = await first.call("start", {"language": "en"})
    await second.call("start", {"token": started["token"]})
    room = conversation_room(started["conversation"]["id"])
    one, other = (
        sio.get_environ(sid, "/customer")
        for sid, _ in sio.manager.get_participants("/customer", room)
    )
    assert one is not other
    assert one["HTTP_X_CUSTOM_HEADER"] == other["HTTP_X_CUSTOM_HEADER"] == "kept"
    assert one["HTTP_ACCEPT_LANGUAGE"] == "th-TH,th;q=0.9"
    assert one.keys() == other.keys()
    shared = {id(key) for key in one} & {id(key) for key in other}
    assert len(shared) == len(one)


class ScanRecorder(dict):  # type: ignore[type-arg]
    """A namespace's rooms that note every walk through all of them."""

    scans: list[str]

    def items(self):  # type: ignore[override]
        self.scans.append("items")
        return super().items()

    def copy(self):  # type: ignore[override]
        self.scans.append("copy")
        return super().copy()

    def __iter__(self):  # type: ignore[override]
        self.scans.append("iter")
        return super().__iter__()


async def test_a_socket_is_in_its_own_rooms_and_leaves_them_without_a_walk_through_all(
    server, connect
):
    """`rooms()` lists a tab's rooms; a disconnect leaves exactly those, without going
    through every room of the namespace (python-socketio's own manager copies and walks
    them all: O(customers) for each one who leaves)."""
    sio = server.app[SIO]
    staying, leaving = await connect(server), await connect(server)
    started = await staying.call("start", {"language": "en"})
    await leaving.call("start", {"token": started["token"]})
    own = await connect(server)
    await own.call("start", {"language": "th"})
    conversation = conversation_room(started["conversation"]["id"])
    members = dict(sio.manager.get_participants("/customer", conversation))
    leaving_sid = next(sid for sid in members if sid != staying.client.get_sid("/customer"))
    assert set(sio.rooms(leaving_sid, namespace="/customer")) == {
        leaving_sid,
        conversation,
        "lang:en",
    }
    rooms = ScanRecorder(sio.manager.rooms["/customer"])
    rooms.scans = []
    sio.manager.rooms["/customer"] = rooms

    await leaving.client.disconnect()
    async with asyncio.timeout(5):
        while leaving_sid in rooms.get(None, {}):
            await asyncio.sleep(0.01)

    assert rooms.scans == []
    assert not any(leaving_sid in members for members in dict.values(rooms))
    assert set(dict(sio.manager.get_participants("/customer", conversation))) == {
        staying.client.get_sid("/customer")
    }
    assert sio.rooms(leaving_sid, namespace="/customer") == []
    assert "lang:th" in rooms  # the others' rooms are untouched
    assert "lang:en" in rooms
    ack = await staying.call("message", {"text": QUESTION, "client_id": "after"})
    assert ack["message"]["seq"] >= 2


async def _subscribed(redis_url: str, channel: str) -> Any:
    """A plain subscriber to `channel`, subscribed before it is returned."""
    subscriber = redis.asyncio.Redis.from_url(redis_url)
    pubsub = subscriber.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(channel)
    return subscriber, pubsub


async def _received(pubsub: Any, count: int) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = []
    async with asyncio.timeout(5):
        while len(messages) < count:
            message = await pubsub.get_message(timeout=1)
            if message is not None:
                messages.append(json.loads(message["data"]))
    return messages


async def test_the_emits_of_one_turn_go_to_redis_in_one_pipeline_in_order_and_read_as_before(
    monkeypatch,
):
    redis_url = require_redis()
    channel = f"test-{uuid.uuid4().hex[:8]}:socketio"
    pipelines = Counter[str]()
    execute = redis.asyncio.client.Pipeline.execute

    async def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        pipelines[str(len(self.command_stack))] += 1
        return await execute(self, *args, **kwargs)

    monkeypatch.setattr(redis.asyncio.client.Pipeline, "execute", counted)
    manager = SharedManager(redis_url, channel=channel, write_only=True)
    socketio.AsyncServer(client_manager=manager)
    subscriber, pubsub = await _subscribed(redis_url, channel)
    try:
        await asyncio.gather(
            *(
                manager.emit("message", {"n": n}, namespace="/customer", room=f"room-{n}")
                for n in range(20)
            )
        )
        assert pipelines == {"20": 1}  # python-socketio's own: 20 round trips, no pipeline
        received = await _received(pubsub, 20)
        assert [m["data"] for m in received] == [[{"n": n}] for n in range(20)]
        assert [m["room"] for m in received] == [f"room-{n}" for n in range(20)]
        # host_id and method come first: a process finds its own without decoding them.
        assert all(list(m)[:2] == ["host_id", "method"] for m in received)
        assert {m["host_id"] for m in received} == {manager.host_id}

        await manager.emit("message", {"n": 20}, namespace="/customer", room="room-20")
        assert pipelines == {"20": 1, "1": 1}  # the next turn's, alone
        assert [m["data"] for m in await _received(pubsub, 1)] == [[{"n": 20}]]
    finally:
        await manager.close()
        await pubsub.aclose()
        await subscriber.aclose()


async def test_a_process_skips_its_own_messages_unread_but_not_an_answer_sent_to_it():
    redis_url = require_redis()
    channel = f"test-{uuid.uuid4().hex[:8]}:socketio"
    manager = SharedManager(redis_url, channel=channel)
    socketio.AsyncServer(client_manager=manager)
    publisher = redis.asyncio.Redis.from_url(redis_url)
    heard: list[dict[str, Any]] = []

    async def listen() -> None:
        async for message in manager._listen():
            heard.append(json.loads(message))

    listener = asyncio.create_task(listen())
    try:
        async with asyncio.timeout(5):
            while (await publisher.pubsub_numsub(channel))[0][1] < 1:
                await asyncio.sleep(0.01)
        own = {"host_id": manager.host_id, "method": "emit", "event": "own"}
        other = {"host_id": "another", "method": "emit", "event": "theirs"}
        # Another process answers this one's emit: host_id is the emitter's, this one's.
        answer = {"host_id": manager.host_id, "method": "callback", "id": 7, "args": []}
        legacy = {"method": "emit", "event": "own, as python-socketio orders it"}
        legacy["host_id"] = manager.host_id
        for message in (own, other, answer, legacy):
            await publisher.publish(channel, json.dumps(message))
        async with asyncio.timeout(5):
            while len(heard) < 3:
                await asyncio.sleep(0.01)
        assert heard == [other, answer, legacy]  # python-socketio drops the last one itself
    finally:
        listener.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listener
        await manager.close()
        await publisher.aclose()


async def test_an_emit_to_other_processes_does_not_fail_its_caller_when_redis_is_down(caplog):
    manager = SharedManager("redis://127.0.0.1:1/0", channel="nowhere", write_only=True)
    socketio.AsyncServer(client_manager=manager)
    with caplog.at_level(logging.ERROR):
        await manager.emit("message", {"n": 1}, namespace="/customer", room="room-1")
    assert "Cannot publish to redis... giving up (1 messages)" in caplog.text
    await manager.close()


async def test_closing_gives_up_on_emits_a_redis_that_never_answers_does_not_take(
    tmp_path: Path, caplog
):
    """A paused Redis (SIGSTOP) accepts the bytes and answers nothing: a shutdown must not
    wait for it forever, and whoever emitted goes on."""
    require_redis()
    port = free_port()
    async with private_redis(port, tmp_path) as server:
        manager = SharedManager(f"redis://127.0.0.1:{port}/0", channel="paused", write_only=True)
        manager.close_timeout = 0.5
        socketio.AsyncServer(client_manager=manager)
        await manager.emit("message", {"n": 0}, namespace="/customer", room="room-0")
        server.send_signal(signal.SIGSTOP)
        try:
            first = asyncio.create_task(
                manager.emit("message", {"n": 1}, namespace="/customer", room="room-1")
            )
            await asyncio.sleep(0.1)  # its pipeline is on its way, and waits for an answer
            later = [
                asyncio.create_task(
                    manager.emit("message", {"n": n}, namespace="/customer", room=f"room-{n}")
                )
                for n in (2, 3)
            ]
            await asyncio.sleep(0.1)
            assert not first.done()
            with caplog.at_level(logging.ERROR):
                async with asyncio.timeout(10):
                    await manager.close()
            assert "Redis did not take 3 emits for the other processes within 0.5 s" in caplog.text
            async with asyncio.timeout(1):  # the emitters were let go
                await asyncio.gather(first, *later)
        finally:
            server.send_signal(signal.SIGCONT)
