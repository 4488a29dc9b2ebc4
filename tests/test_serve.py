"""`chatserver serve` as a real process: starts, answers, logs JSON, stops cleanly on SIGTERM,
and runs its BLAS libraries on one thread."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cluster import FAQ

ROOT = Path(__file__).resolve().parent.parent
METRICS_TOKEN = "a metrics token of some length"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def small_faq(tmp_path: Path) -> dict[str, str]:
    """A one-entry FAQ without embeddings, for what does not depend on the FAQ's size: the
    desk's own (12,000 phrasings) takes each process seconds to build."""
    directory = tmp_path / "faq"
    directory.mkdir()
    (directory / "en.yaml").write_text(FAQ, encoding="utf-8")
    return {"CHATSERVER_FAQ_DIR": str(directory), "CHATSERVER_FAQ_EMBEDDINGS": "false"}


@contextlib.contextmanager
def served(tmp_path: Path, **env: str) -> Iterator[tuple[subprocess.Popen[str], int]]:
    """`python -m chatserver` on a free port, ready (/readyz answered 200); killed if the
    test leaves it running."""
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "chatserver"],
        cwd=ROOT,
        env={
            **os.environ,
            "CHATSERVER_PORT": str(port),
            "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
            **env,
        },
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline and process.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.2)
        assert status == 200, process.stderr.read() if process.poll() is not None else ""
        yield process, port
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()


def test_serve_starts_logs_json_and_shuts_down_gracefully(tmp_path):
    with served(tmp_path, CHATSERVER_LOG_FORMAT="json", **small_faq(tmp_path)) as (process, port):
        process.send_signal(signal.SIGHUP)  # rebuild the FAQ now
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert records, stderr
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert any(r["message"].startswith(f"serving on http://127.0.0.1:{port}") for r in records)
    assert any(r["message"].startswith("FAQ reloaded") for r in records), stderr
    assert (tmp_path / "serve.sqlite3").exists()


BLAS_SERIES = re.compile(r"^chatserver_blas_threads\{([^}]*)\} (\S+)$", re.M)


def test_the_served_process_runs_blas_on_one_thread(tmp_path):
    """What the served process reports of its own BLAS libraries on /metrics (read from the
    libraries by threadpoolctl at the scrape). OpenBLAS would start as many threads as the
    machine has CPUs (at most OPENBLAS_NUM_THREADS), so on one CPU this could not fail."""
    if (os.cpu_count() or 1) < 2:
        pytest.skip("one CPU: OpenBLAS runs a single thread whatever the server does")
    # The one-entry FAQ with embeddings on: the encoder (numpy's OpenBLAS) and the
    # classifier (scipy's) load as with the desk's FAQ, without its seconds of building.
    faq = {**small_faq(tmp_path), "CHATSERVER_FAQ_EMBEDDINGS": "true"}
    with served(
        tmp_path, CHATSERVER_METRICS_TOKEN=METRICS_TOKEN, OPENBLAS_NUM_THREADS="2", **faq
    ) as (
        process,
        port,
    ):
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/metrics",
            headers={"Authorization": f"Bearer {METRICS_TOKEN}"},
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            text = response.read().decode()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    series = {labels: float(value) for labels, value in BLAS_SERIES.findall(text)}
    # numpy's OpenBLAS (the sentence encoder) and scipy's (the classifier's solvers), here.
    assert series, text
    assert set(series.values()) == {1.0}, series


def test_a_polling_client_that_never_polls_again_does_not_hold_the_stop(tmp_path):
    """One Engine.IO polling handshake, then silence: on SIGTERM its close message waits to
    be collected forever; the server gives it a few seconds and stops anyway."""
    with served(tmp_path, **small_faq(tmp_path)) as (process, port):
        url = f"http://127.0.0.1:{port}/socket.io/?EIO=4&transport=polling"
        with urllib.request.urlopen(url, timeout=10) as response:
            assert response.read().startswith(b"0{")  # the open packet: a session now exists
        started = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert process.returncode == 0, stderr
    assert time.monotonic() - started < 15, stderr
    assert "did not take their close" in stderr
