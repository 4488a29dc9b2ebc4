"""Load on the whole server: N customers over raw websocket clients, against our server and
a bare python-socketio echo server measured the same way in the same run.

    python bench/load.py --mode bot --customers 200 --duration 20          # closed loop
    python bench/load.py --mode bot --customers 1000 --rate 1000           # open loop, msgs/s
    python bench/load.py --mode idle --customers 10000 --client-procs 2    # KB per connection
    python bench/load.py --mode handoff --customers 1000 --agents 50 --rate 50
    python bench/load.py --mode bot --processes 2 --customers 200          # 2 nodes on Redis
    python bench/load.py --mode bot --cluster --customers 200              # 1 node on Redis

Modes:
- `idle`: N customers connect and `start`, then hold. Connect time (websocket + namespace
  connect) and `start` round trip p50/p99/max; server RSS after start-up (idle desk) and
  with N started customers: (after - before) / N is the memory a connection costs.
- `bot`: every customer sends a message the FAQ answers and times the bot's reply (the
  `message` event with `meta.in_reply_to` = the seq of its message). Closed loop (each
  waits for its reply, then sends again) unless `--rate R`: open loop, R msgs/s in total
  spread over the customers, timed from the scheduled send (no coordinated omission).
  Throughput, round trip p50/p99/max, and server CPU per message: the server processes'
  utime+stime (/proc/<pid>/stat) over the run divided by the replies.
- `handoff`: customers ask for a person (`request_agent`) at `--rate` per second; M agents
  (python-socketio protocol over the same raw clients) accept every offer, answer, and
  close the chat `--agent-hold` seconds later. Time to `assigned` and to the agent's first
  message at the customer, p50/p99.

Clients are spread over `--client-procs` worker processes (this script with `_worker`,
orchestrated over stdin/stdout: subprocesses rather than multiprocessing, so each is a fresh
interpreter with its own event loop, stopped by pid like the servers), each running its share of customers on one event loop
with the wire format of bench/sio_wire.py; the client processes' CPU is reported so a
saturated load generator shows. With `--rate`, the workers start their schedules from one
moment, each offset by its index / rate, so that the sends of all of them are evenly
spaced (before, each worker's k-th send left together with the others' k-th). The server
runs as `python -m chatserver serve` subprocess(es): SQLite in a temporary directory, or
with `--processes K` K nodes on PostgreSQL (a fresh database, dropped afterwards) and Redis
(a unique key prefix, deleted afterwards), customers spread round-robin over the nodes. The echo baseline
(bench/echo_server.py, `--echo tuned|stock|off`) is one process measured right after with
the same clients and settings (not in handoff mode); the table gives our/echo ratios.
Every subprocess is stopped on exit, Ctrl+C included, and dies with this process.
"""

from __future__ import annotations

import argparse
import asyncio
import atexit
import contextlib
import ctypes
import json
import os
import platform
import resource
import signal
import socket
import sys
import tempfile
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import cpu_model, machine, percentile, write_section  # noqa: E402
from bench.sio_wire import WireClient  # noqa: E402

MARKER = "load"  # --write replaces the section <!-- load-<run>:start --> ... <!-- ...:end -->
READY_TIMEOUT = 180.0
CALL_TIMEOUT = 60.0
# A question the desk's FAQ (faq/en.yaml) answers: the bot's full path, matcher included.
BOT_TEXT = "I forgot my MT5 password. How can I reset it?"
# One load generator stands for thousands of clients at their own addresses.
NO_RATE_LIMITS = {
    f"CHATSERVER_RATE_{kind}{scope}": "off"
    for kind in ("MESSAGES", "STARTS", "TYPING", "EVENTS", "CONNECTIONS", "LOGINS")
    for scope in ("", "_PER_ADDRESS")
}
WORKER_SCRIPT = str(Path(__file__).resolve())
CLK_TCK = os.sysconf("SC_CLK_TCK")


# ----------------------------------------------------------------------------- helpers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def summary(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"n": 0, "p50": None, "p99": None, "max": None}
    return {
        "n": len(values),
        "p50": percentile(values, 0.5),
        "p99": percentile(values, 0.99),
        "max": max(values),
    }


