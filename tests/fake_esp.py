"""A local HTTP server that answers like Postmark's email API (POST /email and /email/batch,
the X-Postmark-Server-Token header, per-message ErrorCode answers), for sending through
anymail without the internet. Tests script its faults: answer 429 (with Retry-After) or 5xx
to the next requests, refuse some addresses as inactive (406) or invalid (300), or read a
request and close the connection without answering (the unknowable case)."""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from tests.services import free_port

TOKEN = "fake-postmark-token"


@dataclass
class Behaviour:
    # Statuses to answer the next requests with, in order (e.g. [429, 503]); empty: normal.
    statuses: list[int] = field(default_factory=list)
    retry_after: str = "1"
    inactive: set[str] = field(default_factory=set)  # ErrorCode 406 for these recipients
    invalid: set[str] = field(default_factory=set)  # ErrorCode 300
    drop_for: set[str] = field(default_factory=set)  # read the request, then close without answering


@dataclass
class Accepted:
    to: str
    subject: str
    text: str
    html: str
    headers: dict
    metadata: dict
    message_id: str
    track_opens: object = None
    track_links: object = None


class FakePostmark:
    def __init__(self):
        self.behaviour = Behaviour()
        self.accepted: list[Accepted] = []
        self.requests: list[tuple[str, int]] = []  # (path, messages in it)
        self.answers: list[int] = []  # HTTP status of each answer given
        self.lock = threading.Lock()
        self.port = free_port()
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def copies(self) -> dict[str, int]:
        out: dict[str, int] = {}
        with self.lock:
            for message in self.accepted:
                out[message.to] = out.get(message.to, 0) + 1
        return out

    def _answer_one(self, data: dict) -> dict:
        to = data.get("To", "")
        if to in self.behaviour.inactive:
            return {"ErrorCode": 406, "Message": f"You tried to send to a recipient that has been marked as "
                                                 f"inactive.\nFound inactive addresses: {to}.\nInactive recipients "
                                                 f"are ones that have generated a hard bounce or a spam complaint."}
        if to in self.behaviour.invalid:
            return {"ErrorCode": 300, "Message": "Invalid 'To' address."}
        message_id = str(uuid.uuid4())
        headers = {h["Name"]: h["Value"] for h in data.get("Headers", [])}
        with self.lock:
            self.accepted.append(Accepted(to, data.get("Subject", ""), data.get("TextBody", ""),
                                          data.get("HtmlBody", ""), headers, data.get("Metadata", {}), message_id,
                                          data.get("TrackOpens"), data.get("TrackLinks")))
        return {"To": to, "SubmittedAt": "2026-03-19T07:00:00Z", "MessageID": message_id,
                "ErrorCode": 0, "Message": "OK"}

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def _reply(self, status: int, body, headers: dict | None = None):
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)
                with fake.lock:
                    fake.answers.append(status)

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"null")
                messages = body if isinstance(body, list) else [body]
                with fake.lock:
                    fake.requests.append((self.path, len(messages)))
                    scripted = fake.behaviour.statuses.pop(0) if fake.behaviour.statuses else None
                if self.headers.get("X-Postmark-Server-Token") != TOKEN:
                    return self._reply(401, {"ErrorCode": 10, "Message": "Bad or missing Server API token."})
                if scripted:
                    extra = {"Retry-After": fake.behaviour.retry_after} if scripted == 429 else {}
                    return self._reply(scripted, {"ErrorCode": 0 if scripted >= 500 else 429,
                                                  "Message": "scripted failure"}, extra)
                if any(m.get("To") in fake.behaviour.drop_for for m in messages):
                    for m in messages:  # it arrived: the ESP will send it, but nobody hears back
                        fake._answer_one(m)
                    self.close_connection = True
                    self.connection.shutdown(2)
                    return
                answers = [fake._answer_one(m) for m in messages]
                if self.path.rstrip("/").endswith("/batch"):
                    return self._reply(200, answers)
                answer = answers[0]
                return self._reply(200 if answer["ErrorCode"] == 0 else 422, answer)

        return Handler
