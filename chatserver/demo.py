"""Demo agent accounts for `make run`, so the console can be tried at once.

Created only when asked (CHATSERVER_DEMO_AGENTS=true) and only into a desk that has no
agents yet; every password is DEMO_PASSWORD, which is why this is never on by default.
"""

from __future__ import annotations

import logging

from chatserver.accounts import Accounts
from chatserver.store.base import DuplicateAgent

log = logging.getLogger(__name__)

DEMO_PASSWORD = "demo-password"
ALL_TEAMS = ("technical", "account", "trading")
# Languages chosen so that the fallback is visible: nobody speaks Thai, Vietnamese or Korean.
DEMO_AGENTS: tuple[tuple[str, str, tuple[str, ...], str, int], ...] = (
    ("aiko", "Aiko Tanaka", ("ja", "en"), "agent", 3),
    ("mei", "Mei Lin", ("zh-Hans", "zh-Hant", "en"), "agent", 3),
    ("emma", "Emma Clarke", ("en", "de", "fr"), "agent", 4),
    ("carlos", "Carlos Souza", ("pt", "es", "en"), "agent", 3),
    ("nadia", "Nadia Haddad", ("ar", "fr", "en"), "agent", 3),
    ("rizal", "Rizal Hakim", ("ms", "id", "en"), "agent", 3),
    ("sam", "Sam Okafor", ("en",), "supervisor", 2),
)


async def add_demo_agents(accounts: Accounts) -> int:
    if await accounts.store.agents():
        return 0
    for username, name, languages, role, capacity in DEMO_AGENTS:
        try:
            await accounts.add(
                username=username,
                name=name,
                languages=[lang for lang in languages if lang in accounts.languages],
                teams=ALL_TEAMS,
                capacity=capacity,
                role=role,
                password=DEMO_PASSWORD,
            )
        except DuplicateAgent:
            return 0  # another process of this desk, started at the same time, adds them
    log.warning(
        "demo agents created (%s), password %r: for trying the console only",
        ", ".join(username for username, *_ in DEMO_AGENTS),
        DEMO_PASSWORD,
    )
    return len(DEMO_AGENTS)