def cpu_seconds(pid: int) -> float:
    """utime + stime of one process, in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # fields 14 and 15 of stat


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def _die_with_parent() -> None:
    """In a child, before exec: SIGTERM when this harness dies, however it dies (Linux)."""
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


# Every child process still running; the atexit hook kills what the finally blocks missed.
_children: dict[int, asyncio.subprocess.Process] = {}


@atexit.register
def _kill_leftovers() -> None:
    for pid in list(_children):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


async def spawn(*argv: str, env: dict[str, str] | None = None, **kwargs: Any) -> Any:
    """A child in its own session (Ctrl+C reaches only this harness, which stops it)."""
    process = await asyncio.create_subprocess_exec(
        *argv,
        cwd=ROOT,
        env=env,
        start_new_session=True,
        preexec_fn=_die_with_parent,
        **kwargs,
    )
    _children[process.pid] = process
    return process


async def stop(process: asyncio.subprocess.Process, grace: float = 15) -> None:
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.terminate()
        try:
            await asyncio.wait_for(process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
    _children.pop(process.pid, None)


# ----------------------------------------------------------------------------- client side


@dataclass
class WorkerConfig:
    index: int
    urls: list[str]
    first: int  # global index of this worker's first customer (round-robin over urls)
    customers: int
    mode: str
    duration: float
    rate: float | None  # this worker's share of --rate
    # Seconds after the common start at which this worker's schedule begins (index / --rate):
    # the workers' sends interleave, one every 1 / --rate, instead of leaving in bunches.
    offset: float
    drain: float
    connect_concurrency: int
    connect_rate: float | None  # this worker's share of --connect-rate: arrivals per second
    language: str
    text: str
    browser: bool  # customers connect as Chromium does: its headers, deflate offered
    # With --texts: each language's messages; customer k writes in the (k mod n)-th language,
    # going through its messages in turn. Empty: every customer writes `text` in `language`.
    texts: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class WorkerResult:
    connect_ms: list[float] = field(default_factory=list)
    start_ms: list[float] = field(default_factory=list)
    connect_failed: int = 0
    errors: list[str] = field(default_factory=list)
    sent: int = 0
    acked: int = 0
    replies: int = 0
    rtt_ms: list[float] = field(default_factory=list)
    ack_ms: list[float] = field(default_factory=list)
    window_replies: int = 0  # replies that arrived inside the measured window
    assigned_ms: list[float] = field(default_factory=list)
    agent_message_ms: list[float] = field(default_factory=list)
    client_cpu_s: float = 0.0
    dropped: int = 0  # connections the server closed during the run


class Customer:
    def __init__(
        self, client: WireClient, name: str, result: WorkerResult, texts: list[str] | None = None
    ) -> None:
        self.client = client
        self.name = name
        self.result = result
        self.texts = texts or []
        self.count = 0
        self.sent_at: dict[int, float] = {}  # seq of our message -> when it was (to be) sent
        self.early: dict[int, float] = {}  # a reply that overtook its ack: seq -> arrival
        self.waiter: asyncio.Future[None] | None = None
        self.window_end = float("inf")
        self.requested_at: float | None = None
        client.handlers["message"] = self.on_message
        client.handlers["assigned"] = self.on_assigned

    def on_message(self, data: Any) -> None:
        now = time.perf_counter()
        if not isinstance(data, dict):
            return
        author = data.get("author")
        if author == "agent" and self.requested_at is not None:
            self.result.agent_message_ms.append((now - self.requested_at) * 1000)
            self.requested_at = None
            return
        reply_to = (data.get("meta") or {}).get("in_reply_to")
        if author != "bot" or reply_to is None:
            return
        sent = self.sent_at.pop(reply_to, None)
        if sent is None:
            self.early[reply_to] = now
        else:
            self.replied(sent, now)

    def next_text(self, default: str) -> str:
        """What this customer writes next: their messages in turn, or `default`."""
        return self.texts[self.count % len(self.texts)] if self.texts else default

    def on_assigned(self, _: Any) -> None:
        if self.requested_at is not None:
            self.result.assigned_ms.append((time.perf_counter() - self.requested_at) * 1000)

    def replied(self, sent: float, arrived: float) -> None:
        self.result.replies += 1
        self.result.rtt_ms.append((arrived - sent) * 1000)
        if arrived <= self.window_end:
            self.result.window_replies += 1
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result(None)

    async def send(self, text: str, scheduled: float | None = None) -> None:
        self.count += 1
        sent = time.perf_counter() if scheduled is None else scheduled
        self.result.sent += 1
        ack = await self.client.call(
            "message", {"text": text, "client_id": f"{self.name}-{self.count}"}, CALL_TIMEOUT
        )
        if not (isinstance(ack, dict) and ack.get("ok")):
            raise RuntimeError(f"message refused: {ack}")
        self.result.acked += 1
        self.result.ack_ms.append((time.perf_counter() - sent) * 1000)
        seq = ack["message"]["seq"]
        arrived = self.early.pop(seq, None)
        if arrived is None:
            self.sent_at[seq] = sent
        else:
            self.replied(sent, arrived)


async def connect_customer(
    session: aiohttp.ClientSession,
    url: str,
    name: str,
    language: str,
    result: WorkerResult,
    *,
    browser: bool = False,
    texts: list[str] | None = None,
) -> Customer:
    client = WireClient(session, url, "/customer", browser=browser)
    started = time.perf_counter()
    await client.connect()
    connected = time.perf_counter()
    ack = await client.call("start", {"languages": [language]}, CALL_TIMEOUT)
    if not (isinstance(ack, dict) and ack.get("ok") and ack.get("token")):
        await client.close()
        raise RuntimeError(f"start refused: {ack}")
    result.connect_ms.append((connected - started) * 1000)
    result.start_ms.append((time.perf_counter() - connected) * 1000)
    return Customer(client, name, result, texts)


def note_error(result: WorkerResult, exc: BaseException) -> None:
    if len(result.errors) < 20:
        result.errors.append(f"{type(exc).__name__}: {exc}")


async def closed_loop(customers: list[Customer], cfg: WorkerConfig, result: WorkerResult) -> None:
    deadline = time.perf_counter() + cfg.duration
    loop = asyncio.get_running_loop()

    async def one(customer: Customer) -> None:
        customer.window_end = deadline
        while time.perf_counter() < deadline:
            customer.waiter = loop.create_future()
            try:
                await customer.send(customer.next_text(cfg.text))
                await asyncio.wait_for(customer.waiter, CALL_TIMEOUT)
            except Exception as exc:  # counted, the others go on
                note_error(result, exc)
                return

    await asyncio.gather(*(one(c) for c in customers))


async def open_loop(
    customers: list[Customer], cfg: WorkerConfig, result: WorkerResult, start: float
) -> None:
    assert cfg.rate
    started = start + cfg.offset
    deadline = start + cfg.duration
    for customer in customers:
        customer.window_end = deadline
    tasks: set[asyncio.Task[None]] = set()

    async def send(customer: Customer, scheduled: float) -> None:
        try:
            await customer.send(customer.next_text(cfg.text), scheduled)
        except Exception as exc:
            note_error(result, exc)

    k = 0
    while True:
        scheduled = started + k / cfg.rate
        if scheduled >= deadline:
            break
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        task = asyncio.create_task(send(customers[k % len(customers)], scheduled))
        tasks.add(task)
        task.add_done_callback(tasks.discard)
        k += 1
    drain_until = time.perf_counter() + cfg.drain
    while time.perf_counter() < drain_until and (  # noqa: ASYNC110
        tasks or result.replies < result.acked
    ):
        await asyncio.sleep(0.05)


async def handoffs(
    customers: list[Customer], cfg: WorkerConfig, result: WorkerResult, start: float
) -> None:
    rate = cfg.rate or max(1.0, len(customers) / max(cfg.duration, 1.0))
    started = start + cfg.offset
    tasks = []

    async def ask(customer: Customer, scheduled: float) -> None:
        customer.requested_at = scheduled
        try:
            ack = await customer.client.call("request_agent", {}, CALL_TIMEOUT)
            if not (isinstance(ack, dict) and ack.get("ok")):
                raise RuntimeError(f"request_agent refused: {ack}")
        except Exception as exc:
            note_error(result, exc)

    for k, customer in enumerate(customers):
        scheduled = started + k / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(ask(customer, scheduled)))
    await asyncio.gather(*tasks)
    drain_until = time.perf_counter() + cfg.drain
    while time.perf_counter() < drain_until and any(  # noqa: ASYNC110
        c.requested_at is not None for c in customers
    ):
        await asyncio.sleep(0.05)


def emit_line(payload: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(payload) + "\n")
    sys.stdout.flush()


async def read_command() -> str:
    line: str = await asyncio.to_thread(sys.stdin.readline)
    if not line:  # the harness is gone
        raise SystemExit(1)
    return line.strip()


async def worker_main(cfg: WorkerConfig) -> None:
    result = WorkerResult()
    customers: list[Customer] = []
    # With a connect rate the arrivals are not held back: only a cap against a runaway.
    limit = asyncio.Semaphore(cfg.connect_concurrency if not cfg.connect_rate else 10_000)
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector) as session:
        languages = sorted(cfg.texts)

        async def one(i: int) -> None:
            number = cfg.first + i
            language = languages[number % len(languages)] if languages else cfg.language
            if cfg.connect_rate:  # open loop: customer i arrives at its time, whatever the rest
                await asyncio.sleep(i / cfg.connect_rate)
            async with limit:
                try:
                    customers.append(
                        await connect_customer(
                            session,
                            cfg.urls[number % len(cfg.urls)],
                            f"w{cfg.index}c{i}",
                            language,
                            result,
                            browser=cfg.browser,
                            texts=cfg.texts.get(language),
                        )
                    )
                except Exception as exc:
                    result.connect_failed += 1
                    note_error(result, exc)

        try:
            await asyncio.gather(*(one(i) for i in range(cfg.customers)))
            emit_line({"event": "ready", "connected": len(customers)})
            command, _, at = (await read_command()).partition(" ")
            if command != "go":
                return
            # The common start, sent as time.monotonic() (one clock for every process).
            start = time.perf_counter() + float(at) - time.monotonic()
            cpu = time.process_time()
            if not customers:
                pass
            elif cfg.mode == "bot" and cfg.rate:
                await open_loop(customers, cfg, result, start)
            elif cfg.mode == "bot":
                await closed_loop(customers, cfg, result)
            elif cfg.mode == "handoff":
                await handoffs(customers, cfg, result, start)
            else:
                await asyncio.sleep(cfg.duration)
            result.client_cpu_s = time.process_time() - cpu
            result.dropped = sum(c.client.closed for c in customers)
            emit_line({"event": "done", "result": asdict(result)})
            await read_command()  # "stop": the harness has taken its readings
        finally:
            await asyncio.gather(*(c.client.close() for c in customers), return_exceptions=True)


def run_worker() -> None:
    cfg = WorkerConfig(**json.loads(sys.stdin.readline()))
    raise_fd_limit()
    try:
        import uvloop

        uvloop.run(worker_main(cfg))
    except ImportError:
        asyncio.run(worker_main(cfg))


class Workers:
    """The client processes of one measurement."""

    def __init__(self) -> None:
        self.processes: list[asyncio.subprocess.Process] = []

    async def start(self, configs: list[WorkerConfig]) -> None:
        for cfg in configs:
            process = await spawn(
                sys.executable,
                WORKER_SCRIPT,
                "_worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                limit=2**30,
            )
            self.processes.append(process)
            await self.send(process, json.dumps(asdict(cfg)))

    async def send(self, process: asyncio.subprocess.Process, line: str) -> None:
        assert process.stdin is not None
        process.stdin.write(line.encode() + b"\n")
        await process.stdin.drain()

    async def broadcast(self, line: str) -> None:
        for process in self.processes:
            await self.send(process, line)

    async def expect(self, event: str, within: float) -> list[dict[str, Any]]:
        async def one(process: asyncio.subprocess.Process) -> dict[str, Any]:
            assert process.stdout is not None
            line = await process.stdout.readline()
            if not line:
                raise RuntimeError(f"client process {process.pid} exited before '{event}'")
            payload: dict[str, Any] = json.loads(line)
            if payload.get("event") != event:
                raise RuntimeError(f"client process {process.pid}: {payload}")
            return payload

        return await asyncio.wait_for(asyncio.gather(*(one(p) for p in self.processes)), within)

    async def stop(self) -> None:
        for process in self.processes:
            if process.stdin is not None and not process.stdin.is_closing():
                with contextlib.suppress(Exception):
                    process.stdin.write(b"stop\n")
                    process.stdin.close()
        await asyncio.gather(*(stop(p, grace=20) for p in self.processes))


# ----------------------------------------------------------------------------- agents


class Agents:
    """M agents over the raw clients: accept every offer, answer, close a moment later."""

    def __init__(self, hold: float) -> None:
        self.hold = hold
        self.clients: list[WireClient] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self.errors: list[str] = []

    def _spawn(self, work: Any) -> None:
        task = asyncio.create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _guard(self, work: Any) -> None:
        try:
            await work
        except Exception as exc:
            if len(self.errors) < 20:
                self.errors.append(f"{type(exc).__name__}: {exc}")

    async def connect(
        self, session: aiohttp.ClientSession, url: str, username: str, password: str
    ) -> None:
        async with session.post(
            f"{url}/api/v1/login", json={"username": username, "password": password}
        ) as response:
            body = await response.json()
            if response.status != 200:
                raise RuntimeError(f"log-in of {username} refused: {body}")
        client = WireClient(session, url, "/agent")
        count = 0

        async def accept(conversation_id: str) -> None:
            await client.call("accept", {"conversation_id": conversation_id}, CALL_TIMEOUT)

        async def answer(conversation_id: str) -> None:
            nonlocal count
            count += 1
            await client.call(
                "message",
                {
                    "conversation_id": conversation_id,
                    "text": "Hello, how can I help?",
                    "client_id": f"{username}-{count}",
                },
                CALL_TIMEOUT,
            )
            await asyncio.sleep(self.hold)
            await client.call("close", {"conversation_id": conversation_id}, CALL_TIMEOUT)

        def offer(data: Any) -> None:
            self._spawn(self._guard(accept(data["conversation_id"])))

        def conversation(data: Any) -> None:
            if not data.get("held"):
                self._spawn(self._guard(answer(data["conversation"]["id"])))

        client.handlers["offer"] = offer
        client.handlers["conversation"] = conversation
        await client.connect(auth={"token": body["token"]})
        self.clients.append(client)

    async def close(self) -> None:
        for task in list(self.tasks):
            task.cancel()
        await asyncio.gather(*self.tasks, return_exceptions=True)
        await asyncio.gather(*(c.close() for c in self.clients), return_exceptions=True)


# ----------------------------------------------------------------------------- servers


@dataclass
class Target:
    """The server(s) under test: their URLs and processes."""

    name: str
    urls: list[str]
    processes: list[asyncio.subprocess.Process]
    redis_pid: int | None = None  # the local redis-server the nodes share, if /proc shows it

    def cpu(self) -> float:
        return sum(cpu_seconds(p.pid) for p in self.processes)

    def rss(self) -> int:
        return sum(rss_kib(p.pid) for p in self.processes)


def log_tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


async def wait_ready(url: str, process: asyncio.subprocess.Process, log: Path) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            if process.returncode is not None:
                raise RuntimeError(
                    f"server on {url} exited ({process.returncode}):\n{log_tail(log)}"
                )
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/readyz") as response:
                    if response.status == 200:
                        return
            await asyncio.sleep(0.2)
    raise RuntimeError(f"server on {url} not ready in {READY_TIMEOUT} s (log: {log})")


# Histograms on /metrics the bot run reports: (its name, its key in the results).
HISTOGRAMS = (
    ("chatserver_encoder_pass_questions", "encoder"),  # questions a pass of the encoder
    ("chatserver_store_exchange_group", "exchange"),  # exchanges a PostgreSQL statement
)


async def histogram_totals(target: Target) -> dict[str, tuple[float, float]]:
    """(observations, sum) of each of `HISTOGRAMS` so far, summed over `target`'s processes,
    by key; a histogram no server reports (the echo; exchanges on SQLite) is left out."""
    names = dict(HISTOGRAMS)
    totals: dict[str, list[float]] = {}
    async with aiohttp.ClientSession() as session:
        for url in target.urls:
            with contextlib.suppress(aiohttp.ClientError, OSError):
                async with session.get(f"{url}/metrics") as response:
                    if response.status != 200:
                        continue
                    for family in text_string_to_metric_families(await response.text()):
                        if family.name not in names:
                            continue
                        total = totals.setdefault(names[family.name], [0.0, 0.0])
                        for sample in family.samples:
                            if sample.name.endswith("_count"):
                                total[0] += sample.value
                            elif sample.name.endswith("_sum"):
                                total[1] += sample.value
    return {key: (count, summed) for key, (count, summed) in totals.items() if count}


async def start_servers(
    argv_env: list[tuple[list[str], dict[str, str]]], name: str, tmp: Path
) -> Target:
    target = Target(name, [], [])
    try:
        for number, (argv, env) in enumerate(argv_env):
            port = free_port()
            log = tmp / f"{name}-{number}.log"
            with log.open("ab") as out:
                process = await spawn(
                    *[a.replace("{port}", str(port)) for a in argv],
                    env={**os.environ, **env, "CHATSERVER_PORT": str(port)},
                    stdout=out,
                    stderr=out,
                )
            target.processes.append(process)
            target.urls.append(f"http://127.0.0.1:{port}")
            await wait_ready(target.urls[-1], process, log)
    except BaseException:
        await stop_target(target)
        raise
    return target


async def stop_target(target: Target) -> None:
    await asyncio.gather(*(stop(p, grace=30) for p in target.processes))


@contextlib.asynccontextmanager
async def fresh_postgres(base: str) -> Any:
    """A new, empty PostgreSQL database for this run, dropped afterwards."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import create_async_engine

    name = f"chat_load_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as connection:
            await connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        try:
            yield base.rsplit("/", 1)[0] + "/" + name
        finally:
            async with admin.connect() as connection:
                await connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def delete_redis_prefix(url: str, prefix: str) -> None:
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        keys = [key async for key in client.scan_iter(match=f"{prefix}*", count=1000)]
        for start in range(0, len(keys), 500):
            await client.delete(*keys[start : start + 500])
    finally:
        await client.aclose()


