"""Use cases of agent accounts: add, log in, check a console token, log out.

Password hashing and checking are deliberately slow (Argon2id), so they run in a worker
thread; repeated failures for one username are slowed down further by refusing attempts
for a while (`LOCKOUT_*`), which bounds online guessing without locking anyone out for long.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from chatserver.agents import (
    AgentAccount,
    Session,
    hash_session_token,
    new_account,
    new_session,
    verify_password,
)
from chatserver.clock import Clock, IdFactory
from chatserver.models import DomainError
from chatserver.store import Store

# Five wrong passwords within five minutes pause that username's log-ins for the rest of
# the five minutes: slow enough to stop guessing, short enough not to lock a real agent out.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=5)
# A hash to check when the username does not exist, so both cases take the same time.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$7kzxQoO2s7r93tHnhqLcTw$ynmJZGc9AMiEzhkeR/Rq3GcAOuFhXf3mWqM3Dv1I3eY"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"


@dataclass(frozen=True, slots=True)
class LoggedIn:
    token: str
    session: Session
    account: AgentAccount


class Accounts:
    def __init__(
        self,
        *,
        store: Store,
        clock: Clock,
        new_id: IdFactory,
        languages: Sequence[str],
        session_lifetime: timedelta,
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.languages = tuple(languages)
        self.session_lifetime = session_lifetime
        self._failures: dict[str, deque[datetime]] = {}

    async def add(
        self,
        *,
        username: str,
        name: str,
        languages: Sequence[str],
        teams: Sequence[str],
        capacity: int,
        role: str,
        password: str,
    ) -> AgentAccount:
        """Create an account (raises InvalidAccount naming the field, or DuplicateAgent)."""
        account = await asyncio.to_thread(
            lambda: new_account(
                account_id=self.new_id(),
                username=username,
                name=name,
                languages=languages,
                teams=teams,
                capacity=capacity,
                role=role,
                password=password,
                supported=self.languages,
                now=self.clock.now(),
            )
        )
        await self.store.create_agent(account)
        return account

    async def login(self, username: str, password: str) -> LoggedIn:
        now = self.clock.now()
        recent = self._recent_failures(username, now)
        if len(recent) >= LOCKOUT_FAILURES:
            raise TooManyAttempts("too many failed log-ins; wait a few minutes")
        account = await self.store.agent_by_username(username)
        stored_hash = account.password_hash if account is not None else _DUMMY_HASH
        valid = await asyncio.to_thread(verify_password, stored_hash, password)
        if account is None or account.disabled or not valid:
            recent.append(now)
            raise InvalidCredentials("wrong username or password")
        self._failures.pop(username, None)
        token, session = new_session(account.id, now, self.session_lifetime)
        await self.store.create_session(session)
        return LoggedIn(token, session, account)

    async def authenticate(self, token: str) -> AgentAccount | None:
        """The account behind a console token, if the token is valid now."""
        session = await self.store.session(hash_session_token(token))
        if session is None or not session.valid_at(self.clock.now()):
            return None
        account = await self.store.agent(session.agent_id)
        if account is None or account.disabled:
            return None
        return account

    async def logout(self, token: str) -> None:
        await self.store.delete_session(hash_session_token(token))

    def _recent_failures(self, username: str, now: datetime) -> deque[datetime]:
        failures = self._failures.setdefault(username, deque(maxlen=LOCKOUT_FAILURES))
        while failures and now - failures[0] > LOCKOUT_WINDOW:
            failures.popleft()
        return failures
