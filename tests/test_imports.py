"""import_subscribers at scale: a bounded number of queries whatever the row count, the
per-row rules kept (duplicates, topics replaced, people who left), a progress bar on a
terminal, and all or nothing when killed halfway (a real process, kill -9)."""

import fcntl
import os
import pty
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time

import pytest
from django.core.management import call_command
from django.db import connection

from subscribers.models import Subscriber
from tests.services import ROOT, database_url_for_children


def write_list(path, count: int, start: int = 0, topics: str = "lora-peft,llm") -> None:
    lines = ["email,topics,keywords,categories,frequency,consent"]
    lines += [f"reader{i}@lab{i % 7}.example.org,\"{topics}\",\"LoRA, -survey\",cs.LG,daily,workshop 2025"
              for i in range(start, start + count)]
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.django_db
def test_an_import_queries_a_chunk_of_rows_at_a_time_never_a_row(tmp_path, django_assert_max_num_queries):
    path = tmp_path / "list.csv"
    write_list(path, 2000)
    # Look-ups go 900 addresses per query and INSERTs up to SQLite's 999 parameters per
    # statement (as many subscribers as fit: 999 // their columns); the per-row path made
    # over 6 queries a row.
    columns = len([f for f in Subscriber._meta.concrete_fields if not f.primary_key])
    per_insert = (connection.features.max_query_params or 65535) // columns
    with django_assert_max_num_queries(-(-2000 // per_insert) + 25):  # + look-ups, topics, savepoints
        call_command("import_subscribers", str(path))
    assert Subscriber.objects.count() == 2000
    assert Subscriber.topics.through.objects.count() == 4000


@pytest.mark.django_db
def test_a_second_import_updates_interests_and_replaces_topics(tmp_path, capsys):
    path = tmp_path / "list.csv"
    write_list(path, 3)
    call_command("import_subscribers", str(path))
    first = Subscriber.objects.get(email="reader1@lab1.example.org")
    path.write_text("email,topics,keywords,frequency\n"
                    "reader1@lab1.example.org,pruning-compression,diffusion,weekly\n"
                    "READER2@lab2.example.org,,,daily\n"
                    "reader2@lab2.example.org,llm,RLHF,daily\n")
    call_command("import_subscribers", str(path))
    assert "3 rows: 0 added, 3 updated, 0 refused, 0 errors" in capsys.readouterr().out
    again = Subscriber.objects.get(email="reader1@lab1.example.org")
    assert (again.pk, again.uid, again.keywords, again.frequency) == (first.pk, first.uid, "diffusion", "weekly")
    assert [t.slug for t in again.topics.all()] == ["pruning-compression"]
    assert again.consent_at == first.consent_at and again.consent_source == first.consent_source
    # A later row for the same address wins, as one add_subscriber after another would.
    two = Subscriber.objects.get(email="reader2@lab2.example.org")
    assert two.keywords == "RLHF" and [t.slug for t in two.topics.all()] == ["llm"]
    assert Subscriber.objects.count() == 3


@pytest.mark.django_db
def test_a_new_address_twice_in_one_file_is_added_once_then_updated(tmp_path, capsys):
    path = tmp_path / "list.csv"
    path.write_text("email,keywords\nnew@example.org,LoRA\nNew@Example.org,pruning\n")
    call_command("import_subscribers", str(path))
    assert "2 rows: 1 added, 1 updated, 0 refused, 0 errors" in capsys.readouterr().out
    assert Subscriber.objects.get().keywords == "pruning"


def run_on_a_terminal(args: list[str], env: dict, until, timeout: float = 120) -> tuple[subprocess.Popen, str]:
    """Start a command with its output on a pseudo-terminal (so progress bars show) and read
    it until until(output) holds or the command ends."""
    master, slave = pty.openpty()
    # A terminal 100 columns wide (a fresh pty is 0 x 0, and a bar then has no room).
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))
    process = subprocess.Popen(args, cwd=ROOT, env=env, stdin=subprocess.DEVNULL, stdout=slave, stderr=slave)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and not until(output.decode(errors="replace")):
            ready, _, _ = select.select([master], [], [], 0.05)
            if ready:
                try:
                    chunk = os.read(master, 65536)
                except OSError:  # the command ended and closed the terminal
                    break
                if not chunk:
                    break
                output += chunk
            elif process.poll() is not None:
                break
    finally:
        os.close(master)
    return process, output.decode(errors="replace")


def writing_progress(output: str) -> int:
    """The last percentage the writing bar showed."""
    found = re.findall(r"writing:\s+(\d+)%", output)
    return int(found[-1]) if found else 0


@pytest.mark.django_db(transaction=True)
def test_an_import_killed_while_writing_leaves_the_list_as_it_was(tmp_path):
    path = tmp_path / "big.csv"
    write_list(path, 30_000)
    env = {**os.environ, "DATABASE_URL": database_url_for_children(), "PAPERPOST_VAR_DIR": str(tmp_path / "var")}
    env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    command = [sys.executable, "manage.py", "import_subscribers", str(path)]

    # Killed once rows are being written (the writing bar has moved, not to the end).
    process, output = run_on_a_terminal(command, env, lambda out: 0 < writing_progress(out) < 100)
    process.send_signal(signal.SIGKILL)
    process.wait(10)
    assert "checking:" in output and "%|" in output, f"no progress bar on a terminal:\n{output[-2000:]}"
    assert 0 < writing_progress(output) < 100, f"the kill did not land while writing:\n{output[-2000:]}"
    assert "rows:" not in output  # no summary: it really was cut short
    assert Subscriber.objects.count() == 0
    assert Subscriber.topics.through.objects.count() == 0

    # Run again, it finishes the whole list.
    process, output = run_on_a_terminal(command, env, lambda out: "rows:" in out)
    assert process.wait(120) == 0, output[-2000:]
    assert "30000 rows: 30000 added, 0 updated, 0 refused, 0 errors" in output
    assert Subscriber.objects.count() == 30_000
    assert Subscriber.topics.through.objects.count() == 60_000