async def local_redis_pid(url: str) -> int | None:
    """The redis-server's pid when it runs on this machine and /proc lets us read it."""
    import redis.asyncio as redis

    client = redis.from_url(url)
    try:
        pid = int((await client.info("server"))["process_id"])
    except Exception:  # no figure, not a failure
        return None
    finally:
        await client.aclose()
    try:
        cpu_seconds(pid)
    except OSError:
        return None
    return pid


def chatserver_env(args: argparse.Namespace, database_url: str) -> dict[str, str]:
    env = {
        **NO_RATE_LIMITS,
        "CHATSERVER_DATABASE_URL": database_url,
        "CHATSERVER_LOG_LEVEL": "warning",
        "CHATSERVER_FAQ_RELOAD_INTERVAL": "0",
        "CHATSERVER_FAQ_EMBEDDINGS": "true" if args.embeddings == "on" else "false",
    }
    if args.faq_dir:
        env["CHATSERVER_FAQ_DIR"] = str(args.faq_dir)
    if args.openblas_threads:
        env["OPENBLAS_NUM_THREADS"] = str(args.openblas_threads)
    return env


# ----------------------------------------------------------------------------- measuring


async def measure(
    args: argparse.Namespace, target: Target, agents: list[tuple[str, str]] | None
) -> dict[str, Any]:
    """One run of the clients against `target`: the figures as a dict."""
    procs = max(1, min(args.client_procs, args.customers))
    share = [
        args.customers // procs + (1 if i < args.customers % procs else 0) for i in range(procs)
    ]
    configs, first = [], 0
    for index, count in enumerate(share):
        rate = args.rate * count / args.customers if args.rate else None
        configs.append(
            WorkerConfig(
                index=index,
                urls=target.urls,
                first=first,
                customers=count,
                mode=args.mode,
                duration=args.duration,
                rate=rate,
                offset=index / args.rate if args.rate else 0.0,
                drain=args.drain,
                connect_concurrency=args.connect_concurrency,
                connect_rate=(
                    args.connect_rate * count / args.customers if args.connect_rate else None
                ),
                language="en",
                text=args.text,
                browser=args.browser,
                texts=args.messages,
            )
        )
        first += count
    await asyncio.sleep(args.settle)  # let start-up work finish
    idle_rss = target.rss()
    agent_pool = Agents(args.agent_hold)
    workers = Workers()
    out: dict[str, Any] = {"target": target.name, "server_processes": len(target.processes)}
    try:
        if agents:
            session = aiohttp.ClientSession()
            try:
                for start in range(0, len(agents), 10):  # log-ins hash passwords
                    await asyncio.gather(
                        *(
                            agent_pool.connect(
                                session, target.urls[(start + i) % len(target.urls)], u, p
                            )
                            for i, (u, p) in enumerate(agents[start : start + 10])
                        )
                    )
                out.update(await _drive(args, target, workers, configs, idle_rss))
            finally:
                await agent_pool.close()
                await session.close()
            out["agent_errors"] = agent_pool.errors
        else:
            out.update(await _drive(args, target, workers, configs, idle_rss))
    finally:
        await workers.stop()
    return out


