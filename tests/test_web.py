"""HTTP health, readiness and metrics endpoints."""

from __future__ import annotations

import dataclasses

import aiohttp

from chatserver.keys import SERVICES
from tests.test_faq_embedding import pytestmark as needs_encoder


async def get(server, path):
    async with aiohttp.ClientSession() as session, session.get(server.make_url(path)) as response:
        return response.status, response.headers.get("Content-Type", ""), await response.text()


async def test_healthz(server):
    status, content_type, body = await get(server, "/healthz")
    assert status == 200
    assert content_type.startswith("application/json")
    assert '"ok"' in body


async def test_readyz_reports_the_loaded_faq(server):
    status, _, body = await get(server, "/readyz")
    assert status == 200
    assert '"ready"' in body
    assert '"ja"' in body


async def test_metrics_expose_loop_lag_and_gc_pauses(server, connect):
    customer = await connect(server)
    await customer.call("start", {})
    status, content_type, body = await get(server, "/metrics")
    assert status == 200
    assert content_type.startswith("text/plain")
    assert "chatserver_event_loop_lag_seconds_bucket" in body
    assert "chatserver_gc_pause_seconds" in body
    assert 'chatserver_socket_connections{namespace="/customer"} 1.0' in body
    assert 'chatserver_conversations_started_total{language="en"} 1.0' in body


@needs_encoder
async def test_metrics_count_the_questions_of_each_encoder_pass(server, connect):
    customer = await connect(server)
    await customer.call("start", {"language": "en"})
    _, _, before = await get(server, "/metrics")
    assert "chatserver_encoder_pass_questions_count 0.0" in before
    # TF-IDF alone is unsure of it: the sentence encoder runs (tests/test_desk.py).
    ack = await customer.call("message", {"text": "my card hasn't shown up", "client_id": "c-1"})
    assert ack["ok"] is True
    await customer.wait_pushed("message")  # the bot's reply
    _, _, body = await get(server, "/metrics")
    assert "chatserver_encoder_pass_questions_count 1.0" in body
    assert 'chatserver_encoder_pass_questions_bucket{le="1.0"} 1.0' in body


async def request(server, method, path, *, token=None, json=None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, server.make_url(path), headers=headers, json=json) as response,
    ):
        await response.read()
        return response.status, response.headers


async def test_api_answers_are_never_stored_nor_sniffed(server):
    accounts = server.app[SERVICES].accounts
    await accounts.add(
        username="sam",
        name="Sam",
        languages=["en"],
        teams=["technical"],
        capacity=1,
        role="supervisor",
        password="a long password",
    )
    token = (await accounts.login("sam", "a long password")).token
    answers = [
        await request(server, "POST", "/api/v1/login", json={"username": "sam"}),
        await request(
            server, "POST", "/api/v1/login", json={"username": "sam", "password": "wrong pass"}
        ),
        await request(
            server,
            "POST",
            "/api/v1/login",
            json={"username": "sam", "password": "a long password"},
        ),
        await request(server, "GET", "/api/v1/reports/sla", token=token),
        await request(server, "GET", "/api/v1/reports/sla?format=csv", token=token),
        await request(server, "GET", "/api/v1/reports/sla"),
        await request(server, "GET", "/api/v1/inquiries/K7PX-4QR9-M", token="x"),
        await request(server, "GET", "/healthz"),
        await request(server, "GET", "/metrics"),
        await request(server, "GET", "/api/v1/nothing-here"),
        await request(server, "POST", "/api/v1/logout", token=token),
    ]
    assert [status for status, _ in answers] == [
        400,
        401,
        200,
        200,
        200,
        403,
        404,
        200,
        200,
        404,
        200,
    ]
    for status, headers in answers:
        assert headers["Cache-Control"] == "no-store", status
        assert headers["X-Content-Type-Options"] == "nosniff", status


async def test_no_response_names_the_software_versions(server):
    for path in ("/", "/widget/", "/static/widget/widget.js", "/healthz", "/missing"):
        status, headers = await request(server, "GET", path)
        assert status in (200, 404), path
        assert headers["Server"] == "chatserver", path
        assert headers["X-Content-Type-Options"] == "nosniff", path
        assert not any("aiohttp" in v or "Python/" in v for v in headers.values()), path
    # What chose its own caching keeps it.
    assert (await request(server, "GET", "/static/widget/widget.js"))[1][
        "Cache-Control"
    ] == "public, max-age=300"
    assert (await request(server, "GET", "/widget/"))[1]["Cache-Control"] == "no-cache"


async def test_a_websocket_upgrade_names_no_versions_and_carries_no_document_headers(server):
    # The upgrade's response lives as long as the socket: only the Server header is added.
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/socket.io/?EIO=4&transport=websocket")) as ws,
    ):
        opened = await ws.receive_str()  # Engine.IO's open packet: the socket works
        headers = ws._response.headers
    assert opened.startswith("0{")
    assert headers["Server"] == "chatserver"
    assert "X-Content-Type-Options" not in headers
    assert "Cache-Control" not in headers


async def test_metrics_can_require_a_bearer_token(start_server, settings):
    secret = "metrics-secret-0123456789"
    server = await start_server(dataclasses.replace(settings, metrics_token=secret))
    status, headers = await request(server, "GET", "/metrics")
    assert status == 401
    assert headers["WWW-Authenticate"].startswith("Bearer")
    assert (await request(server, "GET", "/metrics", token="metrics-secret-wrong"))[0] == 401
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            server.make_url("/metrics"), headers={"Authorization": f"Bearer {secret}"}
        ) as response,
    ):
        assert response.status == 200
        assert "chatserver_event_loop_lag_seconds_bucket" in await response.text()
    # Health and readiness stay open for the load balancer.
    assert (await request(server, "GET", "/healthz"))[0] == 200
