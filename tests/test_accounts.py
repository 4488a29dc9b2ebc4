"""Agent accounts: Argon2id hashes, log-in over HTTP, sessions that expire, lockout."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
import threading

import aiohttp
import argon2
import pytest

from chatserver.agents import InvalidAccount, hash_password, new_account, verify_password
from chatserver.keys import SERVICES
from chatserver.limits import Rate, parse_networks
from chatserver.models import Team
from chatserver.store import DuplicateAgent
from tests.conftest import ROOT, FakeClock

LANGUAGES = ("en", "ja", "th")


def test_passwords_are_hashed_with_argon2id_and_verified():
    hashed = hash_password("correct horse")
    assert hashed.startswith("$argon2id$")
    assert "correct horse" not in hashed
    assert verify_password(hashed, "correct horse")
    assert not verify_password(hashed, "wrong horse")
    assert not verify_password("not a hash", "correct horse")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("username", "Bad Name", "username:"),
        ("languages", ["xx"], "languages: xx"),
        ("teams", ["sales"], "teams/role:"),
        ("capacity", 0, "capacity:"),
        ("password", "short", "password:"),
        ("name", " ", "name:"),
    ],
)
def test_invalid_accounts_name_the_field(field, value, message):
    fields = {
        "account_id": "a1",
        "username": "aiko",
        "name": "Aiko",
        "languages": ["ja"],
        "teams": ["technical"],
        "capacity": 2,
        "role": "agent",
        "password": "long enough",
        "supported": LANGUAGES,
        "now": FakeClock().now(),
    }
    fields[field] = value
    with pytest.raises(InvalidAccount) as raised:
        new_account(**fields)
    assert str(raised.value).startswith(message)


async def _add(server, username="aiko", password="correct horse", **overrides):
    fields = {
        "username": username,
        "name": "Aiko Tanaka",
        "languages": ["ja", "en"],
        "teams": ["technical", "account"],
        "capacity": 3,
        "role": "agent",
        "password": password,
    } | overrides
    return await server.app[SERVICES].accounts.add(**fields)


async def _login(server, username, password, address=None):
    """POST /api/v1/login; `address` is sent as X-Forwarded-For (a trusted proxy's word)."""
    headers = {"X-Forwarded-For": address} if address else {}
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.make_url("/api/v1/login"),
            json={"username": username, "password": password},
            headers=headers,
        ) as response,
    ):
        body = await response.json()
        if response.status == 429:
            assert int(response.headers["Retry-After"]) >= 1
            assert body["error"]["retry_after"] > 0
        return response.status, body


def behind_proxy(settings, **changes):
    """The test client stands for a reverse proxy, so X-Forwarded-For names the client."""
    return dataclasses.replace(
        settings, trusted_proxies=parse_networks("127.0.0.1, ::1"), **changes
    )


async def test_login_returns_an_expiring_token_that_authenticates(server):
    account = await _add(server)
    assert account.teams == (Team.TECHNICAL, Team.ACCOUNT)
    status, body = await _login(server, "aiko", "correct horse")
    assert status == 200
    assert body["agent"]["username"] == "aiko"
    assert "password_hash" not in body["agent"]
    accounts = server.app[SERVICES].accounts
    assert (await accounts.authenticate(body["token"])).id == account.id
    assert await accounts.authenticate("not-a-token") is None


async def test_sessions_expire(start_server, settings):
    clock = FakeClock()
    server = await start_server(settings, clock=clock)
    await _add(server)
    _, body = await _login(server, "aiko", "correct horse")
    accounts = server.app[SERVICES].accounts
    clock.advance(settings.session_hours * 3600 - 1)
    assert await accounts.authenticate(body["token"]) is not None
    clock.advance(2)
    assert await accounts.authenticate(body["token"]) is None


async def test_wrong_passwords_and_unknown_users_get_the_same_401(server):
    await _add(server)
    wrong = await _login(server, "aiko", "wrong password")
    unknown = await _login(server, "nobody", "wrong password")
    assert wrong[0] == unknown[0] == 401
    assert wrong[1]["error"]["code"] == unknown[1]["error"]["code"] == "invalid_credentials"


async def test_repeated_failures_pause_log_ins_for_that_username(start_server, settings):
    clock = FakeClock()
    server = await start_server(settings, clock=clock)
    await _add(server)
    for _ in range(5):
        assert (await _login(server, "aiko", "guess"))[0] == 401
    status, body = await _login(server, "aiko", "correct horse")
    assert status == 429
    assert body["error"]["code"] == "too_many_attempts"
    clock.advance(301)
    assert (await _login(server, "aiko", "correct horse"))[0] == 200


async def test_concurrent_wrong_passwords_are_counted_before_the_slow_check(server):
    await _add(server)
    results = await asyncio.gather(*(_login(server, "aiko", f"guess {n}") for n in range(20)))
    statuses = sorted(status for status, _ in results)
    assert statuses.count(401) <= 5
    assert statuses.count(429) == 20 - statuses.count(401)


