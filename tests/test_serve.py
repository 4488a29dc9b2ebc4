"""`chatserver serve` as a real process: starts, answers, logs JSON, stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_starts_logs_json_and_shuts_down_gracefully(tmp_path):
    port = free_port()
    env = {
        **os.environ,
        "CHATSERVER_PORT": str(port),
        "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp_path / 'serve.sqlite3'}",
        "CHATSERVER_LOG_FORMAT": "json",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "chatserver"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        status = None
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=2) as r:
                    status = r.status
                    break
            except OSError:
                time.sleep(0.2)
        assert status == 200
        process.send_signal(signal.SIGHUP)  # rebuild the FAQ now
        time.sleep(1)
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0
    records = [json.loads(line) for line in stderr.splitlines() if line.startswith("{")]
    assert records, stderr
    assert all({"time", "level", "logger", "message"} <= r.keys() for r in records)
    assert any(r["message"].startswith(f"serving on http://127.0.0.1:{port}") for r in records)
    assert any(r["message"].startswith("FAQ reloaded") for r in records), stderr
    assert (tmp_path / "serve.sqlite3").exists()
