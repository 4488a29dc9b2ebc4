"""The OpenAPI document of `/api/v1` (chatserver/openapi.py) against the server itself: the
routes the app registers and the ones documented are the same, the document is valid
OpenAPI 3.1, and what the running server answers validates against the schema documented
for that path, method, status and content type."""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import quote

import aiohttp
import jsonschema
import pytest
from openapi_spec_validator import validate as validate_openapi
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from chatserver import __version__
from chatserver.app import create_app
from chatserver.keys import SERVICES
from chatserver.openapi import SUPERVISOR, document
from tests.test_handoff_e2e import PASSWORD, clock, desk  # noqa: F401
from tests.test_handoff_e2e import agent_for as agent_for

PREFIX = "/api/v1/"
DOC_URI = "urn:chatserver:openapi"
METHODS = {"get", "put", "post", "delete", "patch", "head", "options", "trace"}


def registered(settings: Any) -> dict[tuple[str, str], str]:
    """(path template, method) -> handler name, for every route the app has under /api/v1/.
    aiohttp adds a HEAD beside each GET: that one is the GET's, not a route of its own."""
    app = create_app(settings)
    found: dict[tuple[str, str], str] = {}
    for route in app.router.routes():
        path = route.resource.canonical if route.resource else ""
        if path.startswith(PREFIX):
            found[(path, route.method)] = route.handler.__name__
    heads = {key for key in found if key[1] == "HEAD"}
    assert all((path, "GET") in found for path, _ in heads)
    return {key: name for key, name in found.items() if key not in heads}


def documented(doc: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (path, method.upper()): operation
        for path, item in doc["paths"].items()
        for method, operation in item.items()
        if method in METHODS
    }


def test_every_route_is_documented_and_every_documented_route_exists(settings):
    routes = registered(settings)
    operations = documented(document())
    assert len(routes) >= 20
    assert sorted(routes) == sorted(operations)
    for key, operation in operations.items():
        # The operationId is the handler's name: a renamed or swapped handler shows here.
        assert operation["operationId"] == routes[key], key
        declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
        assert declared == set(re.findall(r"{(\w+)}", key[0])), key
        assert "security" in operation, key  # public ones say so with []


def test_supervisor_routes_say_so():
    operations = documented(document())
    supervisors = {
        key for key, op in operations.items() if {"agentToken": [SUPERVISOR]} in op["security"]
    }
    assert ("/api/v1/reports/sla", "GET") in supervisors
    assert ("/api/v1/announcements", "POST") in supervisors
    assert ("/api/v1/agents/{agent_id}/revoke", "POST") in supervisors
    assert ("/api/v1/login", "POST") not in supervisors
    assert operations[("/api/v1/login", "POST")]["security"] == []


async def test_the_served_document_is_valid_openapi_3_1_and_cacheable(server):
    url = server.make_url("/api/v1/openapi.json")
    async with aiohttp.ClientSession() as session:
        async with session.get(url) as response:
            assert response.status == 200
            assert response.content_type == "application/json"
            assert response.headers["Cache-Control"] == "public, max-age=300"
            etag = response.headers["ETag"]
            served = await response.json()
        async with session.get(url, headers={"If-None-Match": etag}) as again:
            assert again.status == 304
            assert not await again.read()
        async with session.get(url, headers={"Authorization": "Bearer nobody"}) as anyone:
            assert anyone.status == 200  # no log-in needed, whatever the header says
    validate_openapi(served)  # raises on anything OpenAPI 3.1 does not allow
    assert served["openapi"].startswith("3.1")
    assert served["info"]["version"] == __version__
    assert served == json.loads(json.dumps(document()))


# --- real answers against the document ---------------------------------------------------


