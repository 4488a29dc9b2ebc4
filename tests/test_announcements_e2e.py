"""Announcements end to end: a supervisor posts over HTTP, customers (by their language) and
consoles get them over Socket.IO, on a real server with a real SQLite file."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from chatserver.keys import SERVICES
from tests.conftest import FakeClock
from tests.test_handoff_e2e import PASSWORD, desk_settings, open_console

OUTAGE = {
    "severity": "critical",
    "texts": {
        "en": "MT5 servers are down; we are on it.",
        "ja": "MT5サーバーが停止しています。対応中です。",
    },
}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(desk_settings(settings), clock=clock)


async def token_of(server: Any, username: str, role: str, languages: list[str]) -> str:
    accounts = server.app[SERVICES].accounts
    await accounts.add(
        username=username,
        name=username.title(),
        languages=languages,
        teams=["technical"],
        capacity=3,
        role=role,
        password=PASSWORD,
    )
    return (await accounts.login(username, PASSWORD)).token


async def http(
    server: Any, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.make_url(path), json=body, headers=headers) as response,
    ):
        return response.status, await response.json()


async def test_customers_get_it_in_their_language_then_updates_and_resolution(desk, connect, clock):
    sam = await token_of(desk, "sam", "supervisor", ["en"])
    japanese, thai = await connect(desk), await connect(desk)
    await japanese.call("start", {"languages": ["ja"], "language": "ja"})
    await thai.call("start", {"languages": ["th"], "language": "th"})

    status, posted = await http(desk, "POST", "/api/v1/announcements", sam, OUTAGE)
    assert status == 201, posted
    assert (posted["severity"], posted["status"], posted["version"]) == ("critical", "active", 1)
    (to_ja,) = await japanese.wait_pushed("announcement")
    (to_th,) = await thai.wait_pushed("announcement")
    assert to_ja == {
        "id": posted["id"],
        "severity": "critical",
        "text": OUTAGE["texts"]["ja"],
        "language": "ja",
        "status": "active",
        "updated_at": clock.now().isoformat(),
    }
    assert (to_th["text"], to_th["language"]) == (OUTAGE["texts"]["en"], "en")

    # A visitor who comes while it is active sees it right after starting.
    newcomer = await connect(desk)
    await newcomer.call("start", {"languages": ["ja"], "language": "ja"})
    (seen,) = await newcomer.wait_pushed("announcement")
    assert (seen["id"], seen["text"]) == (posted["id"], OUTAGE["texts"]["ja"])

    clock.advance(600)
    update = {
        "severity": "warning",
        "texts": {"en": "Recovering: orders work again.", "ja": "復旧中：注文は再開しました。"},
    }
    status, revised = await http(desk, "POST", f"/api/v1/announcements/{posted['id']}", sam, update)
    assert (status, revised["version"], revised["severity"]) == (200, 2, "warning")
    _, updated = await japanese.wait_pushed("announcement", 2)
    assert (updated["id"], updated["severity"], updated["text"]) == (
        posted["id"],
        "warning",
        "復旧中：注文は再開しました。",
    )
    assert updated["updated_at"] == clock.now().isoformat()

    status, listed = await http(desk, "GET", "/api/v1/announcements", sam)
    assert status == 200
    assert [a["id"] for a in listed["announcements"]] == [posted["id"]]

    clock.advance(600)
    status, resolved = await http(
        desk,
        "POST",
        f"/api/v1/announcements/{posted['id']}/resolve",
        sam,
        {"texts": {"en": "All systems normal."}},
    )
    assert (status, resolved["status"]) == (200, "resolved")
    _, _, closing = await thai.wait_pushed("announcement", 3)
    assert (closing["status"], closing["text"]) == ("resolved", "All systems normal.")
    _, _, closing_ja = await japanese.wait_pushed("announcement", 3)
    assert (closing_ja["status"], closing_ja["language"]) == ("resolved", "en")

    # Resolved: no longer shown to newcomers nor listed, and final.
    later = await connect(desk)
    await later.call("start", {"languages": ["ja"]})
    assert (await http(desk, "GET", "/api/v1/announcements", sam))[1] == {"announcements": []}
    status, refused = await http(desk, "POST", f"/api/v1/announcements/{posted['id']}", sam, update)
    assert (status, refused["error"]["code"]) == (409, "already_resolved")
    assert later.pushed("announcement") == []


async def test_a_customer_who_changes_language_reads_the_new_one(desk, connect):
    sam = await token_of(desk, "sam", "supervisor", ["en"])
    customer = await connect(desk)
    await customer.call("start", {"languages": ["en"], "language": "en"})
    status, posted = await http(desk, "POST", "/api/v1/announcements", sam, OUTAGE)
    assert status == 201
    (first,) = await customer.wait_pushed("announcement")
    assert first["language"] == "en"
    await customer.call("choose_language", {"language": "ja"})
    _, again = await customer.wait_pushed("announcement", 2)
    assert (again["id"], again["language"]) == (posted["id"], "ja")
    # Now in the Japanese room only: the next version comes once, in Japanese.
    await http(desk, "POST", f"/api/v1/announcements/{posted['id']}", sam, {"severity": "info"})
    *_, third = await customer.wait_pushed("announcement", 3)
    assert (third["severity"], third["language"]) == ("info", "ja")
    assert len(customer.pushed("announcement")) == 3


async def test_agents_see_it_in_their_first_language(desk, clock):
    sam = await token_of(desk, "sam", "supervisor", ["en"])
    aiko_token = await token_of(desk, "aiko", "agent", ["ja", "en"])
    aiko = await open_console(desk, aiko_token)
    try:
        status, posted = await http(desk, "POST", "/api/v1/announcements", sam, OUTAGE)
        assert status == 201
        (seen,) = await aiko.wait_pushed("announcement")
        assert (seen["id"], seen["text"]) == (posted["id"], OUTAGE["texts"]["ja"])
        # A console opened later gets the active one at once.
        again = await open_console(desk, aiko_token)
        (shown,) = await again.wait_pushed("announcement")
        assert shown["language"] == "ja"
        await again.client.disconnect()
    finally:
        await aiko.client.disconnect()


async def test_active_announcements_survive_a_restart(start_server, settings, connect):
    first = await start_server(desk_settings(settings), clock=FakeClock())
    sam = await token_of(first, "sam", "supervisor", ["en"])
    status, posted = await http(first, "POST", "/api/v1/announcements", sam, OUTAGE)
    assert status == 201
    await first.close()
    second = await start_server(desk_settings(settings), clock=FakeClock())
    customer = await connect(second)
    await customer.call("start", {"languages": ["ja"]})
    (seen,) = await customer.wait_pushed("announcement")
    assert seen["id"] == posted["id"]


@pytest.mark.parametrize(
    ("body", "code", "named"),
    [
        ({"severity": "critical", "texts": {"ja": "停止中"}}, "invalid_payload", "texts.en"),
        ({"severity": "urgent", "texts": {"en": "Down"}}, "invalid_payload", "severity"),
        ({"severity": "info", "texts": {"en": "Down", "xx": "?"}}, "invalid_payload", "texts.xx"),
        ({"severity": "info", "texts": {"en": ""}}, "invalid_payload", "texts.en"),
        ({"texts": {"en": "Down"}}, "invalid_payload", "severity"),
        ({"severity": "info", "texts": ["Down"]}, "invalid_payload", "texts"),
    ],
)
async def test_bad_announcements_are_400_naming_the_field(desk, body, code, named):
    sam = await token_of(desk, "sam", "supervisor", ["en"])
    status, refused = await http(desk, "POST", "/api/v1/announcements", sam, body)
    assert status == 400
    assert refused["error"]["code"] == code
    assert named in refused["error"]["message"]


async def test_only_supervisors_announce(desk):
    agent = await token_of(desk, "emma", "agent", ["en"])
    status, refused = await http(desk, "POST", "/api/v1/announcements", agent, OUTAGE)
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    assert (await http(desk, "GET", "/api/v1/announcements", agent))[0] == 403
    assert (await http(desk, "POST", "/api/v1/announcements", None, OUTAGE))[0] == 401
    sam = await token_of(desk, "sam", "supervisor", ["en"])
    assert (await http(desk, "GET", "/api/v1/announcements", sam))[1] == {"announcements": []}
    status, missing = await http(desk, "POST", "/api/v1/announcements/nope/resolve", sam, {})
    assert (status, missing["error"]["code"]) == (404, "unknown_announcement")


async def test_a_long_announcement_in_every_language_is_taken_whole(desk, connect, settings):
    sam = await token_of(desk, "sam", "supervisor", ["en"])
    texts = dict.fromkeys(settings.languages, "障" * 1000)
    status, posted = await http(
        desk, "POST", "/api/v1/announcements", sam, {"severity": "info", "texts": texts}
    )
    assert status == 201, posted
    assert posted["texts"] == texts
    too_long = {"severity": "info", "texts": {"en": "x" * 1001}}
    status, refused = await http(desk, "POST", "/api/v1/announcements", sam, too_long)
    assert status == 400
    assert "texts.en" in refused["error"]["message"]
