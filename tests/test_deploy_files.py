"""The deployment files agree with the server and with each other (docs/deploy.md).

No Docker engine runs on the project's machines, so the image is not built here; what can
be checked without one is: compose.yaml's settings are ones the server accepts and what a
shared desk needs, nginx's upstream names the compose services on their port, the image
copies what the server reads, and the doc shows the nginx file as it is.
"""

from __future__ import annotations

import ipaddress
import json
import re
from pathlib import Path
from typing import Any

import yaml

from chatserver.settings import OPTIONS, Settings
from chatserver.widget import STATIC_DIR

ROOT = Path(__file__).resolve().parent.parent
DEFAULTED = re.compile(r"\$\{(\w+):-([^}]*)\}")


def compose() -> dict[str, Any]:
    """compose.yaml with every `${VAR:-default}` at its default (its development values)."""
    text = (ROOT / "compose.yaml").read_text(encoding="utf-8")
    assert "${" not in DEFAULTED.sub("", text), "every variable in compose.yaml has a default"
    loaded: dict[str, Any] = yaml.safe_load(DEFAULTED.sub(lambda m: m.group(2), text))
    return loaded


def chat_services(config: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: s for name, s in config["services"].items() if "build" in s}


def nginx_conf() -> str:
    return (ROOT / "deploy" / "nginx.conf").read_text(encoding="utf-8")


def without_comments(text: str) -> list[str]:
    lines = (line.split("#", 1)[0].rstrip() for line in text.splitlines())
    return [line for line in lines if line.strip()]


def test_each_chat_process_in_compose_has_settings_the_server_accepts_for_a_shared_desk() -> None:
    config = compose()
    services = chat_services(config)
    assert sorted(services) == ["chat1", "chat2"]
    nginx_address = ipaddress.ip_address(
        config["services"]["nginx"]["networks"]["desk"]["ipv4_address"]
    )
    known = {option.env for option in OPTIONS}
    for name, service in services.items():
        env = {key: str(value) for key, value in service["environment"].items()}
        assert set(env) <= known, set(env) - known
        settings = Settings.from_env(env)  # raises SettingsError on a bad value
        assert settings.redis_url.startswith("redis://redis:"), name
        assert settings.database_url.startswith("postgresql://"), name
        assert "@postgres:5432/" in settings.database_url
        assert settings.host == "0.0.0.0"
        assert [nginx_address in network for network in settings.trusted_proxies] == [True]
        assert all(network.num_addresses == 1 for network in settings.trusted_proxies)
        assert service["depends_on"], name


def test_nginx_upstream_names_the_compose_processes_on_their_port() -> None:
    config = compose()
    upstream = re.findall(r"^\s*server (\S+):(\d+)\b", nginx_conf(), re.MULTILINE)
    services = chat_services(config)
    assert sorted(host for host, _ in upstream) == sorted(services)
    for host, port in upstream:
        assert services[host]["environment"]["CHATSERVER_PORT"] == port
    subnet = ipaddress.ip_network(config["networks"]["desk"]["ipam"]["config"][0]["subnet"])
    addresses = [
        ipaddress.ip_address(service["networks"]["desk"]["ipv4_address"])
        for service in config["services"].values()
        if "networks" in service and isinstance(service["networks"], dict)
    ]
    assert len(addresses) == 3  # nginx, chat1, chat2: fixed, so nginx finds them again
    assert all(address in subnet for address in addresses)
    assert len(set(addresses)) == 3
    assert config["services"]["nginx"]["volumes"] == [
        "./deploy/nginx.conf:/etc/nginx/nginx.conf:ro"
    ]


def test_the_doc_shows_the_nginx_file_as_it_is_and_every_compose_setting() -> None:
    doc = (ROOT / "docs" / "deploy.md").read_text(encoding="utf-8")
    shown = re.search(r"```nginx\n(.*?)```", doc, re.DOTALL)
    assert shown is not None
    assert without_comments(shown.group(1)) == without_comments(nginx_conf())
    for service in chat_services(compose()).values():
        for variable in service["environment"]:
            assert f"| `{variable}` |" in doc, f"docs/deploy.md's table misses {variable}"


def test_the_image_copies_what_the_server_reads_and_the_build_context_holds_it() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    copied = {
        source
        for sources in re.findall(r"^COPY (.+) \S+$", dockerfile, re.MULTILINE)
        for source in sources.split()
    }
    defaults = {option.name: option.default for option in OPTIONS}
    needed = {
        defaults["faq_dir"],
        defaults["locales_dir"],
        STATIC_DIR.name,
        "chatserver",
        "requirements/run.txt",
        "pyproject.toml",
    }
    assert needed <= copied, needed - copied
    ignore = (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines()
    assert next(line for line in ignore if not line.startswith("#")) == "*"  # all but...
    kept = {line[1:].rstrip("/") for line in ignore if line.startswith("!")}
    assert copied <= kept, copied - kept
    assert all((ROOT / source).exists() for source in copied)
    health = re.search(r"^HEALTHCHECK .*?CMD (\[[^\n]*\])$", dockerfile, re.MULTILINE | re.DOTALL)
    assert health is not None
    command = json.loads(health.group(1))
    assert command[:2] == ["python", "-c"]
    assert "/readyz" in command[2]
    assert re.search(r"^USER (?!root)\w+$", dockerfile, re.MULTILINE)
    assert "--require-hashes --no-deps -r requirements/run.txt" in dockerfile
