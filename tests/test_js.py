"""The browser code's pure helpers (static/shared/common.js), tested in Node's own test
runner: tests/js/*.test.mjs, no packages. Here so that `make test` runs them.

Skipped when Node is missing, unless CI says it must be there (CI=true or
CHATSERVER_REQUIRE_SERVICES=1), where it fails instead.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
JS_TESTS = sorted((ROOT / "tests" / "js").glob("*.test.mjs"))
# node:test's describe and --test-reporter (Debian 12 has 18.19). The top-level package.json
# says that static/**/*.js are ES modules.
MINIMUM = (18, 15)


def node_or_skip() -> str:
    node = shutil.which("node")
    reason = None
    if node is None:
        reason = "Node.js is not installed (apt-get install nodejs)"
    else:
        version = subprocess.run([node, "--version"], capture_output=True, text=True).stdout
        found = re.match(r"v(\d+)\.(\d+)", version)
        if found is None or tuple(map(int, found.groups())) < MINIMUM:
            reason = f"Node.js {version.strip()} is older than v{MINIMUM[0]}.{MINIMUM[1]}"
    if reason is None:
        assert node is not None
        return node
    if os.environ.get("CI") == "true" or os.environ.get("CHATSERVER_REQUIRE_SERVICES") == "1":
        pytest.fail(f"{reason}, and CI needs it for tests/js")
    pytest.skip(reason)


def test_there_are_javascript_tests() -> None:
    assert JS_TESTS, "no tests/js/*.test.mjs"


@pytest.mark.parametrize("path", JS_TESTS, ids=[path.name for path in JS_TESTS])
def test_javascript(path: Path) -> None:
    node = node_or_skip()
    result = subprocess.run(
        [node, "--test", "--test-reporter=spec", str(path)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )
    assert result.returncode == 0, (
        f"node --test {path.name} failed:\n{result.stdout}{result.stderr}"
    )
