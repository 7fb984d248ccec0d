"""CSV cells that spreadsheets will not run as formulas (CSV injection, OWASP).

A cell that starts with = + - @ (or a tab or carriage return, which some spreadsheets skip
before looking) is opened by Excel, LibreOffice and Google Sheets as a formula, and a
formula can run commands or send the sheet's data away. Such a cell is written with a
leading apostrophe, which spreadsheets show as text; the import takes it off again, so an
export imports back unchanged."""

from __future__ import annotations

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def escape_cell(value) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def unescape_cell(text: str) -> str:
    return text[1:] if text.startswith("'") and text[1:].startswith(FORMULA_STARTS) else text
