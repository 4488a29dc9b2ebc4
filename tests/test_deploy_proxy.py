"""The shipped proxy: deploy/nginx.conf in front of two server processes sharing one desk.

The same file compose.yaml mounts, run by Debian's nginx with its upstream servers and
listen port replaced (`render`); real processes (tests/cluster.py), the real PostgreSQL
and Redis, real python-socketio clients. nginx's ip_hash hashes an IPv4 client by its
first three octets, so each client here talks from its own loopback address (127.0.X.Y)
and the test picks X so that both processes get clients.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import socketio

from tests.cluster import ROOT, Client, Desk, Node, free_port, log_in, shared_desk
from tests.services import require_binary

pytestmark = pytest.mark.services

NGINX_CONF = ROOT / "deploy" / "nginx.conf"
UPSTREAM_SERVER = re.compile(r"^(\s*)server chat\d+:8080(?P<params>[^;]*);\n", re.MULTILINE)
READY_TIMEOUT = 20.0


def render(text: str, servers: list[str], port: int, tmp: Path, *, sticky: bool = True) -> str:
    """deploy/nginx.conf for this test: its `server chatN:8080` lines become `servers`
    (same parameters), it listens on 127.0.0.1:`port`, its temporary files go to `tmp`;
    without `sticky`, ip_hash is taken out and one worker round-robins every request."""
    found = list(UPSTREAM_SERVER.finditer(text))
    assert len(found) == 2, "deploy/nginx.conf names chat1 and chat2 in its upstream"
    indent, params = found[0].group(1), found[0].group("params")
    lines = "".join(f"{indent}server {server}{params};\n" for server in servers)
    text = text[: found[0].start()] + lines + text[found[-1].end() :]
    text, listens = re.subn(
        r"^(\s*)listen 80;", rf"\g<1>listen 127.0.0.1:{port};", text, flags=re.M
    )
    assert listens == 1
    temp = "".join(
        f"\n    {kind}_temp_path {tmp / kind};"
        for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi")
    )
    assert text.count("http {") == 1
    text = text.replace("http {", "http {" + temp)
    if not sticky:
        assert text.count("ip_hash;") == 1
        text = text.replace("ip_hash;", "")
        text = re.sub(r"worker_processes [^;]+;", "worker_processes 1;", text)
    return text


@contextlib.asynccontextmanager
async def nginx(
    tmp_path: Path, name: str, servers: list[str], *, sticky: bool = True
) -> AsyncIterator[str]:
    """nginx in the foreground on a free port with the rendered config; its URL."""
    binary = require_binary("nginx", "apt-get install nginx-light; .ci/run installs it")
    prefix = tmp_path / name
    prefix.mkdir()
    port = free_port()
    conf = prefix / "nginx.conf"
    conf.write_text(
        render(NGINX_CONF.read_text(encoding="utf-8"), servers, port, prefix, sticky=sticky),
        encoding="utf-8",
    )
    directives = f"daemon off; pid {prefix / 'nginx.pid'};"
    if os.geteuid() == 0:  # workers would run as nobody, who cannot enter pytest's tmp
        directives += " user root;"
    log_path = prefix / "nginx.log"
    with log_path.open("ab") as log:
        process = await asyncio.create_subprocess_exec(
            binary, "-e", "stderr", "-p", str(prefix), "-c", str(conf), "-g", directives,
            stdout=log,
            stderr=log,
        )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + READY_TIMEOUT
        async with aiohttp.ClientSession() as session:
            while True:
                assert process.returncode is None, log_path.read_text(errors="replace")
                with contextlib.suppress(aiohttp.ClientError):
                    async with session.get(f"{url}/healthz") as response:
                        if response.status == 200:
                            break
                assert time.monotonic() < deadline, log_path.read_text(errors="replace")
                await asyncio.sleep(0.05)
        yield url
    finally:
        if process.returncode is None:
            process.terminate()
            await process.wait()


def session_from(address: str) -> aiohttp.ClientSession:
    """An HTTP client whose connections come from `address` (a loopback address)."""
    return aiohttp.ClientSession(connector=aiohttp.TCPConnector(local_addr=(address, 0)))


class Proxied(Client):
    """A Socket.IO client talking from its own loopback address, over chosen transports."""

    def __init__(self, namespace: str, address: str) -> None:
        super().__init__(namespace)
        self.address = address

    async def open(
        self, url: str, transports: list[str], auth: dict[str, str] | None = None
    ) -> None:
        self.sio.eio.http = session_from(self.address)
        self.sio.eio.external_http = True  # kept on a reconnection; closed by close()
        await self.sio.connect(
            url, namespaces=[self.namespace], transports=transports, auth=auth, wait_timeout=10
        )

    async def close(self) -> None:
        # python-engineio's polling client can drop its own CLOSE packet (its writer stops
        # on "disconnecting") and then waits for the pending long poll, up to the 25 s
        # ping: let go at once (the processes are stopped next anyway).
        if self.sio.transport() == "polling":
            with contextlib.suppress(Exception):
                await self.sio.eio.disconnect(abort=True)
        await super().close()


async def node_behind(url: str, address: str) -> str:
    """Which process answers `/readyz` through the proxy for a client at `address`."""
    async with session_from(address) as session, session.get(f"{url}/readyz") as response:
        assert response.status == 200, await response.text()
        ready = await response.json()
        assert ready["status"] == "ready"
        return str(ready["node"])


@pytest.fixture
async def desk(tmp_path: Path) -> AsyncIterator[Desk]:
    async with shared_desk(tmp_path) as shared:
        yield shared


async def chat_over_polling(url: str, address: str) -> bool:
    """A customer at `address` on the polling transport alone: start, ask for a person."""
    client = Proxied("/customer", address)
    try:
        async with asyncio.timeout(5):  # through one process it takes milliseconds
            await client.open(url, ["polling"])
            started = await client.call("start", {"languages": ["en"]})
            asked = await client.call("request_agent", {})
        return bool(started["ok"] and asked["ok"])
    except (socketio.exceptions.SocketIOError, TimeoutError, aiohttp.ClientError):
        return False
    finally:
        await client.close()


async def test_two_processes_behind_the_shipped_nginx_config(desk: Desk, tmp_path: Path) -> None:
    desk.add_agent("emma")
    # As docs/deploy.md sets them: the proxy is trusted, so each client counts as itself;
    # one Socket.IO connection a minute per client address shows which address that is.
    proxied: dict[str, str] = {
        "CHATSERVER_TRUSTED_PROXIES": "127.0.0.1/32",
        "CHATSERVER_RATE_CONNECTIONS_PER_ADDRESS": "1/min burst 1",
    }
    nodes: list[Node] = list(
        await asyncio.gather(desk.node("a", **proxied).start(), desk.node("b", **proxied).start())
    )
    upstreams = [f"127.0.0.1:{node.port}" for node in nodes]
    by_id = {node.node_id: node for node in nodes}
    clients: list[Client] = []
    async with nginx(tmp_path, "sticky", upstreams) as url:
        # Each /24 of clients sticks to one process, and both processes get some.
        homes: dict[str, int] = {}
        for x in range(1, 64):
            seen = {await node_behind(url, f"127.0.{x}.1") for _ in range(3)}
            assert len(seen) == 1, f"127.0.{x}.1 was sent to {seen}"
            homes.setdefault(seen.pop(), x)
            if len(homes) == 2:
                break
        assert set(homes) == set(by_id), homes
        x_a, x_b = homes[nodes[0].node_id], homes[nodes[1].node_id]
        assert await node_behind(url, f"127.0.{x_b}.7") == nodes[1].node_id

        try:
            # The agent's console on A, over a WebSocket through the proxy.
            emma = Proxied("/agent", f"127.0.{x_a}.1")
            clients.append(emma)
            await emma.open(url, ["websocket"], await log_in(url, "emma"))

            # A customer on B over polling alone: every request of the session must reach B.
            polly = Proxied("/customer", f"127.0.{x_b}.1")
            clients.append(polly)
            await polly.open(url, ["polling"])
            assert polly.sio.transport() == "polling"
            started = await polly.call("start", {"languages": ["en"]})
            assert started["ok"], started
            first = started["conversation"]["id"]
            assert (await polly.call("request_agent", {}))["ok"]
            offer = await emma.wait_for("offer", lambda d: d["conversation_id"] == first)
            assert (await emma.call("accept", {"conversation_id": offer["conversation_id"]}))["ok"]
            await polly.wait_for("assigned")
            sent = await polly.call("message", {"text": "Polling through nginx", "client_id": "p1"})
            assert sent["ok"], sent
            await emma.wait_for("message", lambda d: d["text"] == "Polling through nginx")
            reply = {"conversation_id": first, "text": "Heard you, Polly", "client_id": "e1"}
            assert (await emma.call("message", reply))["ok"]
            await polly.wait_for("message", lambda d: d["text"] == "Heard you, Polly")

            # A customer on B over a WebSocket through the proxy, with the same agent on A.
            wendy = Proxied("/customer", f"127.0.{x_b}.2")
            clients.append(wendy)
            await wendy.open(url, ["websocket"])
            assert wendy.sio.transport() == "websocket"
            started = await wendy.call("start", {"languages": ["en"]})
            assert started["ok"], started
            second = started["conversation"]["id"]
            assert (await wendy.call("request_agent", {}))["ok"]
            offer = await emma.wait_for("offer", lambda d: d["conversation_id"] == second)
            assert (await emma.call("accept", {"conversation_id": second}))["ok"]
            await wendy.wait_for("assigned")
            sent = await wendy.call("message", {"text": "WebSocket via nginx", "client_id": "w1"})
            assert sent["ok"], sent
            await emma.wait_for("message", lambda d: d["text"] == "WebSocket via nginx")
            reply = {"conversation_id": second, "text": "Hello Wendy", "client_id": "e2"}
            assert (await emma.call("message", reply))["ok"]
            await wendy.wait_for("message", lambda d: d["text"] == "Hello Wendy")

            # B counts connections by the address in X-Forwarded-For, not by nginx's:
            # Wendy's address has had its one, a neighbour's has not.
            again = Proxied("/customer", f"127.0.{x_b}.2")
            clients.append(again)
            with pytest.raises(socketio.exceptions.ConnectionError):
                await again.open(url, ["websocket"])
            neighbour = Proxied("/customer", f"127.0.{x_b}.3")
            clients.append(neighbour)
            await neighbour.open(url, ["websocket"])
            assert neighbour.sio.connected
        finally:
            await asyncio.gather(*(client.close() for client in clients))

        async with session_from(f"127.0.{x_a}.9") as http:
            async with http.get(f"{url}/widget/") as response:
                assert response.status == 200
                assert response.content_type == "text/html"
                page = await response.text()
                assert "/static/widget/widget.js" in page
            async with http.get(f"{url}/static/widget/widget.js") as response:
                assert response.status == 200
                served = await response.text()
                assert served == (ROOT / "static" / "widget" / "widget.js").read_text("utf-8")
            async with http.get(f"{url}/readyz") as response:
                assert response.status == 200
                assert (await response.json())["node"] == nodes[0].node_id
            # The desk's own page talks to Socket.IO from the proxy's origin (Host and
            # port passed through), and another site's page may not.
            handshake = f"{url}/socket.io/?EIO=4&transport=polling"
            async with http.get(handshake, headers={"Origin": url}) as response:
                assert response.status == 200, await response.text()
            async with http.get(handshake, headers={"Origin": "http://elsewhere.test"}) as r:
                assert r.status == 400
            async with http.get(f"{url}/metrics") as response:
                assert response.status == 404  # each process is scraped on its own port
            async with http.get(f"{nodes[0].url}/metrics") as response:
                assert response.status == 200

    # The control: the same file without ip_hash sends a polling session's requests to
    # both processes in turn, and it breaks; sticky, the same client works.
    async with nginx(tmp_path, "round-robin", upstreams, sticky=False) as url:
        assert not await chat_over_polling(url, "127.0.200.1")
    async with nginx(tmp_path, "sticky-again", upstreams) as url:
        assert await chat_over_polling(url, "127.0.201.1")
    # The control left a polling session that never polls again, and a process's SIGTERM
    # waits for it to take its CLOSE packet (python-engineio's disconnect waits on each
    # socket's queue): end them as `docker stop` would after its grace period.
    await asyncio.gather(*(node.kill() for node in nodes))


async def test_a_rolling_restart_behind_the_proxy_keeps_the_chat(
    desk: Desk, tmp_path: Path
) -> None:
    """docs/deploy.md's rolling deploy: SIGTERM to the process holding a customer; the
    widget reconnects through nginx to the other process and resumes its chat."""
    desk.add_agent("emma")
    nodes: list[Node] = list(await asyncio.gather(desk.node("a").start(), desk.node("b").start()))
    upstreams = [f"127.0.0.1:{node.port}" for node in nodes]
    clients: list[Client] = []
    async with nginx(tmp_path, "rolling", upstreams) as url:
        homes: dict[str, int] = {}
        for x in range(1, 64):
            homes.setdefault(await node_behind(url, f"127.0.{x}.1"), x)
            if len(homes) == 2:
                break
        by_id = {node.node_id: node for node in nodes}
        assert set(homes) == set(by_id), homes
        stopped, staying = nodes  # the customer talks to A, the agent to B
        try:
            emma = Proxied("/agent", f"127.0.{homes[staying.node_id]}.1")
            clients.append(emma)
            await emma.open(url, ["websocket"], await log_in(url, "emma"))
            alice = Proxied("/customer", f"127.0.{homes[stopped.node_id]}.1")
            clients.append(alice)
            await alice.open(url, ["websocket"])
            started = await alice.call("start", {"languages": ["en"]})
            conversation_id = started["conversation"]["id"]
            assert (await alice.call("request_agent", {}))["ok"]
            await emma.wait_for("offer", lambda d: d["conversation_id"] == conversation_id)
            assert (await emma.call("accept", {"conversation_id": conversation_id}))["ok"]
            sent = await alice.call("message", {"text": "Before the deploy", "client_id": "m1"})
            assert sent["ok"], sent
            await emma.wait_for("message", lambda d: d["text"] == "Before the deploy")
            last_seq = max(m["seq"] for m in alice.events("message"))

            await stopped.stop()  # SIGTERM, as `docker stop` sends
            assert stopped.process is not None
            assert stopped.process.returncode == 0, stopped.log_tail()
            assert not alice.sio.connected  # the process closed the customer's socket

            # The widget comes back through the same proxy, from the same address: nginx
            # sends it to the process still running, which resumes the chat.
            late = {"conversation_id": conversation_id, "text": "Still here", "client_id": "r1"}
            assert (await emma.call("message", late))["ok"]
            await alice.close()
            alice = Proxied("/customer", f"127.0.{homes[stopped.node_id]}.1")
            clients.append(alice)
            await alice.open(url, ["websocket"])
            assert await node_behind(url, alice.address) == staying.node_id
            resumed = await alice.call("start", {"token": started["token"], "last_seq": last_seq})
            assert resumed["ok"], resumed
            assert resumed["conversation"]["id"] == conversation_id
            assert resumed["conversation"]["status"] in ("assigned", "active"), resumed
            assert [m["text"] for m in resumed["messages"] if m["author"] == "agent"] == [
                "Still here"
            ]
            sent = await alice.call("message", {"text": "After the deploy", "client_id": "m2"})
            assert sent["ok"], sent
            await emma.wait_for("message", lambda d: d["text"] == "After the deploy")
            assert not emma.events("closed")  # nobody ended the chat
        finally:
            await asyncio.gather(*(client.close() for client in clients))


async def test_the_proxy_sends_no_cookies_to_socket_io(tmp_path: Path, aiohttp_server) -> None:
    """A connection keeps its handshake's headers for its life: a site's cookies, which
    nothing on /socket.io/ reads, stop at the proxy there (and pass everywhere else)."""
    received: list[tuple[str, str | None]] = []

    async def record(request: aiohttp.web.Request) -> aiohttp.web.Response:
        received.append((request.path, request.headers.get("Cookie")))
        return aiohttp.web.Response(text="ok")

    upstream = aiohttp.web.Application()
    upstream.router.add_route("GET", "/{tail:.*}", record)
    server = await aiohttp_server(upstream)
    async with (
        nginx(tmp_path, "cookies", [f"127.0.0.1:{server.port}"]) as url,
        aiohttp.ClientSession() as session,
    ):
        for path in ("/socket.io/?EIO=4&transport=polling", "/widget"):
            async with session.get(url + path, headers={"Cookie": "_ga=GA1.2.3; consent=all"}):
                pass
    assert ("/socket.io/", None) in received
    assert ("/widget", "_ga=GA1.2.3; consent=all") in received
