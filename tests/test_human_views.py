"""The views room: a console's queue list is sent again only when it changed, supervisors
also see the desk's load, and a waiting customer learns their place."""

from __future__ import annotations

from tests.human_desk import AIKO, SAM, Make


async def test_a_queue_list_goes_out_once_per_change(rooms: Make) -> None:
    desk = await rooms(agents=(AIKO, SAM))
    desk.views.take_queue_update(["aiko", "sam"])  # what the consoles had so far
    chat = await desk.handed_off(text="こんにちは")
    updates = desk.views.take_queue_update(["aiko", "sam"])
    assert [(n.target, n.event) for n in updates] == [("aiko", "queue"), ("sam", "queue")]
    (item,) = updates[0].payload["waiting"]
    assert item["conversation_id"] == chat
    assert item["preview"] == "こんにちは"
    assert "agents" not in updates[0].payload
    assert {a["id"] for a in updates[1].payload["agents"]} == {"aiko", "sam"}
    assert desk.views.take_queue_update(["aiko", "sam"]) == []  # nothing changed
    desk.ledger.queue_dirty = True
    assert desk.views.take_queue_update(["aiko", "sam"]) == []  # same lists: not sent again


async def test_a_console_opening_gets_its_list_and_a_customer_their_place(rooms: Make) -> None:
    desk = await rooms(agents=(SAM,))
    chat = await desk.handed_off()
    (opened,) = desk.views.console_opened("sam", "sid-1")
    assert (opened.audience, opened.target, opened.event) == ("console", "sid-1", "queue")
    assert [w["conversation_id"] for w in opened.payload["waiting"]] == [chat]
    (standing,) = desk.views.standing(chat)
    assert (standing.audience, standing.event) == ("customer", "queued")
    assert standing.payload["position"] == 1
    assert desk.views.standing("not-waiting") == []
