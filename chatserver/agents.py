"""Agent accounts: who may log in to the console, what they speak, and how much they take.

Passwords are hashed with Argon2id (memory-hard: 64 MiB, 3 passes), and checking one costs
~0.1 s of CPU, so callers run `verify_password` in a worker thread. Console sessions are
opaque random tokens, stored hashed (`clock.hash_token`, as customers' are) with an
expiry, so they can be revoked and are checked the same way on every node.

Roles (`Role`) are the domain's (models.py): the routing core names them without importing
password hashing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from chatserver.clock import hash_token, new_token
from chatserver.models import Role, Team

USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
MIN_PASSWORD_CHARS = 8
MAX_CAPACITY = 20  # concurrent chats; beyond this nobody answers within 30 seconds

_hasher = PasswordHasher()  # argon2-cffi's defaults follow RFC 9106's second recommendation


class InvalidAccount(ValueError):
    """A new account's field is wrong; the message names the field."""


@dataclass(frozen=True, slots=True)
class AgentAccount:
    id: str
    username: str
    name: str
    languages: tuple[str, ...]  # most fluent first
    teams: tuple[Team, ...]
    capacity: int
    role: Role
    password_hash: str
    created_at: datetime
    disabled: bool = False
    # Supervisors are offered chats only when they switch this on; agents always are.
    takes_chats: bool = False


@dataclass(frozen=True, slots=True)
class Session:
    token_hash: str
    agent_id: str
    created_at: datetime
    expires_at: datetime

    def valid_at(self, now: datetime) -> bool:
        return now < self.expires_at


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise InvalidAccount(f"password: at least {MIN_PASSWORD_CHARS} characters")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def new_session(agent_id: str, now: datetime, lifetime: timedelta) -> tuple[str, Session]:
    """A fresh token (returned once, to the client) and the session stored for it."""
    token = new_token()
    return token, Session(hash_token(token), agent_id, now, now + lifetime)


def new_account(
    *,
    account_id: str,
    username: str,
    name: str,
    languages: Sequence[str],
    teams: Iterable[str],
    capacity: int,
    role: str,
    password: str,
    supported: Sequence[str],
    now: datetime,
    takes_chats: bool = False,
) -> AgentAccount:
    """Validate and build an account; raises InvalidAccount naming the bad field."""
    if not USERNAME.match(username):
        raise InvalidAccount("username: 2-40 lowercase letters, digits, '.', '_' or '-'")
    if not name.strip():
        raise InvalidAccount("name: must not be empty")
    spoken = tuple(dict.fromkeys(languages))
    unknown = [lang for lang in spoken if lang not in supported]
    if not spoken or unknown:
        raise InvalidAccount(
            f"languages: {', '.join(unknown) or 'none given'}; choose from {', '.join(supported)}"
        )
    try:
        team_set = tuple(dict.fromkeys(Team(t) for t in teams))
        parsed_role = Role(role)
    except ValueError as exc:
        raise InvalidAccount(
            f"teams/role: {exc}; teams are {', '.join(Team)}, roles {', '.join(Role)}"
        ) from None
    if not team_set:
        raise InvalidAccount(f"teams: at least one of {', '.join(Team)}")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise InvalidAccount(f"capacity: 1-{MAX_CAPACITY} concurrent chats")
    return AgentAccount(
        id=account_id,
        username=username,
        name=name.strip(),
        languages=spoken,
        teams=team_set,
        capacity=capacity,
        role=parsed_role,
        password_hash=hash_password(password),
        created_at=now,
        takes_chats=takes_chats,
    )
