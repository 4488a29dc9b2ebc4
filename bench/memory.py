"""Resident memory of a served desk after start-up, idle (the issue's target: <= 300 MiB).

    python bench/memory.py                      # embeddings on and off, cold and warm cache
    python bench/memory.py --embeddings on --starts 1 --cache-dir ~/.cache/chatserver
    python bench/memory.py --embeddings on --starts 1 --reloads 3   # RSS after FAQ reloads

Each start is `python -m chatserver serve` on a free port with a temporary SQLite database,
the repository's faq/, demo agents off and the FAQ reload off; once /readyz answers, VmRSS
and VmHWM (peak) are read from /proc/<pid>/status after `--settle` seconds. The embedding
cache is a temporary CHATSERVER_CACHE_DIR shared by the starts of one setting, so the first
start is cold (it embeds every phrasing) and the next ones warm; `--cache-dir` uses a given
one instead (e.g. a large cache left by the benchmarks). With `--reloads N`, the FAQ is a
copy whose files are touched before each of N SIGHUPs (a rebuild each), and the RSS is read
after each reload.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 300.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def status_kib(pid: int) -> dict[str, int]:
    fields = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in {"VmRSS", "VmHWM", "RssAnon", "RssFile"}:
            fields[key] = int(value.split()[0])
    return fields


def wait_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT:
        if process.poll() is not None:
            tail = log.read_text()[-3000:]
            raise RuntimeError(f"server exited ({process.returncode}):\n{tail}")
        with (
            contextlib.suppress(urllib.error.URLError, OSError),
            urllib.request.urlopen(f"{url}/readyz", timeout=5) as response,
        ):
            if response.status == 200:
                return time.monotonic() - started
        time.sleep(0.3)
    raise RuntimeError(f"not ready in {READY_TIMEOUT} s")


def one_start(
    embeddings: bool, cache_dir: Path, tmp: Path, settle: float, reloads: int = 0
) -> dict[str, float]:
    port = free_port()
    env = {
        **os.environ,
        "CHATSERVER_PORT": str(port),
        "CHATSERVER_DATABASE_URL": f"sqlite:///{tmp / f'desk-{port}.db'}",
        "CHATSERVER_DEMO_AGENTS": "false",
        "CHATSERVER_LOG_LEVEL": "info" if reloads else "warning",
        "CHATSERVER_FAQ_RELOAD_INTERVAL": "0",
        "CHATSERVER_FAQ_EMBEDDINGS": "true" if embeddings else "false",
        "CHATSERVER_CACHE_DIR": str(cache_dir),
    }
    if reloads:
        faq = tmp / f"faq-{port}"
        shutil.copytree(ROOT / "faq", faq)
        env["CHATSERVER_FAQ_DIR"] = str(faq)
    log = tmp / f"serve-{port}.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "chatserver", "serve"],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )
    try:
        seconds = wait_ready(f"http://127.0.0.1:{port}", process, log)
        time.sleep(settle)
        result: dict[str, float] = {"ready_s": seconds, **status_kib(process.pid)}
        for n in range(1, reloads + 1):
            for path in faq.glob("*.yaml"):
                path.touch()
            process.send_signal(signal.SIGHUP)
            while log.read_text().count("FAQ reloaded") < n:
                if process.poll() is not None:
                    tail = log.read_text()[-3000:]
                    raise RuntimeError(f"server exited ({process.returncode}):\n{tail}")
                time.sleep(0.5)
            time.sleep(settle)
            result[f"reload{n}"] = status_kib(process.pid)["VmRSS"]
        return result
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--embeddings", choices=["on", "off", "both"], default="both")
    parser.add_argument("--starts", type=int, default=2, help="starts per setting (cold, warm)")
    parser.add_argument("--settle", type=float, default=2.0, help="seconds idle before reading")
    parser.add_argument("--reloads", type=int, default=0, help="FAQ reloads after start-up")
    parser.add_argument("--cache-dir", type=Path, help="an existing embedding cache directory")
    args = parser.parse_args()
    settings = {"on": [True], "off": [False], "both": [True, False]}[args.embeddings]
    print("| embeddings | start | ready s | VmRSS MiB | VmHWM MiB | RssAnon MiB | RssFile MiB |")
    print("|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="chat-memory-") as name:
        tmp = Path(name)
        for embeddings in settings:
            cache = args.cache_dir or tmp / f"cache-{embeddings}"
            for n in range(args.starts):
                r = one_start(embeddings, cache, tmp, args.settle, args.reloads)
                label = "given cache" if args.cache_dir else ("cold" if n == 0 else "warm")
                print(
                    f"| {'on' if embeddings else 'off'} | {label} | {r['ready_s']:.1f} "
                    f"| {r['VmRSS'] / 1024:.0f} | {r['VmHWM'] / 1024:.0f} "
                    f"| {r['RssAnon'] / 1024:.0f} | {r['RssFile'] / 1024:.0f} |",
                    flush=True,
                )
                for k in range(1, args.reloads + 1):
                    print(f"after reload {k}: VmRSS {r[f'reload{k}'] / 1024:.0f} MiB", flush=True)


if __name__ == "__main__":
    main()
