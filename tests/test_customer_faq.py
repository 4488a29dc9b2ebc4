"""FAQ answers over the wire: every chat language, English fallback, picking a suggestion."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from chatserver.keys import SERVICES
from chatserver.models import CHAT_LANGUAGES
from chatserver.settings import Settings
from tests.conftest import ROOT, FakeClock


def faq_question(language: str, entry_id: str) -> str:
    document = yaml.safe_load((ROOT / "faq" / f"{language}.yaml").read_text(encoding="utf-8"))
    (entry,) = [e for e in document["entries"] if e["id"] == entry_id]
    return str(entry["variants"][0])


@pytest.mark.parametrize("language", CHAT_LANGUAGES)
async def test_the_desk_faq_answers_in_every_chat_language(server, connect, language):
    customer = await connect(server, headers={"Accept-Language": language})
    await customer.call("start", {"languages": [language]})
    question = faq_question(language, "withdrawal-how-to")
    await customer.call("message", {"text": question, "client_id": f"{language}-1"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["language"] == language, (question, reply)
    assert reply["meta"]["kind"] == "answer"
    assert reply["meta"]["faq_id"] == "withdrawal-how-to"
    assert "fallback_from" not in reply["meta"]


SMALL_FAQ = {
    "en": """language: en
entries:
  - id: install-mt5
    category: technical
    priority: low
    question: How do I install MT5?
    variants: [download MetaTrader 5, MT5 installation, install the MT5 platform]
    answer: Download MT5 from the client portal and run the installer.
  - id: reset-password
    category: technical
    priority: medium
    question: How do I reset my MT5 password?
    variants: [I forgot my MT5 password, reset trading password, new MT5 password]
    answer: Use Reset password in the client portal.
""",
    "ja": """language: ja
entries:
  - id: install-mt5
    category: technical
    priority: low
    question: MT5のインストール方法は？
    variants: [MetaTrader 5をダウンロードしたい, MT5を入れたい, MT5のインストール]
    answer: クライアントポータルからMT5をダウンロードしてください。
