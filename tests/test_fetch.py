"""Fetching with guards, against a real HTTP server on loopback."""

import gzip
import http.server
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from digest.ingest.fetch import FetchError, check_address, fetch
from digest.ingest.pipeline import IngestError, ingest_source
from digest.models import Paper, Source
from tests.conftest import data_file

SMALL = "arxiv_rss_new/distill_rss_cs.AI_2026-04-27_trimmed3items.xml"


class Handler(http.server.BaseHTTPRequestHandler):
    body = b""
    hits: list = []

    def log_message(self, *args):
        pass

    def do_GET(self):
        Handler.hits.append((self.path, dict(self.headers)))
        port = self.server.server_address[1]
        routes = {
            "/feed.xml": self.feed,
            "/gzip.xml": self.gzipped,
            "/bomb.xml": self.bomb,
            "/huge.xml": self.huge,
            "/slow.xml": self.slow,
            "/drip.xml": self.drip,
            "/to-metadata": lambda: self.redirect("http://169.254.169.254/latest/meta-data/"),
            "/to-file": lambda: self.redirect("file:///etc/passwd"),
            "/to-localhost": lambda: self.redirect(f"http://localhost:{port}/feed.xml"),
            "/to-feed": lambda: self.redirect("/feed.xml"),
            "/loop": lambda: self.redirect("/loop"),
            "/api-error": self.api_error,
        }
        routes.get(self.path, self.not_found)()

    def send(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def feed(self):
        if self.headers.get("If-None-Match") == '"v1"':
            return self.send(304)
        self.send(200, Handler.body, {"ETag": '"v1"', "Last-Modified": "Mon, 27 Apr 2026 04:00:01 GMT",
                                      "Content-Type": "application/rss+xml"})

    def gzipped(self):
        self.send(200, gzip.compress(Handler.body), {"Content-Encoding": "gzip"})

    def bomb(self):
        self.send(200, gzip.compress(b" " * 30_000_000), {"Content-Encoding": "gzip"})

    def huge(self):
        self.send_response(200)
        self.end_headers()  # no Content-Length: the cap must hold while streaming
        try:
            for _ in range(30):
                self.wfile.write(b"x" * 1_000_000)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def slow(self):
        time.sleep(3)
        self.send(200, Handler.body)

    def drip(self):
        # Headers at once, then one byte at a time: every read returns before a per-read
        # timeout would fire, so only a total deadline stops it.
        self.send_response(200)
        self.send_header("Content-Length", "1000")
        self.end_headers()
        try:
            for _ in range(100):
                self.wfile.write(b"x")
                self.wfile.flush()
                time.sleep(0.1)
        except (BrokenPipeError, ConnectionResetError):
            pass

    def redirect(self, location):
        self.send(302, b"", {"Location": location})

    def api_error(self):
        self.send(400, data_file("arxiv_api_atom/derived_bodies/arxivpy_recorded_2026_id_abc_HTTP400_error.body.xml").read_bytes())

    def not_found(self):
        self.send(404, b"not here")


@pytest.fixture
def server():
    Handler.body = data_file(SMALL).read_bytes()
    Handler.hits = []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture
def allow_loopback(settings):
    settings.INGEST_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.INGEST_TIMEOUT = 1
    settings.INGEST_MAX_BYTES = 5_000_000


@pytest.mark.parametrize("ip", ["127.0.0.1", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254",
                                "100.64.0.1", "0.0.0.0", "::1", "fe80::1", "fc00::1", "::ffff:127.0.0.1", "224.0.0.1"])
def test_non_public_addresses_are_refused(ip):
    with pytest.raises(FetchError, match="refused"):
        check_address(ip)


def test_public_addresses_pass():
    check_address("93.184.216.34")
    check_address("2606:4700:4700::1111")


def test_loopback_is_refused_without_an_allowance(server, settings):
    settings.INGEST_ALLOWED_HOSTS = []
    with pytest.raises(FetchError, match="127.0.0.1 is a loopback address"):
        fetch(server + "/feed.xml")
    assert Handler.hits == []  # refused before connecting


@pytest.mark.parametrize("url", ["http://10.0.0.1/feed", "http://192.168.0.10:8080/x", "http://[::1]/feed", "http://169.254.169.254/latest/meta-data/"])
def test_private_addresses_are_refused_before_connecting(url, settings):
    settings.INGEST_ALLOWED_HOSTS = []
    with pytest.raises(FetchError, match="refused"):
        fetch(url)


@pytest.mark.parametrize("url", ["file:///etc/passwd", "ftp://example.org/feed", "gopher://x/", "/etc/passwd", "data:text/plain,hi"])
def test_only_http_and_https(url):
    with pytest.raises(FetchError, match="only http and https"):
        fetch(url)


def test_a_redirect_to_the_metadata_address_is_refused(server, allow_loopback):
    with pytest.raises(FetchError, match="169.254.169.254 is a link-local address"):
        fetch(server + "/to-metadata")


def test_a_redirect_to_a_file_url_is_refused(server, allow_loopback):
    with pytest.raises(FetchError, match="only http and https"):
        fetch(server + "/to-file")


def test_each_redirect_is_checked_again_by_name(server, allow_loopback):
    # 127.0.0.1 is allowed by name, "localhost" is not, though it is the same address.
    with pytest.raises(FetchError, match="loopback"):
        fetch(server + "/to-localhost")


def test_relative_redirects_and_loops(server, allow_loopback):
    assert fetch(server + "/to-feed").body == Handler.body
    with pytest.raises(FetchError, match="more than 5 redirects"):
        fetch(server + "/loop")


def test_conditional_get_and_user_agent(server, allow_loopback):
    first = fetch(server + "/feed.xml")
    assert first.status == 200 and first.etag == '"v1"' and first.last_modified
    second = fetch(server + "/feed.xml", etag=first.etag, last_modified=first.last_modified)
    assert second.not_modified
    _, headers = Handler.hits[-1]
    assert headers["If-None-Match"] == '"v1"' and headers["User-Agent"].startswith("Paperpost/")


def test_gzip_bodies_and_caps(server, allow_loopback):
    assert fetch(server + "/gzip.xml").body == Handler.body
    with pytest.raises(FetchError, match="decompressed body is larger than 5 MB"):
        fetch(server + "/bomb.xml")
    with pytest.raises(FetchError, match="larger than 5 MB"):
        fetch(server + "/huge.xml")


def test_timeouts(server, allow_loopback):
    start = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(server + "/slow.xml")
    assert time.monotonic() - start < 2.5


def test_the_timeout_is_a_total_deadline(server, allow_loopback):
    start = time.monotonic()
    with pytest.raises(FetchError, match="timed out"):
        fetch(server + "/drip.xml")
    assert time.monotonic() - start < 2.5


@pytest.mark.parametrize("url", ["http://127.0.0.1:99999/feed.xml", "http://127.0.0.1:-1/x", "http://[::1/x"])
def test_an_impossible_url_is_a_one_line_error(url, allow_loopback):
    with pytest.raises(FetchError, match="not a valid URL"):
        fetch(url)


@pytest.mark.django_db
def test_the_command_reports_a_bad_port_in_one_line(allow_loopback):
    with pytest.raises(CommandError, match=r"port.*99999") as info:
        call_command("ingest", "http://127.0.0.1:99999/feed.xml")
    assert "\n" not in str(info.value)


@pytest.mark.django_db
def test_run_now_with_a_bad_port_records_the_error_instead_of_failing(admin_client, allow_loopback):
    source = Source.objects.create(name="typo", url="http://127.0.0.1:99999/feed.xml")
    response = admin_client.post("/admin/digest/source/", {"action": "run_now", "_selected_action": [source.pk]})
    assert response.status_code == 302
    source.refresh_from_db()
    assert "99999" in source.last_error and source.last_checked_at


def test_a_dead_port_is_a_clear_error(allow_loopback):
    from tests.services import free_port

    with pytest.raises(FetchError, match="ConnectionRefusedError"):
        fetch(f"http://127.0.0.1:{free_port()}/feed.xml")


# --- Sources -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_source_is_fetched_stored_and_then_not_modified(server, allow_loopback):
    source = Source.objects.create(name="cs.AI", url=server + "/feed.xml")
    summary = ingest_source(source)
    assert summary.line() == "3 papers: 3 new, 0 updated, 0 unchanged, 0 errors"
    source.refresh_from_db()
    assert source.etag == '"v1"' and source.last_success_at and source.last_error == ""
    assert source.last_counts["new"] == 3
    again = ingest_source(source)
    assert again.total == 0 and again.messages == ["not modified since the last fetch"]
    assert Paper.objects.count() == 3


@pytest.mark.django_db
def test_a_failing_source_records_its_error_and_keeps_the_data(server, allow_loopback):
    good = Source.objects.create(name="good", url=server + "/feed.xml")
    ingest_source(good)
    bad = Source.objects.create(name="api", url=server + "/api-error", format=Source.Format.ARXIV_API)
    with pytest.raises(IngestError, match="arXiv API error: incorrect id format for abc"):
        ingest_source(bad)
    bad.refresh_from_db()
    assert "incorrect id format" in bad.last_error and bad.last_success_at is None
    assert Paper.objects.count() == 3


@pytest.mark.django_db
def test_the_command_ingests_all_enabled_sources_or_one(server, allow_loopback, capsys):
    Source.objects.create(name="ai", url=server + "/feed.xml")
    Source.objects.create(name="off", url=server + "/huge.xml", enabled=False)
    call_command("ingest")
    assert "ai: 3 papers: 3 new" in capsys.readouterr().out
    call_command("ingest", "--source", "ai")  # --source fetches even when unchanged
    assert "ai: 3 papers: 0 new, 0 updated, 3 unchanged" in capsys.readouterr().out
    with pytest.raises(CommandError, match="no source named 'nope'"):
        call_command("ingest", "--source", "nope")


@pytest.mark.django_db
def test_the_command_fetches_urls_and_refuses_bad_ones(server, allow_loopback, capsys, settings):
    call_command("ingest", server + "/gzip.xml")
    assert "3 papers: 3 new" in capsys.readouterr().out
    settings.INGEST_ALLOWED_HOSTS = []
    with pytest.raises(CommandError, match="loopback"):
        call_command("ingest", server + "/feed.xml")


@pytest.mark.django_db
def test_the_beat_task_ingests_due_sources(server, allow_loopback):
    from digest.tasks import ingest_due_sources

    Source.objects.create(name="ai", url=server + "/feed.xml", interval_minutes=60)
    assert ingest_due_sources() == 1
    assert Paper.objects.count() == 3
    assert ingest_due_sources() == 0  # not due again for an hour


def test_source_urls_must_be_http():
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError):
        Source(name="x", url="file:///etc/passwd").full_clean(validate_unique=False)
