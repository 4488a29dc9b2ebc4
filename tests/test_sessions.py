"""Log-out, expiry and a supervisor's revoke end the live consoles of a session: real
python-socketio consoles against a real server."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
import socketio

from chatserver.keys import SERVICES
from tests.conftest import FakeClock
from tests.test_handoff_e2e import PASSWORD, Agent, open_console


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(settings, clock=clock)


@pytest.fixture
async def consoles():
    opened: list[Agent] = []

    async def open_(server: Any, token: str) -> Agent:
        opened.append(await open_console(server, token))
        return opened[-1]

    yield open_
    for agent in opened:
        if agent.client.connected:
            await agent.client.disconnect()


async def add(server: Any, username: str, role: str = "agent") -> None:
    await server.app[SERVICES].accounts.add(
        username=username,
        name=username.title(),
        languages=["en"],
        teams=["technical"],
        capacity=2,
        role=role,
        password=PASSWORD,
    )


async def log_in(server: Any, username: str) -> str:
    return (await server.app[SERVICES].accounts.login(username, PASSWORD)).token


async def post(server: Any, path: str, token: str) -> tuple[int, dict[str, Any]]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url(path), headers={"Authorization": f"Bearer {token}"}) as r,
    ):
        return r.status, await r.json()


async def ended(agent: Agent, reason: str) -> None:
    """The console was told its session ended, and was disconnected."""
    assert await agent.wait_pushed("session_ended") == [{"reason": reason}]
    async with asyncio.timeout(5):
        while agent.client.connected:
            await asyncio.sleep(0.01)
    with pytest.raises(socketio.exceptions.SocketIOError):
        await agent.call("status", {"status": "online"})


async def refused(server: Any, token: str) -> bool:
    try:
        agent = await open_console(server, token)
    except (socketio.exceptions.ConnectionError, AssertionError):
        return True
    await agent.client.disconnect()
    return False


async def test_logout_ends_the_consoles_of_that_log_in_only(desk, consoles):
    await add(desk, "aiko")
    first, second = await log_in(desk, "aiko"), await log_in(desk, "aiko")
    laptop = await consoles(desk, first)
    laptop_tab = await consoles(desk, first)
    phone = await consoles(desk, second)
    assert (await post(desk, "/api/v1/logout", first))[0] == 200
    await ended(laptop, "logout")
    await ended(laptop_tab, "logout")
    assert await refused(desk, first)
    # The other log-in is untouched.
    assert phone.client.connected
    assert phone.pushed("session_ended") == []
    assert (await phone.call("status", {"status": "away"}))["ok"] is True


async def test_an_expired_session_is_refused_on_its_next_event(desk, consoles, clock, settings):
    await add(desk, "aiko")
    console = await consoles(desk, await log_in(desk, "aiko"))
    assert (await console.call("status", {"status": "online"}))["ok"] is True
    clock.advance(settings.session_hours * 3600)
    ack = await console.call("status", {"status": "away"})
    assert ack["ok"] is False
    assert ack["error"]["code"] == "unauthorized"
    await ended(console, "expired")


async def test_an_idle_console_is_ended_when_its_session_expires(desk, consoles, clock, settings):
    await add(desk, "aiko")
    token = await log_in(desk, "aiko")
    clock.advance(settings.session_hours * 3600 - 0.2)
    console = await consoles(desk, token)
    clock.advance(0.2)  # the server's timer fires 0.2 s of real time after the connect
    await ended(console, "expired")


async def test_a_supervisor_revokes_every_session_of_an_agent(desk, consoles):
    await add(desk, "aiko")
    await add(desk, "sam", role="supervisor")
    aiko_id = (await desk.app[SERVICES].store.agent_by_username("aiko")).id
    first, second = await log_in(desk, "aiko"), await log_in(desk, "aiko")
    desk_console, home_console = await consoles(desk, first), await consoles(desk, second)
    sam_token = await log_in(desk, "sam")
    sam = await consoles(desk, sam_token)

    # An agent may not revoke anyone, not even a supervisor.
    sam_id = (await desk.app[SERVICES].store.agent_by_username("sam")).id
    status, body = await post(desk, f"/api/v1/agents/{sam_id}/revoke", first)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    assert (await post(desk, "/api/v1/agents/nobody/revoke", sam_token))[0] == 404

    status, body = await post(desk, f"/api/v1/agents/{aiko_id}/revoke", sam_token)
    assert status == 200
    assert body == {"ok": True, "sessions": 2, "sockets": 2}
    await ended(desk_console, "revoked")
    await ended(home_console, "revoked")
    assert await refused(desk, first)
    assert await refused(desk, second)
    assert (await sam.call("status", {"status": "online"}))["ok"] is True
    # Aiko logs in again and works.
    console = await consoles(desk, await log_in(desk, "aiko"))
    assert (await console.call("status", {"status": "online"}))["ok"] is True