async def _drive(
    args: argparse.Namespace,
    target: Target,
    workers: Workers,
    configs: list[WorkerConfig],
    idle_rss: int,
) -> dict[str, Any]:
    connect_started = time.perf_counter()
    await workers.start(configs)
    ready = await workers.expect("ready", READY_TIMEOUT + args.customers / 10)
    connect_wall = time.perf_counter() - connect_started
    connected = sum(r["connected"] for r in ready)
    await asyncio.sleep(args.settle)  # let the server finish the connects' work
    loaded_rss = target.rss()
    histograms_before = await histogram_totals(target) if args.mode == "bot" else {}
    redis_before = cpu_seconds(target.redis_pid) if target.redis_pid else 0.0
    cpu_before, started = target.cpu(), time.perf_counter()
    # Every worker starts its schedule from the same moment, a little ahead.
    await workers.broadcast(f"go {time.monotonic() + 0.05:.6f}")
    done = await workers.expect("done", args.duration + args.drain + CALL_TIMEOUT * 2)
    elapsed = time.perf_counter() - started
    cpu = target.cpu() - cpu_before
    redis_cpu = cpu_seconds(target.redis_pid) - redis_before if target.redis_pid else None
    results = [WorkerResult(**d["result"]) for d in done]
    histograms_after = await histogram_totals(target) if args.mode == "bot" else {}

    def merged(name: str) -> list[float]:
        return [v for r in results for v in getattr(r, name)]

    def total(name: str) -> int:
        return sum(int(getattr(r, name)) for r in results)

    window = min(elapsed, args.duration) if args.mode == "bot" else elapsed
    replies = total("replies")
    window_replies = total("window_replies")
    out: dict[str, Any] = {
        "customers": args.customers,
        "connected": connected,
        "connect_failed": total("connect_failed"),
        "connect_wall_s": connect_wall,
        "dropped": total("dropped"),
        "connect_ms": summary(merged("connect_ms")),
        "start_ms": summary(merged("start_ms")),
        "rss_idle_kib": idle_rss,
        "rss_loaded_kib": loaded_rss,
        "kib_per_connection": (loaded_rss - idle_rss) / connected if connected else None,
        "elapsed_s": elapsed,
        "server_cpu_s": cpu,
        "server_cpu_util": cpu / elapsed if elapsed else None,
        "redis_cpu_s": redis_cpu,
        "client_cpu_util": sum(r.client_cpu_s for r in results) / elapsed / len(results)
        if elapsed and results
        else None,
        "errors": [e for r in results for e in r.errors][:20],
    }
    if args.mode == "bot":
        out.update(
            sent=total("sent"),
            acked=total("acked"),
            replies=replies,
            msgs_per_s=window_replies / window if window else None,
            rtt_ms=summary(merged("rtt_ms")),
            ack_ms=summary(merged("ack_ms")),
            cpu_ms_per_message=cpu / replies * 1000 if replies else None,
            **{
                f"{key}_{part}": after[i] - histograms_before.get(key, (0.0, 0.0))[i]
                for key, after in histograms_after.items()
                for i, part in enumerate(("groups", "items"))
            },
            redis_cpu_ms_per_message=redis_cpu / replies * 1000
            if replies and redis_cpu is not None
            else None,
        )
    if args.mode == "handoff":
        out.update(
            assigned_ms=summary(merged("assigned_ms")),
            agent_message_ms=summary(merged("agent_message_ms")),
        )
    return out