async def test_a_lockout_from_one_address_does_not_lock_the_agent_out_elsewhere(
    start_server, settings
):
    server = await start_server(behind_proxy(settings), clock=FakeClock())
    await _add(server)
    attacker, desk = "203.0.113.66", "198.51.100.10"
    for _ in range(5):
        assert (await _login(server, "aiko", "guess", attacker))[0] == 401
    status, body = await _login(server, "aiko", "correct horse", attacker)
    assert (status, body["error"]["code"]) == (429, "too_many_attempts")
    assert body["error"]["retry_after"] == pytest.approx(300, abs=1)
    assert (await _login(server, "aiko", "correct horse", desk))[0] == 200


async def test_failures_from_one_address_are_limited_whatever_the_username(start_server, settings):
    clock = FakeClock()
    server = await start_server(
        behind_proxy(settings, rate_logins_per_address=Rate(1 / 60, 3)),
        clock=clock,
        monotonic=clock.monotonic,
    )
    await _add(server)
    sprayer = "203.0.113.66"
    for username in ("aiko", "mei", "emma"):
        assert (await _login(server, username, "password1", sprayer))[0] == 401
    status, body = await _login(server, "carlos", "password1", sprayer)
    assert (status, body["error"]["code"]) == (429, "rate_limited")
    assert body["error"]["retry_after"] == pytest.approx(60, abs=0.01)
    # Good log-ins do not spend the address's allowance: an office logs in every morning.
    for _ in range(5):
        assert (await _login(server, "aiko", "correct horse", "198.51.100.10"))[0] == 200
    clock.advance(60)
    assert (await _login(server, "aiko", "correct horse", sprayer))[0] == 200


async def test_password_checks_run_one_at_a_time_and_a_flood_is_refused(
    start_server, settings, monkeypatch
):
    server = await start_server(
        behind_proxy(settings, login_concurrency=1, rate_logins_per_address=None),
        clock=FakeClock(),
    )
    await _add(server)
    lock = threading.Lock()
    running = most = calls = 0
    real_verify = argon2.PasswordHasher.verify

    def counted_verify(self, hash, password):  # the real Argon2id check, counted
        nonlocal running, most, calls
        with lock:
            running += 1
            calls += 1
            most = max(most, running)
        try:
            return real_verify(self, hash, password)
        finally:
            with lock:
                running -= 1

    monkeypatch.setattr(argon2.PasswordHasher, "verify", counted_verify)
    results = await asyncio.gather(
        *(_login(server, f"user{n}", "password1", f"203.0.113.{n}") for n in range(16))
    )
    statuses = [status for status, _ in results]
    assert most == 1
    assert calls == statuses.count(401) >= 1
    refusals = [body["error"]["code"] for status, body in results if status == 429]
    assert refusals
    assert set(refusals) == {"rate_limited"}
    # Once the flood is over, log-ins work again.
    assert (await _login(server, "aiko", "correct horse", "198.51.100.10"))[0] == 200


async def test_logout_ends_the_session(server):
    await _add(server)
    _, body = await _login(server, "aiko", "correct horse")
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.make_url("/api/v1/logout"),
            headers={"Authorization": f"Bearer {body['token']}"},
        ) as response,
    ):
        assert response.status == 200
    assert await server.app[SERVICES].accounts.authenticate(body["token"]) is None


@pytest.mark.parametrize("payload", ["not json", json.dumps([1]), json.dumps({"username": 1})])
async def test_malformed_login_bodies_get_400(server, payload):
    async with (
        aiohttp.ClientSession() as session,
        session.post(server.make_url("/api/v1/login"), data=payload) as response,
    ):
        assert response.status == 400
        assert (await response.json())["error"]["code"] == "invalid_payload"


async def test_a_username_is_unique(server):
    await _add(server)
    with pytest.raises(DuplicateAgent):
        await _add(server, name="Another Aiko")


def test_agents_add_and_list_from_the_command_line(tmp_path):
    env = {**os.environ, "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'a.db'}"}

    def run(*args, stdin=""):
        return subprocess.run(
            [sys.executable, "-m", "chatserver", "agents", *args],
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            cwd=ROOT,
            env=env,
            check=False,
        )

    added = run(
        "add", "somchai", "--name", "Somchai", "--languages", "th,en", "--password-stdin",
        stdin="a good password\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    duplicate = run("add", "somchai", "--name", "S", "--languages", "th", "--password-stdin",
                    stdin="a good password\n")  # fmt: skip
    assert duplicate.returncode == 2
    assert "taken" in duplicate.stderr
    sam = run(
        "add", "sam", "--name", "Sam", "--languages", "en", "--role", "supervisor",
        "--takes-chats", "--password-stdin", stdin="a good password\n",
    )  # fmt: skip
    assert sam.returncode == 0, sam.stderr
    listed = json.loads(run("list", "--json").stdout)
    assert [(a["username"], a["languages"], a["take_chats"]) for a in listed] == [
        ("sam", ["en"], True),
        ("somchai", ["th", "en"], True),
    ]
