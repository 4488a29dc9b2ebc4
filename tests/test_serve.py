"""`chatserver serve` as a real process: starts, answers, logs JSON, stops cleanly on SIGTERM,
runs its BLAS libraries on one thread, and maps its FAQ without loading scikit-learn."""

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

from tests.cluster import FAQ, Client

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
    # The one-entry FAQ with embeddings on: the encoder (numpy's OpenBLAS) loads as with the
    # desk's FAQ, without its seconds of building (scipy's trains in the build's child).
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
    # numpy's OpenBLAS (the sentence encoder), here.
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


def mapped_paths(pid: int) -> set[str]:
    """The files mapped into process `pid` (shared libraries, mapped builds)."""
    paths = set()
    for line in Path(f"/proc/{pid}/maps").read_text().splitlines():
        fields = line.split(maxsplit=5)
        if len(fields) == 6 and fields[5].startswith("/"):
            paths.add(fields[5])
    return paths


def test_the_served_process_maps_its_faq_and_never_loads_scikit_learn(tmp_path):
    """The FAQ is trained in a child process and mapped: scikit-learn (~80 MiB resident for
    its SVM module alone) and scipy stay out of the server. With the matcher trained in
    process, their shared libraries showed in the maps and this failed."""
    cache = tmp_path / "cache"
    faq = {**small_faq(tmp_path), "CHATSERVER_FAQ_EMBEDDINGS": "true"}
    with served(tmp_path, CHATSERVER_CACHE_DIR=str(cache), **faq) as (process, _):
        paths = mapped_paths(process.pid)
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    assert paths
    assert [p for p in paths if "sklearn" in p or "scikit_learn" in p] == []
    assert [p for p in paths if "/scipy" in p] == []
    assert any("/faq-builds/" in p and p.endswith("weights.npy") for p in paths), paths


async def ask(port: int, text: str) -> dict[str, object]:
    customer = Client("/customer")
    try:
        await customer.connect(f"http://127.0.0.1:{port}")
        await customer.call("start", {"language": "en"})
        await customer.call("message", {"text": text})
        reply: dict[str, object] = await customer.wait_for(
            "message", lambda m: isinstance(m, dict) and "meta" in m
        )
        return reply
    finally:
        await customer.close()


async def test_a_damaged_faq_build_is_rebuilt_and_the_server_answers(tmp_path):
    cache = tmp_path / "cache"
    env = {**small_faq(tmp_path), "CHATSERVER_CACHE_DIR": str(cache)}
    with served(tmp_path, **env) as (process, port):
        first = await ask(port, "I forgot my password")
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    (entry,) = (p for p in (cache / "faq-builds").iterdir() if not p.name.startswith("."))
    (weights,) = entry.glob("*/weights.npy")
    with weights.open("r+b") as stream:  # as a crash or a full disk mid-copy would leave it
        stream.truncate(weights.stat().st_size - 7)
    with served(tmp_path, CHATSERVER_LOG_LEVEL="info", **env) as (process, port):
        again = await ask(port, "I forgot my password")
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    assert first["meta"] == again["meta"]
    assert again["meta"]["faq_id"] == "password-reset"  # type: ignore[index]
    assert "is damaged, building it again" in stderr
    assert weights.stat().st_size > 0
    assert [p.name for p in (cache / "faq-builds").iterdir()] == [entry.name]
