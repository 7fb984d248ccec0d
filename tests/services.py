"""Real services for the integration tests: a Redis server, an SMTP server (aiosmtpd on
loopback, parsing what it receives) and Celery worker processes. Nothing here is a mock.

A missing service binary is a test failure with the command that installs it, never a
silent skip: `.ci/run` and `make test` install them (scripts/system-deps.sh)."""

from __future__ import annotations

import email
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from email import policy
from email.message import EmailMessage
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def child_env(**overrides: str) -> dict[str, str]:
    """The environment of a process a test starts (a worker, manage.py): this one's, without
    what pytest set for itself (the test settings module, the browser tests' async switch),
    so that the child runs with paperpost.settings like any deployment."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    env.update(overrides)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_binary(name: str, package: str) -> str:
    path = shutil.which(name) or next(
        (p for p in (f"/usr/bin/{name}", f"/usr/sbin/{name}", f"/usr/local/bin/{name}") if os.path.exists(p)), None
    )
    if not path:
        pytest.fail(
            f"{name} is not installed; this test needs the real thing. "
            f"Install it with `apt-get install -y {package}` (or run scripts/system-deps.sh)",
            pytrace=False,
        )
    return path


def wait_for(predicate, timeout: float, what: str, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


# --- Redis ----------------------------------------------------------------------------------


class RedisServer:
    def __init__(self, workdir: Path):
        self.binary = require_binary("redis-server", "redis-server")
        self.port = free_port()
        self.workdir = workdir
        self.process: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            [self.binary, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.workdir)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self.ping, 10, "redis-server to answer PING")

    def ping(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as s:
                s.sendall(b"PING\r\n")
                return s.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None
        wait_for(lambda: not self.ping(), 5, "redis-server to stop")


# --- SMTP -----------------------------------------------------------------------------------


@dataclass
class Received:
    envelope_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class SMTPBehaviour:
    """What the test server answers; tests change it to inject faults."""

    # Callable(rcpt, attempt_number) -> None to accept, or an SMTP reply string to refuse.
    on_rcpt: object = None
    on_data: object = None
    delay_data: float = 0.0
    # Callable(rcpt) -> seconds to hold that message's DATA before answering (0: none).
    hold_data: object = None


class SMTPCollector:
    """aiosmtpd handler: parses and keeps every message it accepts."""

    def __init__(self):
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.behaviour = SMTPBehaviour()
        self.rcpt_attempts: dict[str, int] = {}
        self.data_attempts: dict[str, int] = {}
        # Recipients whose message data has arrived and whose reply is not sent yet.
        self.in_data: set[str] = set()

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        with self.lock:
            self.rcpt_attempts[address] = self.rcpt_attempts.get(address, 0) + 1
            attempt = self.rcpt_attempts[address]
        if self.behaviour.on_rcpt:
            reply = self.behaviour.on_rcpt(address, attempt)
            if isinstance(reply, (int, float)):
                # A number: stall this long before answering (a timeout for the client).
                import asyncio

                await asyncio.sleep(reply)
                reply = None
            if reply:
                return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        rcpt = envelope.rcpt_tos[0] if envelope.rcpt_tos else ""
        hold = self.behaviour.delay_data + (self.behaviour.hold_data(rcpt) if self.behaviour.hold_data else 0)
        if hold:
            import asyncio

            with self.lock:
                self.in_data.add(rcpt)
            try:
                await asyncio.sleep(hold)
            finally:
                with self.lock:
                    self.in_data.discard(rcpt)
        with self.lock:
            self.data_attempts[rcpt] = self.data_attempts.get(rcpt, 0) + 1
            attempt = self.data_attempts[rcpt]
        if self.behaviour.on_data:
            reply = self.behaviour.on_data(rcpt, attempt)
            if reply:
                return reply
        raw = envelope.original_content or envelope.content
        parsed = email.message_from_bytes(raw, policy=policy.default)
        with self.lock:
            self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, parsed))
        return "250 2.0.0 OK: queued"

    def to(self, address: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if address in m.rcpt_tos]

    def copies(self) -> dict[str, int]:
        """Messages received per recipient."""
        out: dict[str, int] = {}
        with self.lock:
            for m in self.messages:
                for rcpt in m.rcpt_tos:
                    out[rcpt] = out.get(rcpt, 0) + 1
        return out

    def count(self) -> int:
        with self.lock:
            return len(self.messages)


class SMTPServer:
    def __init__(self):
        from aiosmtpd.controller import Controller

        self.handler = SMTPCollector()
        self.port = free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)

    def start(self) -> None:
        self.controller.start()

    def stop(self) -> None:
        self.controller.stop()


# --- Celery workers ---------------------------------------------------------------------------


def database_url_for_children() -> str:
    """The URL of the database the test process uses (the test database), for workers."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    from urllib.parse import quote

    auth = quote(s["USER"] or "", safe="")
    if s.get("PASSWORD"):
        auth += ":" + quote(s["PASSWORD"], safe="")
    host = s.get("HOST") or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{auth}@/{s['NAME']}?host={quote(host, safe='')}" + (
            f"&port={s['PORT']}" if s.get("PORT") else ""
        )
    port = f":{s['PORT']}" if s.get("PORT") else ""
    return f"postgres://{auth}@{host}{port}/{s['NAME']}"


@dataclass
class Worker:
    process: subprocess.Popen
    log_path: Path
    name: str

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def alive(self) -> bool:
        return self.process.poll() is None

    def kill9(self) -> None:
        """SIGKILL the whole worker (main process and its pool children)."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)

    def stop(self) -> None:
        if self.alive():
            try:
                os.killpg(self.process.pid, signal.SIGTERM)
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()
            except ProcessLookupError:
                pass


@dataclass
class WorkerFactory:
    env: dict[str, str]
    logdir: Path
    workers: list[Worker] = field(default_factory=list)

    def start(self, concurrency: int = 2, queues: str = "default,mail,ingest", extra_env: dict | None = None,
              name: str | None = None, app: str = "paperpost") -> Worker:
        """A worker process of the Celery app `app` (tests.crashing_worker plants faults)."""
        name = name or f"w{len(self.workers) + 1}"
        log_path = self.logdir / f"worker-{name}-{len(self.workers)}.log"
        env = {**self.env, **(extra_env or {})}
        process = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", app, "worker", "-l", "INFO",
             "-Q", queues, "--concurrency", str(concurrency), "--pool", "prefork",
             "-n", f"{name}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat"],
            cwd=ROOT,
            env=env,
            stdout=open(log_path, "wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, so kill9 reaches the pool too
        )
        worker = Worker(process, log_path, name)
        self.workers.append(worker)
        try:
            wait_for(lambda: " ready." in worker.log() or not worker.alive(), 60, f"celery worker {name} to start")
        finally:
            if not worker.alive():
                raise AssertionError(f"celery worker {name} exited at start:\n{worker.log()[-3000:]}")
        return worker

    def stop_all(self) -> None:
        for worker in self.workers:
            worker.stop()


def point_celery_at(broker_url: str | None):
    """Make this (test) process queue tasks on a real broker, or back to in-process."""
    from paperpost.celery import app

    app.conf.update(
        broker_url=broker_url or "memory://localhost/",
        task_always_eager=broker_url is None,
    )
    # Drop connection pools made for the previous broker (kombu keeps a global registry
    # keyed by URL, which would hand back a closed pool for the same URL).
    from kombu import pools

    if getattr(app, "_pool", None) is not None:
        app._pool.force_close_all()
        app._pool = None
    try:
        app.amqp._producer_pool = None
    except AttributeError:
        pass
    pools.reset()