class Contract:
    """Validates answers against the document's schema for their path, method and status."""

    def __init__(self, doc: dict[str, Any]) -> None:
        self.doc = doc
        self.registry = Registry().with_resource(DOC_URI, Resource(doc, specification=DRAFT202012))

    def check(self, method: str, path: str, status: int, content_type: str, body: str) -> Any:
        responses = self.doc["paths"][path][method.lower()]["responses"]
        assert str(status) in responses, f"{method} {path} answered {status}, not documented"
        content = responses[str(status)].get("content", {})
        assert content_type in content, f"{method} {path} {status}: {content_type} undocumented"
        if content_type == "text/csv":  # the header is the columns the document lists
            header = body.splitlines()[0].replace(",", ", ")
            assert header in content[content_type]["schema"]["description"], header
        if content_type != "application/json":
            return body
        pointer = "/".join(
            part.replace("~", "~0").replace("/", "~1")
            for part in ("", "paths", path, method.lower(), "responses", str(status))
        )
        pointer += "/content/application~1json/schema"
        schema = {"$ref": f"{DOC_URI}#{quote(pointer, safe='/~')}"}
        value = json.loads(body)
        jsonschema.Draft202012Validator(
            schema,
            registry=self.registry,
            format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER,
        ).validate(value)
        return value


@pytest.fixture
def contract() -> Contract:
    return Contract(document())


async def call(
    server: Any,
    contract: Contract,
    method: str,
    path: str,
    *,
    url: str | None = None,
    token: str | None = None,
    **kwargs: Any,
) -> tuple[int, Any]:
    """`method` on `url` (default `path`, the documented template), checked by `contract`."""
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession(headers=headers) as session,
        session.request(method, server.make_url(url or path), **kwargs) as response,
    ):
        body = await response.text()
        return response.status, contract.check(
            method, path, response.status, response.content_type, body
        )


def test_the_contract_refuses_what_the_document_does_not_say(contract):
    """The check below can fail: a missing field, an extra one, an undocumented status."""
    good = {"since": "2026-11-24T09:00:00+00:00", "until": "2026-11-25T09:00:00+00:00"}
    rows = {**good, "rows": []}
    assert contract.check("GET", "/api/v1/reports/inbox", 200, "application/json", json.dumps(rows))
    with pytest.raises(jsonschema.ValidationError):
        contract.check("GET", "/api/v1/reports/inbox", 200, "application/json", json.dumps(good))
    extra = {**rows, "ok": True}
    with pytest.raises(jsonschema.ValidationError):
        contract.check("GET", "/api/v1/reports/inbox", 200, "application/json", json.dumps(extra))
    wrong = {"error": {"code": "unknown_agent", "message": "no"}}  # not this route's code
    with pytest.raises(jsonschema.ValidationError):
        contract.check("GET", "/api/v1/reports/inbox", 403, "application/json", json.dumps(wrong))
    with pytest.raises(AssertionError, match="surprise"):
        contract.check("GET", "/api/v1/reports/inbox", 200, "text/csv", "channel,surprise\n")
    with pytest.raises(AssertionError, match="not documented"):
        contract.check("GET", "/api/v1/reports/inbox", 404, "application/json", "{}")


