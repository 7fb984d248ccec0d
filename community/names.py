"""Display names: what a member is called beside their submissions and comments.

Rules: 2 to 30 characters after normalising (NFKC, runs of spaces folded); letters and digits
of any script (with their marks), spaces, and . _ - '; it must start with a letter or digit; no names that pass
for the site or its staff. Invisible and direction-changing characters (U+200B, U+202E, ...)
are refused by the character rule, so a name shows as what it is."""

from __future__ import annotations

import re
import unicodedata

from django.core.exceptions import ValidationError

MIN_LENGTH, MAX_LENGTH = 2, 30
_ALLOWED_PUNCTUATION = set(" ._-'")
RESERVED = {"admin", "administrator", "paperpost", "curator", "moderator", "staff", "support", "system",
            "anonymous", "a reader", "deleted"}


def normalize_name(value: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", value or "").split())


def clean_display_name(value: str) -> str:
    """The normalised name, or ValidationError saying what to change."""
    name = normalize_name(value)
    if len(name) < MIN_LENGTH or len(name) > MAX_LENGTH:
        raise ValidationError(f"Use {MIN_LENGTH} to {MAX_LENGTH} characters.")
    # Marks (category M) are letters' accents and vowel signs in many scripts.
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in _ALLOWED_PUNCTUATION
                                            or unicodedata.category(ch).startswith("M"))})
    if bad:
        shown = ", ".join(repr(ch) if ch.isprintable() else f"U+{ord(ch):04X}" for ch in bad)
        raise ValidationError(f"Use letters, digits, spaces and . _ - ' only (not {shown}).")
    if not name[0].isalnum():
        raise ValidationError("Start with a letter or a digit.")
    folded = re.sub(r"[\s._'-]+", " ", name.casefold()).strip()
    if folded in RESERVED or folded.replace(" ", "") in {r.replace(" ", "") for r in RESERVED}:
        raise ValidationError("That name is reserved; pick another.")
    return name
