"""A built matcher's language indexes as files, and read back memory-mapped.

`write_indexes` lays a build out in a directory; `read_indexes` checks it and maps it:

    manifest.json       the build's key, its languages, and every other file's size and sha256
    <n>/index.json      language n's small data: entry ids, the vocabulary in column order,
                        thresholds, exact phrasings, off-topic column, blend, unseen n-grams' idf
    <n>/<name>.npy      its arrays: `weights` (the SVM's, features x entries, most of a
                        build), the centroids by row (`centroid_indptr`, `centroid_indices`,
                        `centroid_data`), `idf`, `intercept`; with embeddings `embedded`
                        (centroids then phrasings), `starts` and `present`

The arrays come back as read-only `np.load(..., mmap_mode="r")` views: file-backed pages that
every process mapping the same build shares, of which only the rows a question touches
become resident. `manifest.json` is written last, and everything is checked against it
before anything is used, so a missing, truncated or altered file raises `BuildCorrupt`
(the caller builds again) rather than answering from garbage.

Files are never changed once written: a build is written whole into a new directory, and a
replaced or pruned one is renamed away and unlinked, so a process still mapping it keeps
valid pages (truncating a mapped file in place would crash that process with SIGBUS).

Nothing read here is executed: JSON and .npy with `allow_pickle=False`. Whoever can write a
build directory can change the answers, as whoever can edit faq/ can; see `build` for where
builds live. This module knows the index types and files; not where builds are kept.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from types import MappingProxyType
from typing import Any

import numpy as np

from chatserver.faq.calibration import Thresholds
from chatserver.faq.classifier import EmbeddedEntries, EntryClassifier, SparseRows
from chatserver.faq.matcher import LanguageIndex
from chatserver.faq.vectorizer import TfidfSpace

__all__ = ["BuildCorrupt", "read_indexes", "write_indexes"]

MANIFEST = "manifest.json"
FORMAT = 2  # bump when the layout changes (the build key also covers this module's source)
_CHUNK = 1 << 20


class BuildCorrupt(Exception):
    """A build directory that is incomplete or does not match its manifest."""


def write_indexes(indexes: Mapping[str, LanguageIndex], directory: Path, key: str) -> None:
    """Write `indexes` into `directory` (created; it must not exist), manifest last."""
    directory.mkdir(parents=True)
    files: dict[str, list[Any]] = {}
    languages = []
    for n, (language, index) in enumerate(indexes.items()):
        folder = directory / str(n)
        folder.mkdir()
        classifier = index.classifier
        vocabulary = classifier.space.vocabulary
        columns = sorted(vocabulary, key=vocabulary.__getitem__)
        if [vocabulary[gram] for gram in columns] != list(range(len(columns))):
            raise ValueError(f"{language}: vocabulary columns are not 0..{len(columns) - 1}")
        centroids = classifier.centroids
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "weights": classifier.weights,
            "centroid_indptr": centroids.indptr,
            "centroid_indices": centroids.indices,
            "centroid_data": centroids.data,
            "idf": classifier.space.idf,
            "intercept": classifier.intercept,
        }
        embedded = classifier.embedded
        if embedded is not None:
            arrays |= {
                "embedded": embedded.matrix,
                "starts": embedded.starts,
                "present": embedded.present,
            }
        small = {
            "language": index.language,
            "entry_ids": list(classifier.entry_ids),
            "vocabulary": columns,
            "unknown_idf": _scalar(classifier.space.unknown_idf),
            "blend": _scalar(classifier.blend),
            "embedded_entries": None if embedded is None else embedded.entries,
            "thresholds": {k: _scalar(v) for k, v in asdict(index.thresholds).items()},
            "exact": dict(index.exact),
            "off_topic": index.off_topic,
            "exact_rows": dict(index.exact_rows),
        }
        with (folder / "index.json").open("w", encoding="utf-8") as stream:
            json.dump(small, stream, ensure_ascii=False)
        for name, array in arrays.items():
            np.save(folder / f"{name}.npy", np.ascontiguousarray(array), allow_pickle=False)
        for path in sorted(folder.iterdir()):
            files[f"{n}/{path.name}"] = [path.stat().st_size, _sha256(path)]
        languages.append(language)
    manifest = {"format": FORMAT, "key": key, "languages": languages, "files": files}
    with (directory / MANIFEST).open("w", encoding="utf-8") as stream:
        json.dump(manifest, stream)


def read_indexes(directory: Path, key: str) -> dict[str, LanguageIndex]:
    """The indexes of the build in `directory`, arrays mapped.

    FileNotFoundError when there is no build there; BuildCorrupt when there is one that is
    incomplete, damaged, or of another key or format.
    """
    try:
        manifest = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except (FileNotFoundError, NotADirectoryError):
        if directory.is_dir():
            raise BuildCorrupt(f"{directory}: no {MANIFEST}") from None
        raise FileNotFoundError(directory) from None
    except (OSError, ValueError) as exc:
        raise BuildCorrupt(f"{directory / MANIFEST}: {exc}") from exc
    try:
        if manifest["format"] != FORMAT or manifest["key"] != key:
            raise BuildCorrupt(f"{directory}: format or key differs from the expected")
        for name, (size, digest) in manifest["files"].items():
            path = directory / name
            if path.stat().st_size != size or _sha256(path) != digest:
                raise BuildCorrupt(f"{path}: size or checksum differs from the manifest")
        return {
            language: _read_language(directory / str(n))
            for n, language in enumerate(manifest["languages"])
        }
    except BuildCorrupt:
        raise
    except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
        raise BuildCorrupt(f"{directory}: {type(exc).__name__}: {exc}") from exc


def _read_language(folder: Path) -> LanguageIndex:
    small = json.loads((folder / "index.json").read_text(encoding="utf-8"))
    weights = _array(folder / "weights.npy")
    idf = _array(folder / "idf.npy")
    intercept = _array(folder / "intercept.npy")
    entry_ids = tuple(small["entry_ids"])
    vocabulary = {gram: column for column, gram in enumerate(small["vocabulary"])}
    centroids = SparseRows(
        _array(folder / "centroid_indptr.npy"),
        _array(folder / "centroid_indices.npy"),
        _array(folder / "centroid_data.npy"),
        len(entry_ids),
    )
    if (
        weights.shape != (len(vocabulary), len(entry_ids))
        or idf.shape != (len(vocabulary),)
        or centroids.indptr.shape != (len(vocabulary) + 1,)
        or centroids.indices.shape != centroids.data.shape
        or int(centroids.indptr[-1]) != len(centroids.data)
    ):
        raise BuildCorrupt(f"{folder}: array shapes do not match the vocabulary and entries")
    embedded = None
    if small["embedded_entries"] is not None:
        embedded = EmbeddedEntries(
            _array(folder / "embedded.npy"),
            small["embedded_entries"],
            _array(folder / "starts.npy"),
            _array(folder / "present.npy"),
        )
    classifier = EntryClassifier(
        entry_ids,
        TfidfSpace(vocabulary, idf, _unscalar(small["unknown_idf"])),
        weights,
        centroids,
        intercept,
        embedded,
        _unscalar(small["blend"]),
    )
    thresholds = Thresholds(**{k: _unscalar(v) for k, v in small["thresholds"].items()})
    return LanguageIndex(
        small["language"],
        classifier,
        thresholds,
        MappingProxyType(small["exact"]),
        small["off_topic"],
        MappingProxyType(small["exact_rows"]),
    )


def _array(path: Path) -> Any:
    """The .npy at `path`, mapped read-only (a plain ndarray view of the mapping)."""
    try:
        mapped = np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an empty array has nothing to map
        mapped = np.load(path, allow_pickle=False)
        if mapped.size:
            raise
    return np.asarray(mapped)


def _scalar(value: Any) -> Any:
    """A JSON form that keeps a numpy scalar's type (float32 compares differently)."""
    if isinstance(value, np.generic):
        return {"dtype": value.dtype.str, "value": value.item()}
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _unscalar(value: Any) -> Any:
    if isinstance(value, dict):
        if "float" in value:
            return float(value["float"])
        return np.dtype(value["dtype"]).type(value["value"])
    return value


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while chunk := stream.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()
