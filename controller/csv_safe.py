"""Spreadsheet-safe CSV cells, for every CSV the controller writes or reads back (reports, exports, the roster,
visitors): text that starts like a formula is kept as text. It imports nothing, so any layer may use it."""

from __future__ import annotations

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(v):
    """A text cell made safe for a spreadsheet: text that starts like a formula (= + - @, tab, CR) gets a
    leading apostrophe, so Excel, LibreOffice and WPS show it as text instead of running it.
    Numbers and other values pass unchanged; ``csv_uncell`` undoes it."""
    if isinstance(v, str) and v.startswith(FORMULA_START):
        return "'" + v
    return v


def csv_uncell(v: str) -> str:
    """The text ``csv_cell`` was given."""
    return v[1:] if v.startswith("'") and v[1:].startswith(FORMULA_START) else v
