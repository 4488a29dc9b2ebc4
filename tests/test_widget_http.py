"""The widget over HTTP (chatserver/widget.py): pages and their headers, static files, the
languages and strings the widget reads, and the widget's strings in the catalogs."""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path

import aiohttp
import pytest
import socketio
from babel.messages.extract import extract_javascript
from babel.messages.pofile import read_po

from chatserver.settings import CHAT_LANGUAGES, Settings
from chatserver.widget import STATIC_DIR, loader_script, static_path

ROOT = Path(__file__).resolve().parent.parent
WIDGET_JS = ROOT / "static" / "widget" / "widget.js"
PAGES = [ROOT / "static" / "widget" / "index.html", ROOT / "static" / "demo" / "index.html"]


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


def assert_security_headers(headers):
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "same-origin"


async def test_root_is_the_demo_page_embedding_the_widget_with_one_tag(server):
    status, headers, body = await fetch(server, "/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert_security_headers(headers)
    csp = csp_directives(headers)
    assert csp["frame-src"] == ["'self'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert b'<script src="/widget.js" async></script>' in body
    assert b"<iframe" not in body  # the loader adds the frame, not the page


async def test_the_loader_is_one_classic_script(server):
    status, headers, body = await fetch(server, "/widget.js")
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=300"
    assert_security_headers(headers)
    text = body.decode()
    # A classic script: no module syntax; the bridge's functions come before the loader.
    assert not re.search(r"^\s*(export|import)\b", text, re.M)
    assert text.startswith("(() => {")
    assert text.rstrip().endswith("})();")
    assert text.index("function readFrameMessage") < text.index("function main()")


def test_the_loader_refuses_a_bridge_that_imports():
    with pytest.raises(ValueError, match="must not import"):
        loader_script('import { x } from "./y.js";\nexport const a = 1;', "main();")
    assert loader_script("export function f() {}\nexport const A = 1;", "f();") == (
        '(() => {\n"use strict";\nfunction f() {}\nconst A = 1;\nf();\n})();\n'
    )


async def test_the_frame_learns_which_hosts_may_drive_it(start_server, settings: Settings):
    server = await start_server(
        dataclasses.replace(settings, allowed_origins=("https://broker.example",))
    )
    status, _headers, body = await fetch(server, "/api/v1/widget/embed")
    assert status == 200
    assert json.loads(body) == {"allowed_origins": ["https://broker.example"]}


async def test_widget_page_has_a_strict_csp(server):
    status, headers, body = await fetch(server, "/widget/")
    assert status == 200
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert_security_headers(headers)
    csp = csp_directives(headers)
    assert csp["default-src"] == ["'none'"]
    assert csp["script-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["connect-src"] == ["'self'"]
    assert csp["frame-ancestors"] == ["'self'"]
    assert "unsafe" not in headers["Content-Security-Policy"]
    assert b"/static/vendor/socket.io.min.js" in body
    assert b'type="module" src="/static/widget/widget.js"' in body


async def test_widget_may_be_framed_by_the_allowed_origins(start_server, settings: Settings):
    server = await start_server(
        dataclasses.replace(settings, allowed_origins=("https://broker.example",))
    )
    _, headers, _ = await fetch(server, "/widget/")
    assert csp_directives(headers)["frame-ancestors"] == ["'self'", "https://broker.example"]


async def test_widget_without_slash_redirects(server):
    status, headers, _ = await fetch(server, "/widget", allow_redirects=False)
    assert status == 308
    assert headers["Location"] == "/widget/"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.parent.name)
def test_pages_have_no_inline_script_or_style(page):
    html = page.read_text(encoding="utf-8")
    assert "<style" not in html
    assert not re.search(r"\sstyle\s*=", html)
    assert not re.search(r"\son[a-z]+\s*=", html), "inline event handler"
    for tag in re.findall(r"<script\b[^>]*>", html):
        assert "src=" in tag, f"inline script: {tag}"


async def test_static_files_are_typed_and_cached(server):
    status, headers, body = await fetch(server, "/static/widget/widget.js")
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Cache-Control"] == "public, max-age=300"
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert body.startswith(b"// @ts-check\n/*")
    status, _, _ = await fetch(
        server, "/static/widget/widget.js", headers={"If-None-Match": headers["ETag"]}
    )
    assert status == 304
    status, headers, _ = await fetch(server, "/static/widget/widget.css")
    assert (status, headers["Content-Type"]) == (200, "text/css; charset=utf-8")
    status, _, body = await fetch(server, "/static/vendor/socket.io.min.js")
    assert status == 200
    assert b"Socket.IO v4" in body[:200]


@pytest.mark.parametrize(
    "path",
    [
        "/static/../pyproject.toml",
        "/static/%2e%2e/pyproject.toml",
        "/static/widget/%2e%2e/%2e%2e/pyproject.toml",
        "/static/widget/",
        "/static/widget/missing.js",
        "/static/vendor/socket.io-client.LICENSE",  # not a type we serve
    ],
)
async def test_static_refuses_anything_else(server, path):
    async with (
        aiohttp.ClientSession() as session,
        session.get(str(server.make_url("/")).rstrip("/") + path) as response,
    ):
        assert response.status == 404


@pytest.mark.parametrize(
    "relative",
    ["../pyproject.toml", "widget/../../pyproject.toml", ".hidden.js", "widget", "", "/etc/x.js"],
)
def test_static_path_stays_inside_the_directory(relative):
    assert static_path(relative) is None


def test_static_path_finds_the_widget():
    assert static_path("widget/widget.js") == STATIC_DIR / "widget" / "widget.js"


async def test_languages_are_named_in_themselves(server):
    status, headers, body = await fetch(server, "/api/v1/languages")
    assert status == 200
    assert headers["Content-Type"].startswith("application/json")
    languages = json.loads(body)
    assert [entry["tag"] for entry in languages] == list(CHAT_LANGUAGES)
    by_tag = {entry["tag"]: entry for entry in languages}
    assert by_tag["ja"] == {"tag": "ja", "name": "日本語", "direction": "ltr"}
    assert by_tag["ar"]["direction"] == "rtl"
    assert by_tag["ar"]["name"] == "العربية"
    assert all(entry["name"] for entry in languages)


async def strings(server, query):
    async with (
        aiohttp.ClientSession() as session,
        session.get(server.make_url("/api/v1/widget/strings"), params=query) as response,
    ):
        assert response.status == 200
        return await response.json()


async def test_strings_are_the_japanese_catalog(server):
    answer = await strings(server, {"lang": "ja"})
    assert answer["language"] == "ja"
    assert answer["direction"] == "ltr"
    assert answer["strings"]["Sending…"] == "送信中…"
    assert answer["strings"]["Customer support"] == "カスタマーサポート"


async def test_strings_negotiate_the_browser_languages(server):
    answer = await strings(server, {"lang": "fr-CA,ja-JP,en"})
    assert answer["language"] == "fr"
    assert answer["strings"]["Send"] == "Envoyer"
    answer = await strings(server, {"lang": "xx,ja-JP"})
    assert answer["language"] == "ja"


async def test_strings_fall_back_to_the_default_language(server):
    for query in ({"lang": "xx-YY"}, {}):
        answer = await strings(server, query)
        assert answer["language"] == "en"
        assert answer["direction"] == "ltr"


async def test_strings_say_arabic_is_right_to_left(server):
    answer = await strings(server, {"lang": "ar-EG"})
    assert (answer["language"], answer["direction"]) == ("ar", "rtl")


def widget_msgids():
    with WIDGET_JS.open("rb") as handle:
        return {
            message
            for _, _, message, _ in extract_javascript(handle, ["_", "ngettext"], [], {})
            if isinstance(message, str)
        }


def test_every_widget_string_is_in_the_template():
    ids = widget_msgids()
    assert "Sending…" in ids
    with (ROOT / "locales" / "messages.pot").open("rb") as handle:
        template = {m.id for m in read_po(handle) if m.id}
    assert ids <= template, f"run `make catalogs`: {sorted(ids - template)}"


def test_widget_never_writes_html():
    source = WIDGET_JS.read_text(encoding="utf-8")
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("):
        assert sink not in source


@pytest.mark.parametrize(
    ("origin", "accepted"),
    [("own", True), ("https://broker.example", True), ("https://evil.example", False)],
)
async def test_listed_origins_keep_the_desks_own_for_the_framed_widget(
    start_server, settings: Settings, origin: str, accepted: bool
):
    """The widget framed by a host site talks from the desk's origin: listing the host sites
    must not lock it out (python-socketio's plain list would)."""
    server = await start_server(
        dataclasses.replace(settings, allowed_origins=("https://broker.example",))
    )
    url = str(server.make_url("/")).rstrip("/")
    client = socketio.AsyncClient(reconnection=False)
    try:
        await client.connect(
            url,
            namespaces=["/customer"],
            transports=["websocket"],
            headers={"Origin": url if origin == "own" else origin},
            wait_timeout=5,
        )
        connected = True
    except socketio.exceptions.ConnectionError:
        connected = False
    finally:
        await client.disconnect()
    assert connected is accepted
