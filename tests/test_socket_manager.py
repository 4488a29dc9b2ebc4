"""One process's client manager: an emit that reaches nobody is not encoded, and every
emit that reaches somebody still arrives (chatserver/sockets/manager.py)."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections import Counter
from typing import Any

import socketio

from chatserver.keys import SIO
from chatserver.sockets.base import conversation_room
from chatserver.sockets.manager import LocalManager, SharedManager
from tests.services import fresh_postgres, require_redis

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
