"""Language tags: canonical product tags, BCP 47 negotiation, direction and names.

Everything here is CLDR data read through babel, so tag handling follows the same
rules as the rest of the ecosystem instead of a hand-kept alias table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Literal

from babel import Locale, UnknownLocaleError
from babel.core import get_global, parse_locale


def base_language(tag: str) -> str:
    """Return the primary language subtag ("zh-Hant" -> "zh"): what statistical models and datasets label."""
    return tag.replace("_", "-").split("-", 1)[0].lower()


@lru_cache(maxsize=1024)
def _parse(tag: str) -> tuple[str, str | None] | None:
    """Parse a BCP 47 tag into (language, script) with CLDR aliases and likely script filled in.

    Returns None for tags babel cannot parse. Accept-Language noise (";q=0.8", "_") is tolerated because
    the tags come straight from browsers.
    """
    cleaned = tag.split(";", 1)[0].strip().replace("_", "-")
    if not cleaned or cleaned == "*":
        return None
    try:
        language, territory, script, _variant = parse_locale(cleaned, sep="-")[:4]
    except ValueError:
        return None
    language = language.lower()
    aliases: Mapping[str, str] = get_global("language_aliases")
    language = aliases.get(language, language).split("_", 1)[0]  # "in" -> "id", "iw" -> "he"
    if script is None:
        script = _likely_script(language, territory)
    return language, script.title() if script else None


def _likely_script(language: str, territory: str | None) -> str | None:
    """CLDR "add likely subtags" for the script only: zh-TW -> Hant, zh-SG -> Hans, zh -> Hans."""
    likely: Mapping[str, str] = get_global("likely_subtags")
    keys = ([f"{language}_{territory.upper()}"] if territory else []) + [language]
    for key in keys:
        maximal = likely.get(key)
        if maximal:
            parts = maximal.split("_")
            if len(parts) >= 2 and len(parts[1]) == 4:
                return parts[1]
    return None


def canonical_tag(tag: str) -> str:
    """Return the product spelling of a tag ("ZH-hant" -> "zh-Hant", "EN" -> "en").

    Raises ValueError for something that is not a language tag, because a typo in the supported list
    would otherwise silently disable a language.
    """
    parts = tag.strip().replace("_", "-").split("-")
    if not parts[0].isalpha() or not 2 <= len(parts[0]) <= 3:
        raise ValueError(f"not a language tag: {tag!r}")
    out = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            out.append(part.title())
        elif len(part) == 2 and part.isalpha():
            out.append(part.upper())
        else:
            out.append(part.lower())
    return "-".join(out)


# BCP 47's shape, loosely: a 2-3 letter language, then subtags of 1-8 letters or digits
# ("zh-Hant-TW", "es-419"); "_" is tolerated because locale names use it.
_LANGUAGE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def is_language_tag(tag: str) -> bool:
    """Whether `tag` has the shape of a language tag (whether or not anyone serves it)."""
    return len(tag) <= 35 and _LANGUAGE_TAG.fullmatch(tag) is not None


def supported_tag(tag: str, supported: Sequence[str]) -> str | None:
    """The desk's own spelling of the supported language `tag` names, or None.

    The one rule for a language that comes from a client (a customer's choice, an agent's
    transfer), so each language is one queue and one conversation language however it is
    spelled: case does not matter ("EN", "zh-hans" are "en", "zh-Hans"); otherwise BCP 47
    negotiation meets the tag with a supported one ("en-US" -> "en", "zh-TW" -> "zh-Hant",
    "pt-BR" -> "pt"). Not a tag, or a language the desk does not serve: None.
    """
    if not is_language_tag(tag):
        return None
    wanted = canonical_tag(tag)
    for candidate in supported:
        if is_language_tag(candidate) and canonical_tag(candidate) == wanted:
            return candidate
    return negotiate([tag], supported)


def negotiate(tags: Sequence[str], supported: Sequence[str]) -> str | None:
    """Pick the supported tag for the first acceptable preferred tag, or None.

    Matching compares (language, script) after CLDR aliasing and likely-script expansion, so
    zh-TW/zh-HK/zh-Hant-* meet zh-Hant, zh/zh-CN/zh-SG meet zh-Hans, pt-BR meets pt, en-US meets en
    and
    the legacy "in" meets id. A script mismatch is not a match: a Traditional reader is not silently
    served Simplified.
    """
    parsed_supported: list[tuple[str, tuple[str, str | None]]] = []
    for tag in supported:
        parsed = _parse(tag)
        if parsed is not None:
            parsed_supported.append((tag, parsed))
    for wanted in tags:
        parsed_wanted = _parse(wanted)
        if parsed_wanted is None:
            continue
        language, script = parsed_wanted
        for tag, (s_language, s_script) in parsed_supported:
            if s_language == language and (
                script is None or s_script is None or s_script == script
            ):
                return tag
    return None


def parse_accept_language(header: str) -> list[str]:
    """The tags of an Accept-Language header, most preferred first (q-values honoured)."""
    weighted: list[tuple[float, int, str]] = []
    for position, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if tag and tag != "*" and quality > 0:
            weighted.append((-quality, position, tag.strip()))
    return [tag for _, _, tag in sorted(weighted)]


@lru_cache(maxsize=256)
def _locale(tag: str) -> Locale:
    try:
        return Locale.parse(tag.replace("-", "_"))
    except (UnknownLocaleError, ValueError):
        return Locale.parse(base_language(tag))


def text_direction(lang: str) -> Literal["ltr", "rtl"]:
    """Writing direction from CLDR, so the widget can set dir= on the customer's and agent's bubbles."""
    return "rtl" if _locale(lang).text_direction == "rtl" else "ltr"


def display_name(lang: str) -> str:
    """The language's name in itself (日本語, 繁體中文, Español) for the language menu.

    CLDR's own name for "zh_Hant"/"zh_Hans" is preferred over the generic "中文 (繁體)". The first letter is
    upper-cased because the name stands alone as a menu item (CLDR's uiListOrMenu context).
    """
    locale = _locale(lang)
    key = f"{locale.language}_{locale.script}" if locale.script else locale.language
    name = locale.languages.get(key) or locale.display_name or lang
    return name[:1].upper() + name[1:]
