"""Agent accounts: Argon2id hashes, log-in over HTTP, sessions that expire, lockout."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import aiohttp
import pytest

from chatserver.agents import InvalidAccount, hash_password, new_account, verify_password
from chatserver.keys import SERVICES
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


async def _login(server, username, password):
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            server.make_url("/api/v1/login"), json={"username": username, "password": password}
        ) as response,
    ):
        return response.status, await response.json()


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
    listed = json.loads(run("list", "--json").stdout)
    assert [(a["username"], a["languages"]) for a in listed] == [("somchai", ["th", "en"])]
