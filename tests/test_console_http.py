"""The agent console over HTTP (chatserver/widget.py): its page and headers, its static
files, and its strings in the catalogs."""

from __future__ import annotations

import re
from pathlib import Path

import aiohttp
from babel.messages.extract import extract_javascript
from babel.messages.pofile import read_po

ROOT = Path(__file__).resolve().parent.parent
CONSOLE = ROOT / "static" / "console"
CONSOLE_JS = CONSOLE / "console.js"


async def fetch(server, path, headers=None, allow_redirects=True):
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            server.make_url(path), headers=headers or {}, allow_redirects=allow_redirects
        ) as response,
    ):
        return response.status, response.headers, await response.read()


def csp_directives(headers):
    policy = headers["Content-Security-Policy"]
    return {
        part.split()[0]: part.split()[1:] for part in (p.strip() for p in policy.split(";")) if part
    }


async def test_console_page_has_the_widgets_headers_and_is_never_framed(server):
    status, headers, body = await fetch(server, "/console/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"
    csp = csp_directives(headers)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["form-action"] == ["'none'"]
    assert csp["base-uri"] == ["'none'"]
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert b"/static/vendor/socket.io.min.js" in body
    assert b'type="module" src="/static/console/console.js"' in body
    assert b'href="/static/console/console.css"' in body


async def test_console_without_slash_redirects(server):
    status, headers, _ = await fetch(server, "/console", allow_redirects=False)
    assert status == 308
    assert headers["Location"] == "/console/"


async def test_console_files_are_served_typed_and_cached(server):
    for name, content_type in (
        ("console.js", "text/javascript; charset=utf-8"),
        ("console.css", "text/css; charset=utf-8"),
    ):
        status, headers, body = await fetch(server, f"/static/console/{name}")
        assert (status, headers["Content-Type"]) == (200, content_type)
        assert headers["Cache-Control"] == "public, max-age=300"
        assert body.startswith(b"// @ts-check\n/*" if name.endswith(".js") else b"/*")


def test_console_page_has_no_inline_script_or_style():
    html = (CONSOLE / "index.html").read_text(encoding="utf-8")
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, f"inline script: {tag}"


def test_console_never_writes_html():
    source = CONSOLE_JS.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source
    assert 'setAttribute("style"' not in source  # the CSP would refuse it anyway


def console_msgids():
    with CONSOLE_JS.open("rb") as handle:
        found = set()
        for _, _, message, _ in extract_javascript(handle, ["_"], [], {}):
            # `_("text", {values})` comes out as ("text", None): the msgid is the first.
            msgid = message[0] if isinstance(message, tuple) else message
            if isinstance(msgid, str):
                found.add(msgid)
        return found


def test_every_console_string_is_in_the_template():
    ids = console_msgids()
    assert {"Accept", "Internal note", "First reply due in {time}"} <= ids
    with (ROOT / "locales" / "messages.pot").open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert ids <= template, f"run `make catalogs`: {sorted(ids - template)}"


async def test_console_strings_come_translated(server):
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/api/v1/widget/strings"), params={"lang": "ja"}) as response,
    ):
        strings = (await response.json())["strings"]
    missing = sorted(console_msgids() - set(strings))
    assert missing == [], f"not translated into Japanese: {missing}"