""",
}


async def test_a_missing_translation_falls_back_to_english_and_says_so(
    start_server, settings, connect, tmp_path
):
    for language, text in SMALL_FAQ.items():
        (tmp_path / f"{language}.yaml").write_text(text, encoding="utf-8")
    server = await start_server(
        Settings.defaults(**{**_fields(settings), "faq_dir": tmp_path}), clock=FakeClock()
    )
    customer = await connect(server)
    await customer.call("start", {"language": "ja"})
    await customer.call("message", {"text": "I forgot my MT5 password"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["meta"]["faq_id"] == "reset-password"
    assert reply["meta"]["fallback_from"] == "en"
    assert "Use Reset password in the client portal." in reply["text"]
    assert "英語" in reply["text"]  # the note, in Japanese, that this answer is in English


def _fields(settings: Settings) -> dict[str, object]:
    return {name: getattr(settings, name) for name in settings.__slots__}


AMBIGUOUS = [("ja", "パスワード"), ("en", "account"), ("en", "password"), ("en", "money")]


async def _suggestions(customer) -> dict:
    for language, text in AMBIGUOUS:
        await customer.call("start", {"language": language})
        before = len(customer.pushed("message"))
        await customer.call("message", {"text": text})
        reply = (await customer.wait_pushed("message", before + 1))[-1]
        if reply["meta"]["kind"] == "suggest":
            return reply
    pytest.fail(f"none of {AMBIGUOUS} gave suggestions")


async def test_picking_a_suggestion_answers_it_and_records_the_pick(server, connect):
    customer = await connect(server)
    offer = await _suggestions(customer)
    picked = offer["meta"]["suggestions"][1]
    pushed_before = len(customer.pushed("message"))
    ack = await customer.call(
        "choose_suggestion", {"faq_id": picked["faq_id"], "client_id": "pick-1"}
    )
    assert ack["ok"] is True
    assert ack["message"]["author"] == "customer"
    assert ack["message"]["text"] == picked["question"]
    assert ack["message"]["meta"]["chose"] == picked["faq_id"]
    answer = (await customer.wait_pushed("message", pushed_before + 1))[-1]
    assert answer["meta"]["kind"] == "answer"
    assert answer["meta"]["faq_id"] == picked["faq_id"]

    (choice,) = await server.app[SERVICES].store.faq_choices()
    assert choice.chosen == picked["faq_id"]
    assert choice.suggested == tuple(s["faq_id"] for s in offer["meta"]["suggestions"])
    assert choice.query  # the customer's own words that led there

    again = await customer.call(
        "choose_suggestion", {"faq_id": picked["faq_id"], "client_id": "pick-1"}
    )
    assert again["duplicate"] is True
    assert len(await server.app[SERVICES].store.faq_choices()) == 1


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"faq_id": "support-hours"}, "unknown_suggestion"),
        ({}, "invalid_payload"),
        ({"faq_id": ""}, "invalid_payload"),
    ],
)
async def test_picking_something_never_suggested_is_refused(server, connect, payload, code):
    customer = await connect(server)
    await customer.call("start", {})
    ack = await customer.call("choose_suggestion", payload)
    assert ack["error"]["code"] == code


def test_the_server_refuses_to_start_on_an_invalid_faq(tmp_path):
    (tmp_path / "en.yaml").write_text(
        "language: en\nentries:\n  - id: x\n    category: technical\n    priority: soon\n"
        "    question: Q?\n    answer: A.\n",
        encoding="utf-8",
    )
    env = {
        **os.environ,
        "CHATSERVER_FAQ_DIR": str(tmp_path),
        "CHATSERVER_PORT": "0",
        "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    result = subprocess.run(
        [sys.executable, "-m", "chatserver"],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env=env,
        check=False,
    )
    assert result.returncode == 2
    assert f"{Path(tmp_path) / 'en.yaml'}: entry 'x' (#1): field 'priority'" in result.stderr
    assert "Traceback" not in result.stderr


async def test_an_edited_faq_is_swapped_in_without_dropping_the_chat(
    start_server, settings, connect, tmp_path
):
    (tmp_path / "en.yaml").write_text(SMALL_FAQ["en"], encoding="utf-8")
    fields = {**_fields(settings), "faq_dir": tmp_path, "faq_reload_interval": 1}
    server = await start_server(Settings.defaults(**fields), clock=FakeClock())
    customer = await connect(server)
    await customer.call("start", {"language": "en"})
    await customer.call("message", {"text": "How do I install MT5?"})
    (before,) = await customer.wait_pushed("message")
    assert before["text"] == "Download MT5 from the client portal and run the installer."

    edited = SMALL_FAQ["en"].replace("and run the installer.", "and open it.")
    (tmp_path / "en.yaml").write_text(edited, encoding="utf-8")
    # The watcher polls every second; wait for it rather than calling it. The rebuild runs in
    # a child process (seconds with embeddings): ask once a second, under the message rate
    # limit (1/s burst 10), or the asking is refused before the new answer comes.
    for attempt in range(1, 40):
        await customer.call("message", {"text": "How do I install MT5?"})
        reply = (await customer.wait_pushed("message", 1 + attempt))[-1]
        if reply["text"] == "Download MT5 from the client portal and open it.":
            break
        await asyncio.sleep(1.0)
    else:
        pytest.fail("the edited FAQ was never served")
    assert customer.client.connected


async def test_an_invalid_edit_keeps_the_previous_faq_serving(
    start_server, settings, connect, tmp_path
):
    (tmp_path / "en.yaml").write_text(SMALL_FAQ["en"], encoding="utf-8")
    fields = {**_fields(settings), "faq_dir": tmp_path, "faq_reload_interval": 0}
    server = await start_server(Settings.defaults(**fields), clock=FakeClock())
    (tmp_path / "en.yaml").write_text(
        SMALL_FAQ["en"].replace("priority: low", "priority: whenever"), encoding="utf-8"
    )
    assert await server.app[SERVICES].faq_reloader.reload() is False
    customer = await connect(server)
    await customer.call("start", {"language": "en"})
    await customer.call("message", {"text": "How do I install MT5?"})
    (reply,) = await customer.wait_pushed("message")
    assert reply["meta"]["faq_id"] == "install-mt5"


def test_a_rebuilt_faq_lets_the_previous_matcher_go(tmp_path):
    """An edited FAQ replaces its directory's matcher in the build cache: the previous one
    (hundreds of MiB with embeddings) is not kept alive by the cache after a reload."""
    import gc
    import weakref

    from chatserver.faq_reload import faq_fingerprint, load_matcher
    from tests.cluster import FAQ

    directory = tmp_path / "faq"
    directory.mkdir()
    faq_file = directory / "en.yaml"
    faq_file.write_text(FAQ, encoding="utf-8")
    _, first = load_matcher(directory, faq_fingerprint(directory), False, False)
    assert load_matcher(directory, faq_fingerprint(directory), False, False)[1] is first
    gone = weakref.ref(first)
    del first
    faq_file.write_text(FAQ.replace("reset password", "new password"), encoding="utf-8")
    os.utime(faq_file, ns=(1, 1))  # a new fingerprint even within the clock's resolution
    _, second = load_matcher(directory, faq_fingerprint(directory), False, False)
    gc.collect()
    assert gone() is None
    assert second.match("I need a new password", "en").entry is not None