async def test_public_and_error_answers_match_the_document(server, contract):
    status, languages = await call(server, contract, "GET", "/api/v1/languages")
    assert status == 200
    assert {"tag": "ar", "name": "العربية", "direction": "rtl"} in languages
    status, strings = await call(
        server, contract, "GET", "/api/v1/widget/strings", params={"lang": "ja-JP,en"}
    )
    assert (status, strings["language"]) == (200, "ja")
    status, embed = await call(server, contract, "GET", "/api/v1/widget/embed")
    assert status == 200
    assert isinstance(embed["allowed_origins"], list)

    status, refused = await call(
        server, contract, "POST", "/api/v1/login", json={"username": "nobody"}
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_payload")
    status, refused = await call(
        server, contract, "POST", "/api/v1/login", json={"username": "x", "password": "y"}
    )
    assert (status, refused["error"]["code"]) == (401, "invalid_credentials")
    status, refused = await call(server, contract, "GET", "/api/v1/reports/sla")
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, refused = await call(server, contract, "POST", "/api/v1/inbound-email", json={})
    assert (status, refused["error"]["code"]) == (404, "not_found")  # not configured
    path = "/api/v1/conversations/{conversation_id}/transcript"
    status, refused = await call(
        server, contract, "GET", path, url=path.format(conversation_id="x")
    )
    assert (status, refused["error"]["code"]) == (401, "unauthorized")


async def test_a_served_chat_reads_the_same_in_every_answer_as_documented(
    desk,  # noqa: F811
    connect,
    agent_for,
    clock,  # noqa: F811
    contract,
):
    sam = await agent_for("sam", "Sam Okafor", ["en", "ja"], role="supervisor", takes_chats=True)
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    await customer.call("message", {"text": "オペレーターと話したい"})
    (offer,) = await sam.wait_pushed("offer")
    conversation_id = offer["conversation_id"]
    assert (await sam.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    clock.advance(12)
    await sam.call(
        "message", {"conversation_id": conversation_id, "text": "はい", "client_id": "1"}
    )
    assert (await sam.call("close", {"conversation_id": conversation_id}))["ok"] is True
    (closed,) = await customer.wait_pushed("closed")
    assert (await customer.call("rate", {"score": 2, "comment": "遅い"}))["ok"] is True
    (followup,) = await sam.wait_pushed("followup")
    clock.advance(60)  # reports end now, exclusive

    status, logged_in = await call(
        desk, contract, "POST", "/api/v1/login", json={"username": "sam", "password": PASSWORD}
    )
    assert (status, logged_in["agent"]["role"]) == (200, "supervisor")
    token = logged_in["token"]

    status, hourly = await call(desk, contract, "GET", "/api/v1/reports/sla", token=token)
    (row,) = hourly["rows"]
    assert (status, row["language"], row["frt_p50_seconds"]) == (200, "ja", 12.0)
    status, cells = await call(
        desk, contract, "GET", "/api/v1/reports/sla", token=token, params={"by": "cell"}
    )
    assert (status, cells["rows"][0]["handoffs"]) == (200, 1)
    status, text = await call(
        desk, contract, "GET", "/api/v1/reports/sla", token=token, params={"format": "csv"}
    )
    assert status == 200
    assert text.startswith("period,language,team,priority,")
    status, refused = await call(
        desk, contract, "GET", "/api/v1/reports/sla", token=token, params={"by": "week"}
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_query")

    status, csat = await call(
        desk, contract, "GET", "/api/v1/reports/csat", token=token, params={"group": "agent"}
    )
    assert (status, csat["rows"][0]["agent_name"], csat["rows"][0]["ratings"]) == (
        200,
        "Sam Okafor",
        1,
    )
    status, review = await call(desk, contract, "GET", "/api/v1/reports/monthly", token=token)
    assert (status, review["total"]["chats"], review["by_language"][0]["language"]) == (
        200,
        1,
        "ja",
    )
    for report in ("monthly", "csat", "inbox"):
        path = f"/api/v1/reports/{report}"
        status, text = await call(
            desk, contract, "GET", path, token=token, params={"format": "csv"}
        )
        assert status == 200  # and its header is the columns documented (Contract.check)
    status, gaps = await call(desk, contract, "GET", "/api/v1/reports/faq-gaps", token=token)
    assert status == 200
    assert isinstance(gaps["languages"], list)
    status, inbox = await call(desk, contract, "GET", "/api/v1/reports/inbox", token=token)
    assert (status, inbox["rows"]) == (200, [])

    status, today = await call(desk, contract, "GET", "/api/v1/dashboard", token=token)
    assert (status, today["first_response"]["within_target"]) == (200, 1)
    assert [a["id"] for a in today["agents"]["agents"] if a["status"] == "online"] == [sam.id]
    status, text = await call(
        desk, contract, "GET", "/api/v1/dashboard", token=token, params={"format": "csv"}
    )
    assert status == 200  # its header as documented (Contract.check)
    status, standing = await call(desk, contract, "GET", "/api/v1/dashboard/alerts", token=token)
    assert (status, standing) == (200, {"alerts": []})
    status, refused = await call(
        desk, contract, "GET", "/api/v1/dashboard", token=token, params={"format": "xml"}
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_query")

    status, listed = await call(desk, contract, "GET", "/api/v1/followups", token=token)
    assert (status, [f["id"] for f in listed["followups"]]) == (200, [followup["id"]])
    handled = "/api/v1/followups/{followup_id}/handled"
    url = handled.format(followup_id=followup["id"])
    body = {"note": "called back"}
    status, done = await call(desk, contract, "POST", handled, url=url, token=token, json=body)
    assert (status, done["followup"]["state"]) == (200, "handled")
    status, again = await call(desk, contract, "POST", handled, url=url, token=token, json=body)
    assert (status, again["error"]["code"]) == (409, "already_handled")

    inquiry = "/api/v1/inquiries/{number}"
    status, found = await call(
        desk,
        contract,
        "GET",
        inquiry,
        url=inquiry.format(number=closed["tracking_number"]),
        token=started["token"],
    )
    assert (status, found["status"]) == (200, "rated")

    transcript = "/api/v1/conversations/{conversation_id}/transcript"
    status, text = await call(
        desk,
        contract,
        "GET",
        transcript,
        url=transcript.format(conversation_id=conversation_id),
        token=token,
        params={"format": "txt", "tz": "Asia/Tokyo"},
    )
    assert status == 200
    assert "はい" in text
    emailed = f"{transcript}/email"
    status, offered = await call(
        desk,
        contract,
        "GET",
        emailed,
        url=emailed.format(conversation_id=conversation_id),
        token=started["token"],
    )
    assert (status, offered["enabled"]) == (200, False)  # no SMTP server in this desk
    status, refused = await call(
        desk,
        contract,
        "POST",
        emailed,
        url=emailed.format(conversation_id=conversation_id),
        token=started["token"],
        json={"address": "kenji@example.com", "tz": "Asia/Tokyo"},
    )
    assert (status, refused["error"]["code"]) == (503, "mail_disabled")


async def test_announcements_and_sessions_answer_as_documented(
    desk,  # noqa: F811
    contract,
):
    accounts = desk.app[SERVICES].accounts
    for username, role in (("sam", "supervisor"), ("emma", "agent")):
        await accounts.add(
            username=username,
            name=username.title(),
            languages=["en"],
            teams=["technical"],
            capacity=1,
            role=role,
            password=PASSWORD,
        )
    token = (await accounts.login("sam", PASSWORD)).token
    agent_token = (await accounts.login("emma", PASSWORD)).token
    texts = {"en": "MT5 servers are down; we are on it.", "ja": "MT5サーバーが停止しています。"}

    posted = "/api/v1/announcements"
    body = {"severity": "critical", "texts": texts}
    status, notice = await call(desk, contract, "POST", posted, token=token, json=body)
    assert (status, notice["version"], notice["texts"]) == (201, 1, texts)
    status, refused = await call(desk, contract, "POST", posted, token=agent_token, json=body)
    assert (status, refused["error"]["code"]) == (403, "forbidden")
    status, refused = await call(
        desk, contract, "POST", posted, token=token, json={"severity": "loud", "texts": texts}
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_payload")
    revised = "/api/v1/announcements/{announcement_id}"
    url = revised.format(announcement_id=notice["id"])
    status, notice = await call(
        desk, contract, "POST", revised, url=url, token=token, json={"severity": "warning"}
    )
    assert (status, notice["version"], notice["severity"]) == (200, 2, "warning")
    status, active = await call(desk, contract, "GET", posted, token=token)
    assert (status, [a["id"] for a in active["announcements"]]) == (200, [notice["id"]])
    resolve = "/api/v1/announcements/{announcement_id}/resolve"
    url = resolve.format(announcement_id=notice["id"])
    status, notice = await call(desk, contract, "POST", resolve, url=url, token=token)
    assert (status, notice["status"]) == (200, "resolved")
    status, refused = await call(desk, contract, "POST", resolve, url=url, token=token)
    assert (status, refused["error"]["code"]) == (409, "already_resolved")

    revoke = "/api/v1/agents/{agent_id}/revoke"
    status, refused = await call(
        desk, contract, "POST", revoke, url=revoke.format(agent_id="nobody"), token=token
    )
    assert (status, refused["error"]["code"]) == (404, "unknown_agent")
    emma = await desk.app[SERVICES].store.agent_by_username("emma")
    assert emma is not None
    status, revoked = await call(
        desk, contract, "POST", revoke, url=revoke.format(agent_id=emma.id), token=token
    )
    assert (status, revoked["sessions"]) == (200, 1)
    status, refused = await call(desk, contract, "GET", posted, token=agent_token)
    assert (status, refused["error"]["code"]) == (401, "unauthorized")  # revoked
    status, out = await call(desk, contract, "POST", "/api/v1/logout", token=token)
    assert (status, out) == (200, {"ok": True})


async def test_the_console_essentials_answer_as_documented(
    desk,  # noqa: F811
    connect,
    agent_for,
    contract,
):
    """Canned replies, the FAQ for the composer and the customer panel, checked against the
    document (statuses, bodies, error codes)."""
    sam = await agent_for("sam", "Sam Okafor", ["en", "ja"], role="supervisor", takes_chats=True)
    customer = await connect(desk)
    started = await customer.call("start", {"languages": ["ja"]})
    conversation_id = started["conversation"]["id"]
    await customer.call("request_agent", {})
    assert (await sam.call("accept", {"conversation_id": conversation_id}))["ok"] is True
    token = (await desk.app[SERVICES].accounts.login("sam", PASSWORD)).token

    body = {"language": "ja", "title": "挨拶", "text": "{customer_name}様、{agent_name}です。"}
    status, made = await call(desk, contract, "POST", "/api/v1/canned", token=token, json=body)
    assert status == 201
    status, refused = await call(
        desk, contract, "POST", "/api/v1/canned", token=token, json={**body, "language": "xx"}
    )
    assert (status, refused["error"]["code"]) == (400, "invalid_payload")
    status, listed = await call(desk, contract, "GET", "/api/v1/canned", token=token)
    assert (status, len(listed["replies"])) == (200, 1)
    status, filled = await call(
        desk, contract, "GET", "/api/v1/canned", token=token,
        params={"conversation_id": conversation_id},
    )  # fmt: skip
    assert (status, filled["replies"][0]["filled"]) == (200, "様、Sam Okaforです。")
    one = "/api/v1/canned/{reply_id}"
    status, changed = await call(
        desk, contract, "PUT", one, url=one.format(reply_id=made["id"]), token=token,
        json={**body, "title": "挨拶2"},
    )  # fmt: skip
    assert (status, changed["title"]) == (200, "挨拶2")
    status, gone = await call(
        desk, contract, "DELETE", one, url=one.format(reply_id=made["id"]), token=token
    )
    assert (status, gone) == (200, {"ok": True})
    status, missing = await call(
        desk, contract, "DELETE", one, url=one.format(reply_id=made["id"]), token=token
    )
    assert (status, missing["error"]["code"]) == (404, "unknown_canned")

    status, answers = await call(
        desk, contract, "GET", "/api/v1/faq/answers", token=token,
        params={"search": "en", "answer": "ja"},
    )  # fmt: skip
    assert status == 200
    assert answers["entries"]
    panel = "/api/v1/conversations/{conversation_id}/customer"
    status, card = await call(
        desk, contract, "GET", panel, url=panel.format(conversation_id=conversation_id),
        token=token,
    )  # fmt: skip
    assert (status, card["tier"], card["previous"]) == (200, "standard", [])
    status, refused = await call(
        desk, contract, "GET", panel, url=panel.format(conversation_id=conversation_id)
    )
    assert (status, refused["error"]["code"]) == (401, "unauthorized")
