"""chatserver/faq/build.py and mapped.py: the FAQ trained in a child process, its build kept on
disk by content and mapped. Every process here is real (the child is `python -m
chatserver.faq.build`); the cache is the session's `embedding_cache` or a test's own."""

from __future__ import annotations

import json
import logging
import mmap
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from chatserver.faq import FaqError, FaqMatcher, MatchOutcome, MatchResult, load_faq
from chatserver.faq.build import KEPT_BUILDS, built_matcher
from chatserver.faq.model import Faq
from tests.conftest import SHARED_DATA

ROOT = Path(__file__).resolve().parent.parent
DESK_FAQ = ROOT / "faq"
DESKBENCH = SHARED_DATA / "deskbench" / "cases.jsonl"

SMALL_FAQ = """\
language: en
entries:
  - id: password-reset
    category: account
    priority: medium
    question: How do I reset my password?
    variants: [I forgot my password, reset password, new password please]
    answer: Use "Forgot password" on the log-in page.
  - id: deposit-card
    category: trading
    priority: low
    question: How do I deposit by card?
    variants: [card deposit, top up with my visa card, add funds by credit card]
    answer: Open Deposit and choose Card.
  - id: mt5-install
    category: technical
    priority: low
    question: How do I install MT5?
    variants: [download metatrader 5, where do I get mt5 for mac]
    answer: Download MT5 from the client portal.
"""
SMALL_QUESTIONS = [
    "I forgot my password",
    "how can i reset my pasword",
    "deposit with a card",
    "mt5 on my macbook",
    "what is the weather tomorrow",
    "",
]


def outcome(result: MatchResult) -> tuple[Any, ...]:
    """Everything a reply is made of, floats exactly."""
    return (
        result.outcome,
        result.language,
        result.score,
        result.margin,
        result.searched_language,
        None if result.entry is None else (result.entry.id, result.entry.language),
        tuple(e.id for e in result.suggestions),
        tuple(e.id for e in result.related),
    )


def small_faq(tmp_path: Path, text: str = SMALL_FAQ) -> Path:
    directory = tmp_path / "faq"
    directory.mkdir(exist_ok=True)
    (directory / "en.yaml").write_text(text, encoding="utf-8")
    return directory


def builds(cache: Path) -> list[Path]:
    return sorted(p for p in (cache / "faq-builds").iterdir() if not p.name.startswith("."))


def is_mapped(array: np.ndarray) -> bool:
    base: Any = array
    while base is not None and not isinstance(base, mmap.mmap):
        base = getattr(base, "base", None) if isinstance(base, np.ndarray) else base.base
    return isinstance(base, mmap.mmap)


def desk_questions(faq: Faq) -> list[tuple[str, str]]:
    """deskbench's customer messages, and per language every tenth phrasing as asked, changed
    (no last word, shouting, a typo), and a few off-topic questions."""
    questions: list[tuple[str, str]] = []
    if DESKBENCH.exists():
        for line in DESKBENCH.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            questions.append((case["text"], case["lang"]))
    for language in faq.languages:
        phrasings = [p for e in faq.native(language).values() for p in e.phrasings]
        for phrasing in phrasings[::10]:
            questions.append((phrasing, language))
            questions.append((phrasing.rsplit(" ", 1)[0], language))
            questions.append((phrasing.upper() + "!!", language))
            questions.append((phrasing[:-2] + phrasing[-1:], language))
        for text in ("what's the weather tomorrow", "recommend a restaurant", "hello"):
            questions.append((text, language))
    questions.append(("how do I withdraw", "sv"))  # no Swedish FAQ: English is searched
    return questions


@pytest.fixture(scope="module")
def desk_pair(embedding_cache: Path) -> tuple[FaqMatcher, FaqMatcher]:
    """The desk's FAQ with embeddings: mapped from a child's build, and built here."""
    _, mapped = built_matcher(DESK_FAQ, skip_invalid=False, embeddings=True)
    return mapped, FaqMatcher(load_faq(DESK_FAQ).faq, encoder=True)


