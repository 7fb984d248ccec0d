"""The embedded mode's files in var/ (PAPERPOST_VAR_DIR): the directory itself, the static
root, and the secret key kept there so that signed links in emails survive restarts.

prepare() makes them. manage.py and the WSGI/ASGI entry points call it before Django reads
its settings, so that importing paperpost.settings writes nothing (tests, tools, workers and
benchmarks import it freely). Production sets SECRET_KEY and then no key file is written."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
SECRET_KEY_FILE = "secret_key"


def var_dir() -> Path:
    return Path(os.environ.get("PAPERPOST_VAR_DIR") or BASE_DIR / "var")


def read_secret_key(var: Path) -> str:
    """The key kept in var/, or "" if there is none yet (Django then refuses to start)."""
    try:
        return (var / SECRET_KEY_FILE).read_text().strip()
    except FileNotFoundError:
        return ""


def prepare() -> Path:
    """Make var/ and var/static/, and, unless SECRET_KEY is set, a key file readable only by
    its owner. Safe to call from several processes at once."""
    var = var_dir()
    (var / "static").mkdir(parents=True, exist_ok=True)
    target = var / SECRET_KEY_FILE
    if os.environ.get("SECRET_KEY") or target.exists():
        return var
    # Written aside, then linked into place: a process starting at the same moment sees
    # either no key file or a whole one, and the first link wins.
    draft = var / f".{SECRET_KEY_FILE}.{os.getpid()}"
    fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as key_file:
        key_file.write(secrets.token_urlsafe(50))
    try:
        os.link(draft, target)
    except FileExistsError:
        pass
    finally:
        draft.unlink()
    return var
