"""CSV cells for the reports supervisors open in a spreadsheet: text a spreadsheet would run
as a formula (a customer's comment or an agent's name that starts with `=`, say) gets a
leading `'` (the OWASP advice for CSV injection); numbers stay numbers, None is empty."""

from __future__ import annotations

from typing import Any

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value
