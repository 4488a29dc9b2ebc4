"""HTTP health, readiness and metrics endpoints."""

from __future__ import annotations

import aiohttp


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