# ----------------------------------------------------------------------------- report


def _ms(value: Any) -> str:
    return "-" if value is None else f"{value:.1f} ms"


def _num(value: Any, fmt: str = ".1f", unit: str = "") -> str:
    return "-" if value is None else f"{value:{fmt}}{unit}"


def _ratio(ours: Any, echo: Any) -> str:
    return "-" if not ours or not echo else f"{ours / echo:.2f}"


def table(ours: dict[str, Any], echo: dict[str, Any] | None, mode: str) -> str:
    rows: list[tuple[str, str, str, str]] = []

    def row(label: str, key: Any, render: Any = _num, ratio: bool = False) -> None:
        get = key if callable(key) else (lambda r: r.get(key))
        a = get(ours)
        b = get(echo) if echo else None
        rows.append((label, render(a), render(b) if echo else "", _ratio(a, b) if ratio else ""))

    row("customers started", lambda r: f"{r['connected']} / {r['customers']}", str)
    row("connect (ws + namespace), p50", lambda r: r["connect_ms"]["p50"], _ms)
    row("connect p99", lambda r: r["connect_ms"]["p99"], _ms)
    row("connect max", lambda r: r["connect_ms"]["max"], _ms)
    row("`start` round trip, p50", lambda r: r["start_ms"]["p50"], _ms)
    row("`start` p99", lambda r: r["start_ms"]["p99"], _ms)
    row("all started in", "connect_wall_s", lambda v: _num(v, ".1f", " s"))
    row("connections dropped during the run", "dropped", str)
    row("server RSS after start-up (idle)", "rss_idle_kib", lambda v: _num(v / 1024, ".0f", " MiB"))
    row("server RSS, customers started", "rss_loaded_kib", lambda v: _num(v / 1024, ".0f", " MiB"))
    row("RSS per connection", "kib_per_connection", lambda v: _num(v, ".1f", " KiB"), True)
    if mode == "bot":
        row("bot replies", "replies", lambda v: _num(v, "d"))
        row("messages sent but not answered", lambda r: r["sent"] - r["replies"], str)
        row("throughput", "msgs_per_s", lambda v: _num(v, ".0f", " msgs/s"), True)
        row("round trip (send -> bot reply), p50", lambda r: r["rtt_ms"]["p50"], _ms, True)
        row("round trip p99", lambda r: r["rtt_ms"]["p99"], _ms, True)
        row("round trip max", lambda r: r["rtt_ms"]["max"], _ms)
        row("message ack p50", lambda r: r["ack_ms"]["p50"], _ms)
        row("server CPU per message", "cpu_ms_per_message", lambda v: _num(v, ".2f", " ms"), True)
        for key, label in (
            ("encoder", "sentence encoder: questions embedded (passes, questions a pass)"),
            ("exchange", "PostgreSQL: exchanges written (statements, exchanges a statement)"),
        ):
            if not ours.get(f"{key}_groups"):
                continue
            row(
                label,
                lambda r, key=key: (
                    f"{r[f'{key}_items']:.0f} ({r[f'{key}_groups']:.0f}, "
                    f"{r[f'{key}_items'] / r[f'{key}_groups']:.1f})"
                    if r.get(f"{key}_groups")
                    else "-"
                ),
                str,
            )
        if ours.get("redis_cpu_ms_per_message") is not None:
            row(
                "Redis CPU per message (not in the above)",
                "redis_cpu_ms_per_message",
                lambda v: _num(v, ".2f", " ms"),
            )
    if mode == "handoff":
        row("customers given an agent", lambda r: r["agent_message_ms"]["n"], str)
        row("request_agent -> `assigned`, p50", lambda r: r["assigned_ms"]["p50"], _ms)
        row("-> `assigned` p99", lambda r: r["assigned_ms"]["p99"], _ms)
        row("request_agent -> agent's message, p50", lambda r: r["agent_message_ms"]["p50"], _ms)
        row("-> agent's message p99", lambda r: r["agent_message_ms"]["p99"], _ms)
    row("server CPU (all processes)", "server_cpu_util", lambda v: _num(v * 100, ".0f", " %"))
    row("client CPU (each client process)", "client_cpu_util", lambda v: _num(v * 100, ".0f", " %"))
    head = (
        "| measure | ours | echo | ours/echo |\n|---|---|---|---|\n"
        if echo
        else ("| measure | ours |\n|---|---|\n")
    )
    lines = [f"| {a} | {b} | {c} | {d} |" if echo else f"| {a} | {b} |" for a, b, c, d in rows]
    return head + "\n".join(lines) + "\n"


