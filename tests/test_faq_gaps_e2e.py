"""The FAQ gaps report end to end: customers chat with the real server (declines, answers
marked not helpful, suggestions picked), then the CLI and the supervisors' HTTP report read
the same SQLite file."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from typing import Any

import aiohttp
import pytest

from chatserver.keys import SERVICES
from tests.conftest import ROOT, Customer, FakeClock
from tests.test_faq_feedback_e2e import answered_with_related, ask, suggestions

PASSWORD = "a long password"
OFF_TOPIC_EN = ("what is the capital of France", "What is the capital of France?")
OFF_TOPIC_JA = "今日の天気はどうですか"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def desk(start_server, settings, clock):
    # Rate limits as they are: each customer below sends a few events, well within them.
    return await start_server(settings, clock=clock)


async def chat(desk: Any, connect: Any, language: str) -> Customer:
    customer: Customer = await connect(desk)
    started = await customer.call("start", {"language": language})
    assert started["ok"] is True
    return customer


async def token_of(desk: Any, username: str, role: str) -> str:
    accounts = desk.app[SERVICES].accounts
    await accounts.add(
        username=username,
        name=username.title(),
        languages=["en"],
        teams=["technical"],
        capacity=2,
        role=role,
        password=PASSWORD,
    )
    return (await accounts.login(username, PASSWORD)).token


@pytest.fixture
async def chatted(desk, connect) -> dict[str, Any]:
    """Customers in English and Japanese have left every kind of signal: what they said."""
    # Declined twice in English (two spellings of one question) and once in Japanese.
    for n, text in enumerate(OFF_TOPIC_EN):
        customer = await chat(desk, connect, "en")
        _, reply = await ask(customer, text, f"off-{n}")
        assert reply["meta"]["kind"] == "decline"
    customer = await chat(desk, connect, "ja")
    _, reply = await ask(customer, OFF_TOPIC_JA, "off-ja")
    assert reply["meta"]["kind"] == "decline"

    # Answered in English, and the customer said it did not help.
    customer = await chat(desk, connect, "en")
    question, _ = answered_with_related(desk)
    _, answer = await ask(customer, question, "q")
    assert (await customer.call("faq_feedback", {"seq": answer["seq"], "helpful": False}))["ok"]
    # Answered in English and helpful: not a gap.
    customer = await chat(desk, connect, "en")
    _, helpful = await ask(customer, question, "q")
    assert (await customer.call("faq_feedback", {"seq": helpful["seq"], "helpful": True}))["ok"]

    # A Japanese customer picked one of the suggestions.
    customer = await chat(desk, connect, "ja")
    _, offer = await suggestions(customer, "ja")
    picked = offer["meta"]["suggestions"][1]["faq_id"]
    assert (await customer.call("choose_suggestion", {"faq_id": picked}))["ok"] is True
    (choice,) = await desk.app[SERVICES].store.faq_choices()
    return {
        "answered": (question, answer["meta"]["faq_id"]),
        "picked": (choice.query, picked),
    }


def expected_lines(chatted: dict[str, Any]) -> dict[str, list[tuple[str, str, int, str | None]]]:
    """(kind, question, count, entry) per language, most frequent first."""
    question, answered = chatted["answered"]
    words, picked = chatted["picked"]
    return {
        "en": [
            ("declined", OFF_TOPIC_EN[1], 2, None),
            ("not_helpful", question, 1, answered),
        ],
        "ja": [("declined", OFF_TOPIC_JA, 1, None), ("picked", words, 1, picked)],
    }


def lines_of(report: dict[str, Any]) -> dict[str, list[tuple[str, str, int, str | None]]]:
    return {
        language["language"]: [
            (gap["kind"], gap["question"], gap["count"], gap["faq_id"]) for gap in language["gaps"]
        ]
        for language in report["languages"]
    }


def same_ignoring_nearest(
    got: dict[str, list[tuple[str, str, int, str | None]]],
    wanted: dict[str, list[tuple[str, str, int, str | None]]],
) -> None:
    """A decline's entry is only the nearest one (whatever the matcher found): not compared.
    Lines of equal count may come in either order (the most recent first)."""

    def strip(lines: list[tuple[str, str, int, str | None]]) -> list[tuple[Any, ...]]:
        return [(k, q, n, None if k == "declined" else e) for k, q, n, e in lines]

    assert list(got) == list(wanted)
    for language, lines in wanted.items():
        assert sorted(strip(got[language])) == sorted(strip(lines)), language
        counts = [n for _, _, n, _ in got[language]]
        assert counts == sorted(counts, reverse=True), language


async def test_the_supervisors_report_lists_the_gaps_per_language_most_frequent_first(
    desk, chatted, clock
):
    token = await token_of(desk, "sam", "supervisor")
    headers = {"Authorization": f"Bearer {token}"}
    clock.advance(60)  # a minute after the chats: the default period ends now
    url = desk.make_url("/api/v1/reports/faq-gaps")
    async with aiohttp.ClientSession(headers=headers) as session:
        async with session.get(url) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("application/json")
            report = await response.json()
        wanted = expected_lines(chatted)
        same_ignoring_nearest(lines_of(report), wanted)
        assert report["languages"][0]["language"] == "en"
        assert report["languages"][0]["gaps"][0]["count"] == 2
        assert report["languages"][0]["total"] == 3
        declined_en = report["languages"][0]["gaps"][0]
        assert declined_en["kind"] == "declined"
        # The entries involved in a decline: those the two spellings came nearest to.
        matcher = desk.app[SERVICES].bot.matcher
        nearest = Counter(
            entry.id
            for text in OFF_TOPIC_EN
            if (entry := matcher.match(text, "en").entry) is not None
        )
        assert {e["faq_id"]: e["count"] for e in declined_en["entries"]} == dict(nearest)

        async with session.get(url, params={"language": "ja-JP"}) as response:
            japanese = await response.json()
        assert [lang["language"] for lang in japanese["languages"]] == ["ja"]
        async with session.get(url, params={"kind": "picked"}) as response:
            picked = await response.json()
        assert lines_of(picked) == {"ja": [wanted["ja"][1]]}
        # A period before anyone chatted has nothing.
        before = {"until": (clock.now() - timedelta(days=1)).isoformat()}
        async with session.get(url, params=before) as response:
            assert (await response.json())["languages"] == []

        async with session.get(url, params={"format": "csv"}) as response:
            assert response.status == 200
            assert response.headers["Content-Type"].startswith("text/csv")
            assert "faq-gaps.csv" in response.headers["Content-Disposition"]
            rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert [(r["language"], r["kind"], r["count"]) for r in rows][:1] == [
            ("en", "declined", "2")
        ]
        assert len(rows) == 4
        async with session.get(url, params={"format": "markdown"}) as response:
            assert response.headers["Content-Type"].startswith("text/markdown")
            markdown = await response.text()
        assert "## en" in markdown
        assert f"| 2 | declined | {OFF_TOPIC_EN[1]} |" in markdown

        async with session.get(url, params={"language": "xx"}) as response:
            assert response.status == 400
            assert (await response.json())["error"]["code"] == "invalid_query"


async def test_an_agent_or_nobody_cannot_read_the_report(desk):
    agent = await token_of(desk, "emma", "agent")
    url = desk.make_url("/api/v1/reports/faq-gaps")
    async with aiohttp.ClientSession() as session:
        for headers in ({"Authorization": f"Bearer {agent}"}, {}):
            async with session.get(url, headers=headers) as response:
                assert response.status == 403
                assert (await response.json())["error"]["code"] == "forbidden"


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatserver", "faq", "gaps", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


async def test_the_cli_lists_the_same_gaps_from_the_database(desk, chatted, clock, db_path):
    period = (
        "--since",
        (clock.now() - timedelta(hours=1)).isoformat(),
        "--until",
        (clock.now() + timedelta(hours=1)).isoformat(),
        "--database-url",
        f"sqlite:///{db_path}",
    )
    result = run_cli(*period, "--json")
    assert result.returncode == 0, result.stderr
    same_ignoring_nearest(lines_of(json.loads(result.stdout)), expected_lines(chatted))

    result = run_cli(*period, "--lang", "en", "--format", "csv", "--limit", "1")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["language"], r["kind"], r["count"], r["question"]) for r in rows] == [
        ("en", "declined", "2", OFF_TOPIC_EN[1])
    ]

    markdown = run_cli(*period)  # Markdown by default, for people
    assert markdown.returncode == 0, markdown.stderr
    assert markdown.stdout.startswith("# FAQ gaps, ")
    assert "## ja" in markdown.stdout

    wrong = run_cli(*period, "--lang", "klingon")
    assert wrong.returncode == 2
    assert "'language'" in wrong.stderr
    assert "Traceback" not in wrong.stderr
