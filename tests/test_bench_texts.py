"""bench/load.py --texts: which messages the load harness's customers write. It must leave
out every message that ends the bot's part of a chat, or a closed loop waits for a reply
that never comes and the run measures less than it says."""

from __future__ import annotations

import json
from pathlib import Path

from bench.load import bot_texts

ROOT = Path(__file__).resolve().parent.parent


def test_messages_that_end_the_bots_part_are_left_out_and_the_rest_kept_by_language(
    tmp_path: Path,
) -> None:
    cases = [
        {"text": "how do I install MT5 on my macbook", "lang": "en", "expected": "mt5-install"},
        {"text": "someone got into my account", "lang": "en", "expected": "account-hacked"},
        {"text": "I got a margin call, what is the spread", "lang": "en", "expected": "spreads"},
        {"text": "can I talk to a person", "lang": "en", "expected": "support-hours"},
        {"text": "should I buy tesla shares now", "lang": "en", "expected": None},
        {"text": "MacBookにMT5を入れたい", "lang": "ja", "expected": "mt5-install"},
        {"text": "what are your spreads on gold", "lang": "en", "expected": "spreads"},
    ]
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(c) for c in cases) + "\n\n", encoding="utf-8")

    assert bot_texts(path, ROOT / "faq") == {
        "en": ["how do I install MT5 on my macbook", "what are your spreads on gold"],
        "ja": ["MacBookにMT5を入れたい"],
    }