def bot_texts(path: Path, faq_dir: Path) -> dict[str, list[str]]:
    """Each language's messages in `path`, without those that end the bot's part: an urgent
    entry expected or an urgent phrase (a person takes it at once), one asking for a person,
    or none expected (the bot declines it, and a second decline in a row hands the chat to a
    person). The bot answers every one that is left, so a closed loop never waits for a
    reply that is not coming."""
    from chatserver.faq.loader import load_faq
    from chatserver.handoff import asks_for_a_person
    from chatserver.models import Priority
    from chatserver.urgency import urgent_topic

    faq = load_faq(faq_dir).faq
    urgent = {
        entry.id
        for language in faq.languages
        for entry in faq.native(language).values()
        if entry.priority is Priority.URGENT
    }
    texts: dict[str, list[str]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        language = case.get("lang", "en")
        expected = case.get("expected")
        text = case["text"]
        if (
            expected is None
            or expected in urgent
            or urgent_topic(text, language)
            or asks_for_a_person(text, language)
        ):
            continue
        texts.setdefault(language, []).append(text)
    return texts


def describe(args: argparse.Namespace) -> str:
    load = (
        f"open loop, {args.rate:g} msgs/s in total"
        if args.mode == "bot" and args.rate
        else "closed loop (each customer waits for its reply)"
        if args.mode == "bot"
        else f"{args.agents} agents, request_agent at {args.rate or 'customers/duration'}/s"
        if args.mode == "handoff"
        else "started, then idle"
    )
    arrivals = (
        f"customers arriving at {args.connect_rate:g}/s in total (open loop)"
        if args.connect_rate
        else f"at most {args.connect_concurrency} connecting at once per client process"
    )
    servers = (
        f"{args.processes} chatserver process(es) on PostgreSQL + Redis"
        if clustered(args)
        else "one chatserver process on SQLite"
    )
    return (
        f"Mode `{args.mode}`: {args.customers} customers ({arrivals}), {load}, "
        f"{args.duration:g} s; {servers}, "
        f"embeddings {args.embeddings}; echo: {'off' if args.mode == 'handoff' else args.echo}; "
        f"{args.client_procs} client processes"
        + (f"; customers write the messages of {args.texts.name}" if args.texts else "")
        + (
            "; customers connect as Chromium does (headers, deflate offered)"
            if args.browser
            else ""
        )
        + "; server and clients on the same machine"
        + (" (PostgreSQL's CPU is not counted)." if clustered(args) else ".")
    )


def clustered(args: argparse.Namespace) -> bool:
    return bool(args.processes > 1 or args.cluster)


def section_name(args: argparse.Namespace) -> str:
    """Which run this is, for --write: load-bot, load-bot-open, load-idle, load-handoff,
    load-bot-redis2 (one section each, so the runs of the targets stand side by side)."""
    name = f"{MARKER}-{args.mode}"
    if args.mode == "bot" and args.rate:
        name += "-open"
    if args.connect_rate:
        name += "-arrivals"
    if args.browser:
        name += "-browser"
    if args.texts:
        name += "-texts"
    if clustered(args):
        name += f"-redis{args.processes}"
    return name


# ----------------------------------------------------------------------------- main


async def run_ours(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    argv = [sys.executable, "-m", "chatserver", "serve"]
    agents: list[tuple[str, str]] = []
    if args.processes <= 1 and not args.cluster:
        database_url = f"sqlite:///{tmp}/load.sqlite3"
        if args.mode == "handoff":
            agents = await create_agents(database_url, args.agents)
        env = chatserver_env(args, database_url)
        target = await start_servers([(argv, env)], "chatserver", tmp)
        try:
            return await measure(args, target, agents)
        finally:
            await stop_target(target)
    prefix = f"load-{uuid.uuid4().hex[:10]}:"
    async with fresh_postgres(args.postgres_url) as database_url:
        try:
            if args.mode == "handoff":
                agents = await create_agents(database_url, args.agents)
            env = {
                **chatserver_env(args, database_url),
                "CHATSERVER_REDIS_URL": args.redis_url,
                "CHATSERVER_REDIS_PREFIX": prefix,
            }
            target = await start_servers([(argv, env)] * args.processes, "chatserver", tmp)
            target.redis_pid = await local_redis_pid(args.redis_url)
            try:
                return await measure(args, target, agents)
            finally:
                await stop_target(target)
        finally:
            await delete_redis_prefix(args.redis_url, prefix)


async def create_agents(database_url: str, count: int) -> list[tuple[str, str]]:
    from bench.handoff import PASSWORD
    from bench.handoff import create_agents as create

    return [(username, PASSWORD) for username, _ in await create(database_url, count)]


async def run_echo(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    argv = [sys.executable, str(ROOT / "bench" / "echo_server.py"), "--port", "{port}"]
    if args.echo == "tuned":
        argv.append("--tuned")
    target = await start_servers([(argv, {})], f"echo-{args.echo}", tmp)
    try:
        return await measure(args, target, None)
    finally:
        await stop_target(target)


async def main_async(args: argparse.Namespace) -> int:
    # --texts read once, for our run and the echo's alike.
    args.messages = bot_texts(args.texts, args.faq_dir or ROOT / "faq") if args.texts else {}
    raise_fd_limit()
    main_task = asyncio.current_task()
    assert main_task is not None
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, main_task.cancel)
    with tempfile.TemporaryDirectory(prefix="chat-load-") as tmp_name:
        tmp = Path(tmp_name)
        ours = await run_ours(args, tmp)
        echo = None
        if args.echo != "off" and args.mode != "handoff":
            echo = await run_echo(args, tmp)
    command = "python bench/load.py " + " ".join(sys.argv[1:])
    body = f"Command: `{command.strip()}`  \n{machine()}.  \n{describe(args)}\n\n" + table(
        ours, echo, args.mode
    )
    print(body)
    for result in (ours, echo):
        if result and (result["errors"] or result.get("agent_errors")):
            print(f"{result['target']} errors:", *result["errors"], sep="\n  ", file=sys.stderr)
            if result.get("agent_errors"):
                print("agent errors:", *result["agent_errors"], sep="\n  ", file=sys.stderr)
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "command": command,
                    "args": {k: str(v) for k, v in vars(args).items()},
                    "machine": {
                        "cpu": cpu_model(),
                        "cores": os.cpu_count(),
                        "python": platform.python_version(),
                    },
                    "ours": ours,
                    "echo": echo,
                },
                indent=2,
            ),
            encoding="utf-8",
        )
    if args.write:
        write_section(args.write, section_name(args), f"### `{section_name(args)}`\n\n" + body)
    complete = ours["connected"] == args.customers and not ours["errors"] and not ours["dropped"]
    if args.mode == "bot":
        complete = complete and ours["replies"] > 0
    if args.mode == "handoff":
        complete = complete and ours["agent_message_ms"]["n"] == ours["connected"]
    return 0 if complete else 1


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mode", choices=("idle", "bot", "handoff"), default="bot")
    parser.add_argument("--customers", type=int, default=50)
    parser.add_argument("--duration", type=float, default=10, help="seconds of load (10)")
    parser.add_argument(
        "--rate", type=float, help="bot: open loop, msgs/s in total; handoff: request_agent/s"
    )
    parser.add_argument("--agents", type=int, default=4, help="handoff: simulated agents (4)")
    parser.add_argument(
        "--agent-hold", type=float, default=0.5, help="handoff: seconds before an agent closes"
    )
    parser.add_argument("--client-procs", type=int, default=1, help="client processes (1)")
    parser.add_argument("--connect-concurrency", type=int, default=50, help="per client process")
    parser.add_argument(
        "--connect-rate",
        type=float,
        help="customers arriving per second in total, open loop (default: as fast as "
        "--connect-concurrency lets them)",
    )
    parser.add_argument(
        "--processes", type=int, default=1, help="server processes (PostgreSQL + Redis if > 1)"
    )
    parser.add_argument(
        "--cluster", action="store_true", help="PostgreSQL + Redis even with one process"
    )
    parser.add_argument(
        "--embeddings",
        choices=("on", "off"),
        default="on",
        help="CHATSERVER_FAQ_EMBEDDINGS (on: the desk as shipped)",
    )
    parser.add_argument("--openblas-threads", type=int, help="OPENBLAS_NUM_THREADS for servers")
    parser.add_argument("--faq-dir", type=Path, help="FAQ directory (default: the desk's faq/)")
    parser.add_argument("--text", default=BOT_TEXT, help="what customers write in bot mode")
    parser.add_argument("--echo", choices=("tuned", "stock", "off"), default="tuned")
    parser.add_argument(
        "--texts",
        type=Path,
        help="bot mode: JSON lines of {text, lang, expected} (e.g. ../shared/data/deskbench/"
        "cases.jsonl): customers spread over the languages, each writing its language's "
        "messages in turn, instead of --text; those that end the bot's part are left out",
    )
    parser.add_argument(
        "--browser",
        action="store_true",
        help="customers connect as Chromium does: its handshake headers, and permessage-deflate "
        "offered (which the server declines)",
    )
    parser.add_argument(
        "--drain", type=float, default=10, help="seconds to wait for replies after the load"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=1,
        help="seconds before reading RSS (after start-up, connects)",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "CHATSERVER_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
        ),
        help="with --processes > 1: a database whose server may CREATE DATABASE",
    )
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("CHATSERVER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15"),
    )
    parser.add_argument("--json", type=Path, help="write every figure here as JSON")
    parser.add_argument("--write", type=Path, help="markdown file whose load section is replaced")
    return parser.parse_args(argv)


def main() -> int:
    if sys.argv[1:2] == ["_worker"]:
        run_worker()
        return 0
    args = parse_args()
    # Ctrl+C even when started in the background (a shell then ignores SIGINT for us): asyncio
    # turns it into the main task's cancellation, and every finally block stops its processes.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return asyncio.run(main_async(args))
    except (KeyboardInterrupt, asyncio.CancelledError):
        print("interrupted; every server and client process is stopped", file=sys.stderr)
        return 130
    except (RuntimeError, TimeoutError) as exc:
        print(f"load: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