def test_a_mapped_build_answers_exactly_as_one_built_in_process(desk_pair):
    mapped, fresh = desk_pair
    questions = desk_questions(fresh.faq)
    assert len(questions) > 2500
    assert len({language for _, language in questions}) >= 15
    different = []
    outcomes = set()
    for text, language in questions:
        ours, theirs = mapped.match(text, language), fresh.match(text, language)
        outcomes.add(ours.outcome)
        if outcome(ours) != outcome(theirs):
            different.append((text, language, outcome(ours), outcome(theirs)))
    assert different == []
    assert outcomes == set(MatchOutcome)


def test_the_weights_are_mapped_read_only_and_the_encoder_is_this_processs(desk_pair):
    mapped, fresh = desk_pair
    for index in mapped.indexes.values():
        classifier = index.classifier
        assert is_mapped(classifier.weights)
        assert not classifier.weights.flags.writeable
        assert classifier.embedded is not None
        assert is_mapped(classifier.embedded.matrix)
    assert mapped._encoder is not None
    assert mapped._encoder is fresh._encoder  # the process's shared default encoder


def test_a_second_load_maps_the_build_without_a_child_process(tmp_path, monkeypatch, caplog):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(cache))
    directory = small_faq(tmp_path)
    caplog.set_level(logging.INFO, logger="chatserver.faq.build")
    _, first = built_matcher(directory, skip_invalid=False, embeddings=False)
    assert "made in a child process" in caplog.text
    (entry,) = builds(cache)
    made = entry.stat().st_ino, (entry / "manifest.json").stat().st_mtime_ns
    caplog.clear()
    _, second = built_matcher(directory, skip_invalid=False, embeddings=False)
    assert "made in a child process" not in caplog.text
    assert "mapped from" in caplog.text
    assert (entry.stat().st_ino, (entry / "manifest.json").stat().st_mtime_ns) == made
    fresh = FaqMatcher(load_faq(directory).faq, encoder=None)
    for text in SMALL_QUESTIONS:
        assert outcome(second.match(text, "en")) == outcome(fresh.match(text, "en"))
        assert outcome(first.match(text, "en")) == outcome(fresh.match(text, "en"))
    assert second.match("I forgot my password", "en").entry.id == "password-reset"


def damage_truncate(entry: Path) -> None:
    weights = entry / "0" / "weights.npy"
    with weights.open("r+b") as stream:
        stream.truncate(weights.stat().st_size // 2)


def damage_garble(entry: Path) -> None:
    index = entry / "0" / "index.json"
    data = bytearray(index.read_bytes())
    data[len(data) // 2] ^= 0x5A
    index.write_bytes(bytes(data))


def damage_half_written(entry: Path) -> None:
    (entry / "manifest.json").unlink()


def damage_flipped_weight(entry: Path) -> None:
    weights = entry / "0" / "weights.npy"
    data = bytearray(weights.read_bytes())
    data[-3] ^= 0x01  # a weight slightly off: only the checksum sees it
    weights.write_bytes(bytes(data))


def damage_garbage_manifest(entry: Path) -> None:
    (entry / "manifest.json").write_bytes(b"\x00{not json")


@pytest.mark.parametrize(
    "damage",
    [
        damage_truncate,
        damage_garble,
        damage_half_written,
        damage_flipped_weight,
        damage_garbage_manifest,
    ],
)
def test_a_damaged_build_is_built_again(tmp_path, monkeypatch, caplog, damage):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(cache))
    directory = small_faq(tmp_path)
    _, first = built_matcher(directory, skip_invalid=False, embeddings=False)
    (entry,) = builds(cache)
    expected = [outcome(first.match(text, "en")) for text in SMALL_QUESTIONS]
    damage(entry)
    caplog.set_level(logging.INFO, logger="chatserver.faq.build")
    _, again = built_matcher(directory, skip_invalid=False, embeddings=False)
    assert "is damaged, building it again" in caplog.text
    assert "made in a child process" in caplog.text
    assert [outcome(again.match(text, "en")) for text in SMALL_QUESTIONS] == expected
    assert builds(cache) == [entry]
    caplog.clear()
    built_matcher(directory, skip_invalid=False, embeddings=False)  # and it is sound now
    assert "mapped from" in caplog.text


def test_an_edited_faq_gets_a_new_build_and_old_builds_are_pruned(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(cache))
    directory = small_faq(tmp_path)
    _, first = built_matcher(directory, skip_invalid=False, embeddings=False)
    (old,) = builds(cache)
    for n in range(KEPT_BUILDS + 2):  # other FAQs' builds, used long ago
        shutil.copytree(old, cache / "faq-builds" / f"{n:064x}")
        os.utime(cache / "faq-builds" / f"{n:064x}", (1_000_000 + n, 1_000_000 + n))
    os.utime(old, (2_000_000, 2_000_000))
    stale = cache / "faq-builds" / ".tmp-deadbeef-abandoned"
    stale.mkdir()
    os.utime(stale, (1_000_000, 1_000_000))
    small_faq(tmp_path, SMALL_FAQ.replace("Open Deposit and choose Card.", "Choose Card."))
    _, second = built_matcher(directory, skip_invalid=False, embeddings=False)
    assert second.match("card deposit", "en").entry.answer.strip() == "Choose Card."
    assert first.match("card deposit", "en").entry.answer.strip().startswith("Open Deposit")
    kept = builds(cache)
    assert len(kept) == KEPT_BUILDS
    assert old in kept  # the most recently used others stay
    assert f"{KEPT_BUILDS + 1:064x}" in {p.name for p in kept}
    assert not stale.exists()
    (new,) = set(kept) - {old} - {cache / "faq-builds" / f"{n:064x}" for n in range(9)}
    assert new.name != old.name


def test_an_invalid_faq_names_file_entry_and_field_before_any_build(tmp_path, monkeypatch):
    cache = tmp_path / "cache"
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(cache))
    directory = small_faq(tmp_path, SMALL_FAQ.replace("priority: low", "priority: whenever", 1))
    with pytest.raises(FaqError) as built:
        built_matcher(directory, skip_invalid=False, embeddings=False)
    with pytest.raises(FaqError) as loaded:
        load_faq(directory)
    assert str(built.value) == str(loaded.value)
    assert f"{directory / 'en.yaml'}: entry 'deposit-card' (#2): field 'priority'" in str(
        built.value
    )
    assert not (cache / "faq-builds").exists()
    skipped, matcher = built_matcher(directory, skip_invalid=True, embeddings=False)
    assert [p.entry for p in skipped.problems] == ["'deposit-card' (#2)"]
    assert matcher.match("I forgot my password", "en").entry.id == "password-reset"


