"""Shared set-up for the benchmarks: a throwaway var/ directory and database, Django ready.

Run a benchmark from the project root with the project's environment, e.g.
`.venv/bin/python benchmarks/ingest.py`. With DATABASE_URL set it must point at a
throwaway database (it is migrated and emptied); otherwise a temporary SQLite file is used."""

from __future__ import annotations

import os
import platform
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = Path(os.environ.get("PAPERPOST_DATA", ROOT.parent / "shared" / "data"))


def setup_django() -> Path:
    sys.path.insert(0, str(ROOT))
    workdir = Path(tempfile.mkdtemp(prefix="paperpost-bench-"))
    os.environ.setdefault("PAPERPOST_VAR_DIR", str(workdir))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperpost.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    import django
    from django.core.management import call_command

    from paperpost.embedded import prepare

    prepare()  # the throwaway var/ and its secret key, as manage.py makes them

    django.setup()
    call_command("migrate", verbosity=0)
    return workdir


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{os.cpu_count()} CPU {cpu}, Python {platform.python_version()}"


def best(fn, repeat: int) -> float:
    import time

    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)
