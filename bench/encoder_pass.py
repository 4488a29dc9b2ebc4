"""The sentence encoder's cost a question, alone and in passes of several questions.

The desk embeds the questions that reach the encoder in the same turn of the event loop in
one pass (chatserver/faq/query_batch.py). This times `encode_queries` over deskbench's
customer messages (read from ../shared/data, never copied) in passes of 1, 2, 4, 8 and 16
consecutive messages, with a warm token cache, one BLAS thread, best of three (CPU time),
and checks that every vector is the one the question gets alone.

    python bench/encoder_pass.py [--cases ../shared/data/deskbench/cases.jsonl] [--write docs/benchmarks.md]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.common import machine, write_section  # noqa: E402
from chatserver.faq.embedding import QUERY_BATCH, UseEncoder  # noqa: E402

CASES = ROOT.parent / "shared" / "data" / "deskbench" / "cases.jsonl"
PASSES = (1, 2, 4, 8, QUERY_BATCH)


def timed(encoder: UseEncoder, texts: list[str], size: int) -> tuple[float, np.ndarray]:
    """CPU seconds a question (best of three) and the vectors, in passes of `size`."""
    best = float("inf")
    vectors = np.zeros((0, encoder.dimension), dtype=np.float32)
    for _ in range(3):
        start = time.process_time()
        chunks = [encoder.encode_queries(texts[i : i + size]) for i in range(0, len(texts), size)]
        best = min(best, time.process_time() - start)
        vectors = np.vstack(chunks)
    return best / len(texts), vectors


def run(cases: Path) -> str:
    texts = [json.loads(line)["text"] for line in cases.read_text(encoding="utf-8").splitlines()]
    encoder = UseEncoder()
    alone = np.stack([encoder.encode_one(text) for text in texts])  # also warms the cache
    rows = []
    base = None
    for size in PASSES:
        seconds, vectors = timed(encoder, texts, size)
        base = base or seconds
        drift = float(np.abs(vectors - alone).max())
        rows.append(f"| {size} | {seconds * 1000:.3f} | {seconds / base:.2f} | {drift:.1e} |")
    return "\n".join(
        [
            "### `encoder-pass`",
            "",
            "Command: `python bench/encoder_pass.py`  ",
            f"{machine()}; {len(texts)} deskbench messages, warm token cache, one BLAS thread, "
            "best of three.",
            "",
            "| questions a pass | ms of CPU a question | against alone | largest difference from alone |",
            "|---|---|---|---|",
            *rows,
        ]
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=Path, default=CASES, help="deskbench's cases.jsonl")
    parser.add_argument(
        "--write", type=Path, help="replace the `encoder-pass` section of this file"
    )
    args = parser.parse_args()
    report = run(args.cases)
    print(report)
    if args.write:
        write_section(args.write, "encoder-pass", report)


if __name__ == "__main__":
    main()