def test_with_the_cache_off_the_build_is_mapped_from_a_temporary_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", "off")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    directory = small_faq(tmp_path)
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    _, matcher = built_matcher(directory, skip_invalid=False, embeddings=False)
    assert list((tmp_path / "tmp").iterdir()) == []  # deleted, yet still mapped
    assert is_mapped(next(iter(matcher.indexes.values())).classifier.weights)
    fresh = FaqMatcher(load_faq(directory).faq, encoder=None)
    for text in SMALL_QUESTIONS:
        assert outcome(matcher.match(text, "en")) == outcome(fresh.match(text, "en"))


def test_a_cache_directory_that_cannot_be_written_still_serves(tmp_path, monkeypatch, caplog):
    not_a_directory = tmp_path / "cache"
    not_a_directory.write_text("a file where the cache should be", encoding="utf-8")
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(not_a_directory))
    caplog.set_level(logging.INFO, logger="chatserver.faq.build")
    _, matcher = built_matcher(small_faq(tmp_path), skip_invalid=False, embeddings=False)
    assert "cannot be kept" in caplog.text
    assert "damaged" not in caplog.text
    assert matcher.match("I forgot my password", "en").entry.id == "password-reset"


RACE = textwrap.dedent(
    """\
    import sys
    from pathlib import Path
    from chatserver.faq.build import built_matcher
    _, matcher = built_matcher(Path(sys.argv[1]), skip_invalid=False, embeddings=False)
    print(matcher.match("I forgot my password", "en").entry.id)
    """
)


def test_two_processes_starting_at_once_on_a_cold_cache_both_serve(tmp_path):
    cache = tmp_path / "cache"
    directory = small_faq(tmp_path)
    env = {**os.environ, "CHATSERVER_CACHE_DIR": str(cache)}
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACE, str(directory)],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [racer.communicate(timeout=120) for racer in racers]
    assert [r.returncode for r in racers] == [0, 0], results
    assert [out.strip() for out, _ in results] == ["password-reset"] * 2
    (entry,) = builds(cache)
    assert [p.name for p in (cache / "faq-builds").iterdir()] == [entry.name]  # no leftovers
