"""The FAQ loader: every problem names the file, the entry and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from chatserver.faq.loader import FaqError, coverage, load_faq
from chatserver.models import Priority, Team

GOOD_EN = """\
language: en
entries:
  - id: reset_password
    category: account
    priority: high
    question: How do I reset my password?
    variants: [I forgot my password, password reset link not working]
    answer: Use "Forgot password" on the login page.
  - id: mt5_download
    category: technical
    priority: low
    question: Where can I download MT5?
    answer: From the Platforms page.
"""

GOOD_JA = """\
language: ja
entries:
  - id: reset_password
    category: account
    priority: high
    question: パスワードを忘れました
    answer: ログイン画面の「パスワードを忘れた」をご利用ください。
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def problems_of(directory: Path) -> str:
    with pytest.raises(FaqError) as caught:
        load_faq(directory)
    return str(caught.value)


def test_loads_languages_entries_and_variants(tmp_path: Path) -> None:
    write(tmp_path, "en.yaml", GOOD_EN)
    write(tmp_path, "ja.yaml", GOOD_JA)
    result = load_faq(tmp_path)
    faq = result.faq
    assert result.problems == ()
    assert faq.languages == ("en", "ja")
    entry = faq.native("en")["reset_password"]
    assert entry.category is Team.ACCOUNT
    assert entry.priority is Priority.HIGH
    assert entry.phrasings == (
        "How do I reset my password?",
        "I forgot my password",
        "password reset link not working",
    )
    assert coverage(faq)["ja"]["missing"] == ["mt5_download"]


def test_missing_translation_falls_back_to_english_marked(tmp_path: Path) -> None:
    write(tmp_path, "en.yaml", GOOD_EN)
    write(tmp_path, "ja.yaml", GOOD_JA)
    faq = load_faq(tmp_path).faq
    native = faq.entry("reset_password", "ja")
    fallback = faq.entry("mt5_download", "ja")
    assert native is not None
    assert not native.is_fallback
    assert fallback is not None
    assert fallback.is_fallback
    assert fallback.language == "ja"
    assert fallback.fallback_from == "en"
    assert faq.entry("nonexistent", "ja") is None


def test_unknown_field_names_file_entry_and_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "en.yaml",
        GOOD_EN.replace("    priority: low\n", "    priority: low\n    colour: red\n"),
    )
    message = problems_of(tmp_path)
    assert f"{path}: entry 'mt5_download' (#2): field 'colour': unknown field" in message


def test_bad_priority_names_the_allowed_values(tmp_path: Path) -> None:
    path = write(tmp_path, "en.yaml", GOOD_EN.replace("priority: high", "priority: critical"))
    message = problems_of(tmp_path)
    assert f"{path}: entry 'reset_password' (#1): field 'priority': must be one of" in message
    assert "urgent" in message


def test_duplicate_id(tmp_path: Path) -> None:
    path = write(tmp_path, "en.yaml", GOOD_EN.replace("id: mt5_download", "id: reset_password"))
    message = problems_of(tmp_path)
    assert f"{path}: entry 'reset_password' (#2): field 'id': duplicate id" in message


def test_bad_yaml_names_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "en.yaml", "language: en\nentries: [\n  - id: x\n")
    message = problems_of(tmp_path)
    assert f"{path}: is not valid YAML" in message


def test_language_must_match_file_name(tmp_path: Path) -> None:
    path = write(tmp_path, "ja.yaml", GOOD_EN)
    message = problems_of(tmp_path)
    assert f"{path}: field 'language': 'en' does not match the file name" in message


def test_missing_required_field_and_bad_variant(tmp_path: Path) -> None:
    text = GOOD_EN.replace("    answer: From the Platforms page.\n", "").replace(
        "variants: [I forgot my password, password reset link not working]", "variants: [ok, '']"
    )
    path = write(tmp_path, "en.yaml", text)
    message = problems_of(tmp_path)
    assert f"{path}: entry 'mt5_download' (#2): field 'answer': is required" in message
    assert (
        f"{path}: entry 'reset_password' (#1): field 'variants[2]': must be non-empty text"
        in message
    )


def test_skip_invalid_keeps_good_entries_and_reports_the_rest(tmp_path: Path) -> None:
    write(tmp_path, "en.yaml", GOOD_EN.replace("priority: low", "priority: someday"))
    result = load_faq(tmp_path, skip_invalid=True)
    assert set(result.faq.native("en")) == {"reset_password"}
    assert len(result.problems) == 1
    problem = result.problems[0]
    assert (problem.entry, problem.field) == ("'mt5_download' (#2)", "priority")


def test_file_level_problems_are_fatal_even_when_skipping(tmp_path: Path) -> None:
    write(tmp_path, "en.yaml", "just a string\n")
    with pytest.raises(FaqError, match="must be a mapping"):
        load_faq(tmp_path, skip_invalid=True)


def test_empty_or_missing_directory(tmp_path: Path) -> None:
    with pytest.raises(FaqError, match=r"contains no \.yaml files"):
        load_faq(tmp_path)
    with pytest.raises(FaqError, match="is not a directory"):
        load_faq(tmp_path / "absent")
