"""Every CSV report writes its cells through one rule (chatserver/csv_cells.py)."""

from __future__ import annotations

import pytest

from chatserver.csv_cells import cell


@pytest.mark.parametrize("text", ['=HYPERLINK("x")', "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"])
def test_text_a_spreadsheet_would_run_gets_an_apostrophe(text):
    assert cell(text) == "'" + text


def test_other_values_stay_as_they_are():
    assert cell("Aiko Tanaka") == "Aiko Tanaka"
    assert cell(-3) == -3  # a number, not text: never a formula
    assert cell(0.5) == 0.5
    assert cell(None) == ""
