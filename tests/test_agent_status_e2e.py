"""An agent's status is the agent's, not a tab's: real python-socketio consoles against a
real server. A change in one console reaches the others (`status`), and a console that
connects while another is open does not undo it, whatever status its page remembers."""

from __future__ import annotations

from typing import Any

from chatserver.keys import SERVICES
from tests.test_handoff_e2e import PASSWORD, clock, connect_agent, desk, open_console

__all__ = ["clock", "desk"]


async def ask_for_a_person(server: Any, connect: Any) -> Any:
    customer = await connect(server)
    assert (await customer.call("start", {"languages": ["ja"]}))["ok"]
    assert (await customer.call("message", {"text": "オペレーターと話したい"}))["ok"]
    return customer


async def test_a_second_console_follows_the_agents_status_and_does_not_undo_it(desk, connect):
    laptop = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    router = desk.app[SERVICES].dispatcher.router
    assert await laptop.wait_pushed("status") == [{"status": "online"}]  # told on connect
    token = (await desk.app[SERVICES].accounts.login("aiko", PASSWORD)).token
    tab = await open_console(desk, token, "online")
    assert await tab.wait_pushed("status") == [{"status": "online"}]

    # Aiko steps away on the laptop: the other tab shows it too.
    assert (await laptop.call("status", {"status": "away"}))["ok"] is True
    assert (await tab.wait_pushed("status", 2))[-1] == {"status": "away"}
    assert (await laptop.wait_pushed("status", 2))[-1] == {"status": "away"}

    # The tab reconnects remembering "online" (it missed the change, say): Aiko stays away,
    # and the tab is told so.
    await tab.client.disconnect()
    tab = await open_console(desk, token, "online")
    assert await tab.wait_pushed("status") == [{"status": "away"}]
    assert str(router.agent_status(laptop.id)) == "away"
    assert laptop.pushed("status")[-1] == {"status": "away"}

    # So a customer who asks for a person is not offered to her: nobody is there.
    customer = await ask_for_a_person(desk, connect)
    assert await customer.wait_pushed("offline")
    assert laptop.pushed("offer") == []
    assert tab.pushed("offer") == []

    # Back online from the tab: the laptop follows, and the next customer is offered.
    assert (await tab.call("status", {"status": "online"}))["ok"] is True
    assert (await laptop.wait_pushed("status", 3))[-1] == {"status": "online"}
    await ask_for_a_person(desk, connect)
    (offer,) = await laptop.wait_pushed("offer")
    assert tab.pushed("offer") == [offer]
    for console in (laptop, tab):
        await console.client.disconnect()


async def test_a_lone_console_connects_in_the_status_its_page_remembers(desk):
    laptop = await connect_agent(desk, "aiko", "Aiko Tanaka", ["ja", "en"])
    token = (await desk.app[SERVICES].accounts.login("aiko", PASSWORD)).token
    await laptop.client.disconnect()
    # No other console open: the page's word is the status (a reload of an agent away).
    tab = await open_console(desk, token, "away")
    assert await tab.wait_pushed("status") == [{"status": "away"}]
    router = desk.app[SERVICES].dispatcher.router
    assert str(router.agent_status(tab.id)) == "away"
    await tab.client.disconnect()
