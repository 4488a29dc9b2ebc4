"""Use cases of agent accounts: add, log in, check a console token, log out, revoke.

Password hashing and checking are deliberately slow (Argon2id, 64 MiB), so they run in a
worker thread, and only a few at a time (`hashing`): a flood of log-ins waits for a slot
or is refused, and never takes the memory and CPU that chat needs.

Guessing is bounded twice, and neither bound lets an attacker lock a real agent out:
- repeated failures for one username *from one address* pause that pair (`LOCKOUT_*`);
- failures from one address, whatever the username, spend its token bucket (`attempts`).
An attempt counts from the moment it starts, before the slow hash, so concurrent attempts
see each other; a success (or an attempt that never got to check) gives its count back.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import NamedTuple

from chatserver.agents import (
    AgentAccount,
    Session,
    new_account,
    new_session,
    verify_password,
)
from chatserver.clock import Clock, IdFactory, hash_token
from chatserver.limits import Buckets, Busy, RateLimited, Slots
from chatserver.models import DomainError
from chatserver.store import Store

# Five wrong passwords within five minutes for one username from one address pause that
# pair's log-ins for the rest of the five minutes: slow enough to stop guessing, and the
# agent at their own desk (another address) is not affected.
LOCKOUT_FAILURES = 5
LOCKOUT_WINDOW = timedelta(minutes=5)
# Log-ins waiting for a hashing slot, per slot; more are refused at once (429).
WAITING_PER_SLOT = 4
# What a log-in refused for want of a slot is told to wait: a few checks' time.
BUSY_RETRY_SECONDS = 1.0
# A hash to check when the username does not exist, so both cases take the same time.
_DUMMY_HASH = "$argon2id$v=19$m=65536,t=3,p=4$7kzxQoO2s7r93tHnhqLcTw$ynmJZGc9AMiEzhkeR/Rq3GcAOuFhXf3mWqM3Dv1I3eY"


class InvalidCredentials(DomainError):
    code = "invalid_credentials"


class TooManyAttempts(DomainError):
    code = "too_many_attempts"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class Authenticated(NamedTuple):
    account: AgentAccount
    session: Session


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
        attempts: Buckets | None = None,
        hashing: Slots | None = None,
    ) -> None:
        self.store = store
        self.clock = clock
        self.new_id = new_id
        self.languages = tuple(languages)
        self.session_lifetime = session_lifetime
        self.attempts = attempts  # per client address; None: no limit
        self.hashing = hashing or Slots(2, 2 * WAITING_PER_SLOT)
        self._failures: dict[tuple[str, str], deque[datetime]] = {}
        self._swept = clock.now()

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
        takes_chats: bool = False,
    ) -> AgentAccount:
        """Create an account (raises InvalidAccount naming the field, or DuplicateAgent);
        `takes_chats`: a supervisor offered chats from the start."""
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
                takes_chats=takes_chats,
            )
        )
        await self.store.create_agent(account)
        return account

    async def login(self, username: str, password: str, address: str = "local") -> LoggedIn:
        """A session for the right password; raises InvalidCredentials, TooManyAttempts
        (this username from this address is paused) or RateLimited (this address tried
        too much, or every hashing slot is busy)."""
        now = self.clock.now()
        key = (username, address)
        recent = self._recent_failures(key, now)
        if len(recent) >= LOCKOUT_FAILURES:
            wait = (recent[0] + LOCKOUT_WINDOW - now).total_seconds()
            raise TooManyAttempts("too many failed log-ins; wait a few minutes", wait)
        if self.attempts is not None and (wait := self.attempts.wait(address)) > 0:
            raise RateLimited("too many log-in attempts from this address", wait)
        # Counted before the slow check, so attempts running at the same time count too.
        recent.append(now)
        if self.attempts is not None:
            self.attempts.take(address)
        valid = False
        checked = False
        try:
            async with self.hashing.hold():
                account = await self.store.agent_by_username(username)
                stored_hash = account.password_hash if account is not None else _DUMMY_HASH
                valid = await asyncio.to_thread(verify_password, stored_hash, password)
                checked = True
        except Busy:
            raise RateLimited("too many log-ins at once; try again", BUSY_RETRY_SECONDS) from None
        finally:
            if not checked or valid:
                self._uncount(key, recent, now, address)
        if account is None or account.disabled or not valid:
            raise InvalidCredentials("wrong username or password")
        self._failures.pop(key, None)
        token, session = new_session(account.id, now, self.session_lifetime)
        await self.store.create_session(session)
        return LoggedIn(token, session, account)

    def _uncount(
        self, key: tuple[str, str], recent: deque[datetime], at: datetime, address: str
    ) -> None:
        """The attempt was not a failure: it succeeded, or it never got to check."""
        if at in recent:
            recent.remove(at)
        if not recent:
            self._failures.pop(key, None)
        if self.attempts is not None:
            self.attempts.give_back(address)

    async def authenticate(self, token: str) -> AgentAccount | None:
        """The account behind a console token, if the token is valid now."""
        found = await self.session_of(token)
        return found.account if found is not None else None

    async def session_of(self, token: str) -> Authenticated | None:
        """The account and session behind a console token, if the token is valid now."""
        session = await self.store.session(hash_token(token))
        if session is None or not session.valid_at(self.clock.now()):
            return None
        account = await self.store.agent(session.agent_id)
        if account is None or account.disabled:
            return None
        return Authenticated(account, session)

    async def logout(self, token: str) -> str:
        """End the session; returns its hash (what live sockets know it by)."""
        token_hash = hash_token(token)
        await self.store.delete_session(token_hash)
        return token_hash

    async def revoke(self, agent_id: str) -> int:
        """End every session of an agent; returns how many there were."""
        return await self.store.delete_agent_sessions(agent_id)

    def _recent_failures(self, key: tuple[str, str], now: datetime) -> deque[datetime]:
        if now - self._swept > LOCKOUT_WINDOW:
            # Pairs whose failures all lie outside the window are as good as new.
            self._swept = now
            for stale in [
                k for k, v in self._failures.items() if not v or now - v[-1] > LOCKOUT_WINDOW
            ]:
                del self._failures[stale]
        failures = self._failures.setdefault(key, deque(maxlen=LOCKOUT_FAILURES))
        while failures and now - failures[0] > LOCKOUT_WINDOW:
            failures.popleft()
        return failures
