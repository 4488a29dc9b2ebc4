"""How often a settled conversation's message skips the statistical language model.

    python bench/switch_bound.py [--write docs/benchmarks.md]

A conversation whose language was settled from the customer's text moves only on a clear
switch (confidence >= `SWITCH_MIN_CONFIDENCE`). `LanguageDetector.could_move_from` rules a
switch out from the message's words alone (`EnsembleModel.max_log_odds`, a bound on what
lingua could add), and then the desk does not run lingua. This counts, on real messages
in each Latin-script conversation language (the others are decided by script, which is
cheap anyway), how many messages of at least `SWITCH_MIN_EVIDENCE` letters skip the model,
and checks the bound on every (message, conversation language) pair of the data: a skip
where the full detection would have switched counts as a violation (there must be none).
The counts do not depend on the machine; the µs do (the cheap check and the full
detection per call, one thread).

Data: `../shared/data/langid/cases.jsonl` (sentences and word pairs from the Leipzig
corpora, via lingua's test data) and `../shared/data/deskbench/cases.jsonl` (customer
messages to this desk).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_section  # noqa: E402
from chatserver.language import CHAT_LANGUAGES, LanguageDetector, text_evidence  # noqa: E402
from chatserver.language.conversation import (  # noqa: E402
    SWITCH_MIN_CONFIDENCE,
    SWITCH_MIN_EVIDENCE,
)

DATA = ROOT.parent / "shared" / "data"
LATIN = ("en", "es", "pt", "fr", "de", "it", "id", "ms", "vi")
MARKER = "switch-bound"


def cases() -> list[tuple[str, str, str]]:
    """(set, language, text) of the messages long enough to switch a conversation."""
    out = []
    for line in (DATA / "langid" / "cases.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        if case["kind"] != "word":
            out.append((f"langid {case['kind']}", case["lang"], case["text"]))
    for line in (DATA / "deskbench" / "cases.jsonl").read_text(encoding="utf-8").splitlines():
        case = json.loads(line)
        out.append(("deskbench", case["lang"], case["text"]))
    return [c for c in out if text_evidence(c[2]) >= SWITCH_MIN_EVIDENCE]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", type=Path, help="replace this section of the file")
    args = parser.parse_args()
    detector = LanguageDetector(CHAT_LANGUAGES)
    messages = cases()
    own: Counter[tuple[str, str]] = Counter()
    skipped: Counter[tuple[str, str]] = Counter()
    pairs = violations = 0
    cheap = full = 0.0
    for kind, label, text in messages:
        for language in LATIN:
            started = time.perf_counter()
            may = detector.could_move_from(text, language, SWITCH_MIN_CONFIDENCE, hints=[language])
            checked = time.perf_counter()
            detection = detector.detect(text, hints=[language])
            done = time.perf_counter()
            pairs += 1
            cheap += checked - started
            full += done - checked
            switched = (
                detection.language != language and detection.confidence >= SWITCH_MIN_CONFIDENCE
            )
            violations += not may and switched
            if label == language:
                own[(kind, language)] += 1
                skipped[(kind, language)] += not may
    kinds = sorted({kind for kind, _ in own})
    lines = [
        "## The language model skipped on settled conversations",
        "",
        "Command: `python bench/switch_bound.py --write docs/benchmarks.md`  ",
        f"{machine()}.  ",
        "Messages of at least 15 letters in a conversation already settled in their own "
        "language: the share that skips lingua (`LanguageDetector.could_move_from`).",
        "",
        "| language | " + " | ".join(kinds) + " |",
        "|---|" + "---|" * len(kinds),
    ]
    for language in LATIN:
        cells = []
        for kind in kinds:
            n = own[(kind, language)]
            cells.append(f"{100 * skipped[(kind, language)] / n:.0f}% of {n}" if n else "-")
        lines.append(f"| {language} | " + " | ".join(cells) + " |")
    total = sum(own.values())
    lines += [
        "",
        f"All: {100 * sum(skipped.values()) / total:.1f}% of {total} messages skip the model. "
        f"Violations (skipped, yet the full detection would have switched the conversation), "
        f"over all {pairs} pairs of a message and a Latin-script conversation language: "
        f"**{violations}**. Per call: the check {cheap / pairs * 1e6:.0f} µs, the full "
        f"detection {full / pairs * 1e6:.0f} µs (means).",
    ]
    body = "\n".join(lines)
    print(body)
    if args.write:
        write_section(args.write, MARKER, body)


if __name__ == "__main__":
    main()
