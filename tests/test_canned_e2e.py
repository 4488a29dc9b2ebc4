"""Canned replies and the composer's FAQ answers over HTTP on the real server: supervisors
write, any agent reads, bad input is named, placeholders are filled for one chat in its
customer's language (else English), and the FAQ answers an English agent's search in the
customer's language by entry id."""

from __future__ import annotations

from typing import Any

import aiohttp
import pytest

from chatserver.identity import sign
from chatserver.keys import SERVICES
from tests.conftest import FakeClock
from tests.test_handoff_e2e import PASSWORD, connect_agent, desk_settings

SECRET = "canned-secret"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock):
    return await start_server(desk_settings(settings, identity_secret=SECRET), clock=clock)


async def call(
    desk: Any, method: str, path: str, token: str | None, body: Any = None
) -> tuple[int, Any]:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, desk.make_url(path), headers=headers, json=body) as response,
    ):
        return response.status, await response.json()


async def account(desk: Any, username: str, name: str, role: str = "agent") -> str:
    accounts = desk.app[SERVICES].accounts
    await accounts.add(
        username=username, name=name, languages=["en"], teams=["account", "technical"],
        capacity=3, role=role, password=PASSWORD,
    )  # fmt: skip
    return (await accounts.login(username, PASSWORD)).token  # type: ignore[no-any-return]


async def test_supervisors_write_canned_replies_and_agents_read_them(desk):
    sam = await account(desk, "sam", "Sam Okafor", "supervisor")
    emma = await account(desk, "emma", "Emma Clarke")
    hello = {"language": "th", "title": "Greeting", "text": "สวัสดีค่ะ คุณ{customer_name}"}
    status, created = await call(desk, "POST", "/api/v1/canned", sam, hello)
    assert status == 201, created
    assert (created["language"], created["title"], created["text"]) == (
        "th", "Greeting", "สวัสดีค่ะ คุณ{customer_name}",
    )  # fmt: skip
    # An agent reads them, and may not write.
    status, listed = await call(desk, "GET", "/api/v1/canned", emma)
    assert (status, [r["id"] for r in listed["replies"]]) == (200, [created["id"]])
    for method, path in (("POST", "/api/v1/canned"), ("PUT", f"/api/v1/canned/{created['id']}")):
        status, refused = await call(desk, method, path, emma, hello)
        assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, refused = await call(desk, "DELETE", f"/api/v1/canned/{created['id']}", emma)
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, refused = await call(desk, "GET", "/api/v1/canned", None)
    assert (status, refused["error"]["code"]) == (401, "unauthorized")

    # Bad input is refused, naming the field.
    for bad, field in (
        ({**hello, "language": "xx"}, "language"),
        ({**hello, "title": " "}, "title"),
        ({**hello, "text": ""}, "text"),
        ({**hello, "text": "Hi {customer_nmae}"}, "customer_nmae"),
        ({**hello, "extra": 1}, "language, title and text"),
        (["not", "an", "object"], "JSON object"),
        ({**hello, "title": "t" * 121}, "title"),
    ):
        status, refused = await call(desk, "POST", "/api/v1/canned", sam, bad)
        assert (status, refused["error"]["code"]) == (400, "invalid_payload"), bad
        assert field in refused["error"]["message"], (bad, refused)

    # Changed and removed; an unknown id is 404.
    changed = {**hello, "title": "Hello"}
    status, updated = await call(desk, "PUT", f"/api/v1/canned/{created['id']}", sam, changed)
    assert (status, updated["title"], updated["id"]) == (200, "Hello", created["id"])
    status, _ = await call(desk, "PUT", "/api/v1/canned/nope", sam, changed)
    assert status == 404
    status, removed = await call(desk, "DELETE", f"/api/v1/canned/{created['id']}", sam)
    assert (status, removed) == (200, {"ok": True})
    status, gone = await call(desk, "DELETE", f"/api/v1/canned/{created['id']}", sam)
    assert (status, gone["error"]["code"]) == (404, "unknown_canned")
    assert (await call(desk, "GET", "/api/v1/canned", emma))[1]["replies"] == []


