"""Urgent handoff on deskbench: how many urgent messages reach a person at once, and how
many ordinary ones are sent to the priority line by mistake.

    python bench/urgent.py [--cases ../shared/data/deskbench/cases.jsonl] [--embeddings false]

Runs each message through the product's bot (FAQ matcher and urgent phrases) as the desk
does; a message is urgent when its expected entry has `priority: urgent` in `faq/`.
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from pathlib import Path

from chatserver.bot import Bot
from chatserver.faq_reload import faq_fingerprint, load_matcher
from chatserver.i18n import Catalogs
from chatserver.models import Priority
from chatserver.settings import CHAT_LANGUAGES

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--cases", type=Path, default=ROOT.parent / "shared/data/deskbench/cases.jsonl"
    )
    parser.add_argument("--embeddings", choices=("true", "false"), default="true")
    args = parser.parse_args()
    faq = ROOT / "faq"
    _, matcher = load_matcher(faq, faq_fingerprint(faq), False, args.embeddings == "true")
    bot = Bot(matcher, Catalogs.load(ROOT / "locales", CHAT_LANGUAGES))
    urgent = {e.id for e in matcher.faq.native("en").values() if e.priority is Priority.URGENT}
    handed, total, wrong, others = 0, 0, Counter[str](), 0
    for line in args.cases.read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        reply = bot.reply(case["text"], case["lang"])
        if case["expected"] in urgent:
            total += 1
            handed += reply.urgent_entry is not None
        else:
            others += 1
            if reply.urgent_entry is not None:
                wrong[case["lang"]] += 1
    print(f"urgent messages handed off at once: {handed} / {total}")
    print(
        f"other messages sent to the priority line: {sum(wrong.values())} / {others}", dict(wrong)
    )


if __name__ == "__main__":
    main()
