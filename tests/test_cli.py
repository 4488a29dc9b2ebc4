"""The command line as a user runs it: `python -m chatserver ...` in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "chatserver", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
        env={**os.environ, **(env or {})},
    )


def test_lang_detect_prints_language_confidence_and_runner_up():
    result = run("lang", "detect", "MT5 パスワード", "--hint", "en")
    assert result.returncode == 0, result.stderr
    detection = json.loads(result.stdout)
    assert detection["language"] == "ja"
    assert detection["source"] == "script"
    assert 0 < detection["confidence"] <= 1
    assert "runner_up" in detection


def test_lang_detect_falls_back_to_the_hint_for_emoji():
    detection = json.loads(run("lang", "detect", "👍👍", "--hint", "th-TH").stdout)
    assert detection["language"] == "th"
    assert detection["source"] == "hint"


def test_lang_eval_reports_accuracy_per_kind_in_json(tmp_path):
    cases = tmp_path / "cases.jsonl"
    lines = [
        {
            "text": "Where is my withdrawal? It has been three days.",
            "lang": "en",
            "kind": "sentence",
        },
        {"text": "出金がまだ届いていません", "lang": "ja", "kind": "sentence"},
        {"text": "ถอนเงิน", "lang": "th", "kind": "word"},
        {"text": "Guten Morgen", "lang": "de", "kind": "word-pair"},
    ]
    cases.write_text("\n".join(json.dumps(c, ensure_ascii=False) for c in lines), encoding="utf-8")
    result = run("lang", "eval", "--cases", str(cases), "--json")
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["cases"] == 4
    assert report["by_kind"]["sentence"]["strict"] == 1.0
    assert {"p50", "p99"} <= set(report["latency_us"]["all"])


def test_lang_eval_names_a_missing_file(tmp_path):
    result = run("lang", "eval", "--cases", str(tmp_path / "nope.jsonl"))
    assert result.returncode == 2
    assert "nope.jsonl" in result.stderr


def test_faq_check_reports_coverage_of_the_desk_faq():
    result = run("faq", "check", "--json")
    assert result.returncode == 0, result.stderr
    languages = json.loads(result.stdout)["languages"]
    assert len(languages) == 15
    assert all(row["entries"] >= 40 and not row["missing"] for row in languages.values())


def test_faq_check_calibration_reports_held_out_variants_per_language(tmp_path):
    entries = "".join(
        f"  - id: {name}\n    category: account\n    priority: low\n"
        f"    question: {question}\n    variants:\n"
        + "".join(f"      - {v}\n" for v in variants)
        + "    answer: See the client portal.\n"
        for name, question, variants in [
            ("deposit", "How do I deposit?", ["add money", "fund my account", "top up pls"]),
            ("withdraw", "How do I withdraw?", ["take money out", "cash out", "payout pls"]),
        ]
    )
    (tmp_path / "en.yaml").write_text(
        "language: en\noff_topic:\n  - tell me a joke\n  - best pizza in town\n"
        f"entries:\n{entries}",
        encoding="utf-8",
    )
    result = run("faq", "check", "--faq-dir", str(tmp_path), "--calibration", "--json")
    assert result.returncode == 0, result.stderr
    english = json.loads(result.stdout)["languages"]["en"]
    assert english["off_topic"] == 2
    calibration = english["calibration"]
    assert calibration["held_out"] == 8  # 4 folds: each phrasing is held out once
    assert 0.0 <= calibration["held_out_top1"] <= 1.0
    assert calibration["answer_margin"] > 0


def test_faq_check_names_file_entry_and_field(tmp_path):
    (tmp_path / "en.yaml").write_text(
        "language: en\nentries:\n"
        "  - id: ok-entry\n    category: account\n    priority: low\n"
        "    question: Fine?\n    answer: Yes.\n"
        "  - id: bad-entry\n    category: sales\n    priority: low\n"
        "    question: Broken?\n    answer: Yes.\n",
        encoding="utf-8",
    )
    result = run("faq", "check", "--faq-dir", str(tmp_path))
    assert result.returncode == 1
    assert "en.yaml: entry 'bad-entry' (#2): field 'category': must be one of" in result.stderr


def test_faq_match_detects_the_language_and_answers():
    result = run("faq", "match", "MT5のパスワードを忘れました")
    assert result.returncode == 0, result.stderr
    match = json.loads(result.stdout)
    assert match["language"] == "ja"
    assert match["outcome"] == "answer"
    assert match["id"] == "mt-password-reset"
    assert match["fallback"] is False


def test_faq_match_refuses_a_bad_embeddings_setting():
    wrong = run("faq", "match", "hello", env={"CHATSERVER_FAQ_EMBEDDINGS": "maybe"})
    assert wrong.returncode != 0
    assert "CHATSERVER_FAQ_EMBEDDINGS" in wrong.stderr
    assert "Traceback" not in wrong.stderr


def test_faq_eval_reports_top1_and_declines(tmp_path):
    cases = tmp_path / "cases.jsonl"
    lines = [
        {"text": "I forgot my MT5 password", "lang": "en", "expected": "mt-password-reset"},
        {"text": "How do I withdraw money?", "lang": "en", "expected": "withdrawal-how-to"},
        {"text": "Who won the football match yesterday?", "lang": "en", "expected": None},
    ]
    cases.write_text("\n".join(json.dumps(c) for c in lines), encoding="utf-8")
    # As a server with CHATSERVER_FAQ_EMBEDDINGS=false would answer (TF-IDF and SVM alone).
    result = run(
        "faq", "eval", "--cases", str(cases), "--json", env={"CHATSERVER_FAQ_EMBEDDINGS": "false"}
    )
    assert result.returncode == 0, result.stderr
    overall = json.loads(result.stdout)["overall"]
    assert overall["in_scope"] == 2
    assert overall["top1"] == 1.0
    assert overall["oos_declined"] == 1.0