async def test_placeholders_are_filled_for_a_chat_in_its_customers_language(desk, connect, clock):
    sam = await account(desk, "sam", "Sam Okafor", "supervisor")
    for body in (
        {
            "language": "th",
            "title": "Greeting",
            "text": "สวัสดีค่ะ คุณ{customer_name} ({tracking_number}) — {agent_name}",
        },
        {
            "language": "en",
            "title": "Greeting",
            "text": "Hello {customer_name}, I am {agent_name}.",
        },
        {"language": "en", "title": "Bye", "text": "Thank you, {customer_name}!"},
    ):
        assert (await call(desk, "POST", "/api/v1/canned", sam, body))[0] == 201
    emma = await connect_agent(desk, "emma", "Emma Clarke", ["th", "en", "de"])
    try:
        fields = {
            "customer_id": "c-7", "name": "Somchai", "balance_usd": 10,
            "issued_at": clock.now().isoformat(),
        }  # fmt: skip

        async def chat(languages: list[str], identity: bool) -> str:
            customer = await connect(desk)
            start: dict[str, Any] = {"languages": languages}
            if identity:
                start["identity"] = {**fields, "signature": sign(fields, SECRET)}
            conversation_id = (await customer.call("start", start))["conversation"]["id"]
            assert (await customer.call("request_agent", {}))["ok"]
            assert (await emma.call("accept", {"conversation_id": conversation_id}))["ok"]
            return str(conversation_id)

        thai, german = await chat(["th"], True), await chat(["de"], False)
        token = (await desk.app[SERVICES].accounts.login("emma", PASSWORD)).token
        number = (await desk.app[SERVICES].store.get_conversation(thai)).tracking_number
        status, for_thai = await call(desk, "GET", f"/api/v1/canned?conversation_id={thai}", token)
        assert status == 200
        assert for_thai["language"] == "th"
        assert [r["filled"] for r in for_thai["replies"]] == [
            f"สวัสดีค่ะ คุณSomchai ({number}) — Emma Clarke"
        ]
        # No German ones: the English ones, an anonymous customer's name left empty.
        status, for_german = await call(
            desk, "GET", f"/api/v1/canned?conversation_id={german}", token
        )
        assert [r["filled"] for r in for_german["replies"]] == [
            "Thank you, !",
            "Hello , I am Emma Clarke.",
        ]
        status, refused = await call(desk, "GET", "/api/v1/canned?conversation_id=nope", token)
        assert (status, refused["error"]["code"]) == (404, "unknown_conversation")
        # Another agent, who may not see the chat, gets nothing filled for it.
        kim = await account(desk, "kim", "Kim Lee")
        status, refused = await call(desk, "GET", f"/api/v1/canned?conversation_id={thai}", kim)
        assert (status, refused["error"]["code"]) == (403, "forbidden")
    finally:
        await emma.client.disconnect()


async def test_the_faq_is_searched_in_english_and_answered_in_thai(desk):
    emma = await account(desk, "emma", "Emma Clarke")
    status, answers = await call(desk, "GET", "/api/v1/faq/answers?search=en&answer=th", emma)
    assert status == 200
    faq = desk.app[SERVICES].bot.matcher.faq
    by_id = {e["id"]: e for e in answers["entries"]}
    assert set(by_id) == set(faq.ids)
    entry_id = next(i for i in sorted(faq.ids) if i in faq.native("th") and i in faq.native("en"))
    entry = by_id[entry_id]
    assert entry["question"] == faq.native("en")[entry_id].question
    assert entry["answer"] == faq.native("th")[entry_id].answer
    assert (entry["answer_language"], entry["fallback"]) == ("th", False)
    status, refused = await call(desk, "GET", "/api/v1/faq/answers?search=en&answer=xx", emma)
    assert (status, refused["error"]["code"]) == (400, "invalid_query")
    status, refused = await call(desk, "GET", "/api/v1/faq/answers", None)
    assert status == 401
