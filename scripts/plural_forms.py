"""Set every catalog's Plural-Forms header from the installed babel's CLDR plural rules.

`pybabel update` keeps whatever Plural-Forms a catalog already has, so after a babel upgrade
the headers would go stale; `make catalogs` runs this to derive them again. Usage:
`python scripts/plural_forms.py LOCALES_DIR`; prints each catalog it changed.
"""

from __future__ import annotations

import sys
from pathlib import Path

from babel.messages.plurals import get_plural
from babel.messages.pofile import read_po, write_po


def sync(po: Path) -> bool:
    """Rewrite `po` with babel's plural rule for its locale; True when the header changed."""
    locale = po.parent.parent.name
    with po.open("rb") as handle:
        catalog = read_po(handle, locale=locale)
    wanted = get_plural(locale).plural_forms
    if catalog.plural_forms == wanted:
        return False
    # The mime_headers setter parses Plural-Forms into the catalog's own plural rule.
    catalog.mime_headers = [
        (name, wanted if name.lower() == "plural-forms" else value)
        for name, value in catalog.mime_headers
    ]
    with po.open("wb") as handle:
        write_po(handle, catalog, width=76)
    return True


def main(locales: Path) -> int:
    for po in sorted(locales.glob("*/LC_MESSAGES/messages.po")):
        if sync(po):
            print(f"{po}: {get_plural(po.parent.parent.name).plural_forms}")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else "locales")))
