"""The cache directory: start-up's computed files, loaded instead of computed again."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import pytest

from chatserver import cache
from chatserver.language.statistical import WordFrequencyModel


@pytest.fixture
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", str(tmp_path))
    return tmp_path


def table_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("wordfreq-table-*.pickle"))


def test_the_word_table_is_built_once_then_loaded(cache_dir: Path) -> None:
    built = WordFrequencyModel(["en", "fr"])
    (stored,) = table_files(cache_dir)
    written = stored.stat().st_mtime_ns
    loaded = WordFrequencyModel(["en", "fr"])
    assert stored.stat().st_mtime_ns == written  # read, not written again
    assert loaded._table == built._table
    text = ["je", "voudrais", "the", "password"]
    assert loaded.log_likelihoods(text) == built.log_likelihoods(text)
    # Other languages are another table, never the first one cut to fit.
    WordFrequencyModel(["en", "de"])
    assert len(table_files(cache_dir)) == 2


@pytest.mark.parametrize(
    "damage",
    [
        b"not a pickle",
        pickle.dumps({"the": (1.0,)}),  # a table of another width
        pickle.dumps(os.system),  # names a global: refused, never called
    ],
    ids=["garbage", "wrong-shape", "global"],
)
def test_a_damaged_word_table_is_built_again(cache_dir: Path, damage: bytes) -> None:
    expected = WordFrequencyModel(["en", "fr"])._table
    (stored,) = table_files(cache_dir)
    stored.write_bytes(damage)
    assert WordFrequencyModel(["en", "fr"])._table == expected
    assert stored.read_bytes() != damage  # and rewritten


def test_plain_data_only(cache_dir: Path) -> None:
    cache.store_plain("x.pickle", {"a": (1.5, 2.0), "b": [None, "c"]})
    assert cache.load_plain("x.pickle") == {"a": (1.5, 2.0), "b": [None, "c"]}
    (cache_dir / "y.pickle").write_bytes(pickle.dumps(Path("/etc")))
    assert cache.load_plain("y.pickle") is None
    assert cache.load_plain("absent.pickle") is None


def test_off_keeps_nothing(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("CHATSERVER_CACHE_DIR", "off")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert cache.cache_directory() is None
    cache.store_plain("x.pickle", {"a": 1})
    assert cache.load_plain("x.pickle") is None
    assert list(tmp_path.iterdir()) == []
