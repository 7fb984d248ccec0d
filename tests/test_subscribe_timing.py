"""/subscribe/ answers in the same time whatever the address: new, already subscribed or
suppressed. Measured over real HTTP against a live server, with a real SMTP server that takes
1.5 s to answer and a real Celery worker and Redis: what depends on the address (the rows,
the mail) is queued, so the slow server shows in no answer, and the mail still goes out."""

import statistics
import time

import pytest

from subscribers.models import Suppression, email_hash
from tests.services import wait_for
from tests.test_throttling import csrf_of, post

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

SMTP_DELAY = 1.5
ROUNDS = 6


def test_the_answer_takes_the_same_time_for_new_known_and_suppressed_addresses(
        live_server, workers, smtp_server, settings, make_subscriber):
    settings.SUBSCRIBE_RATE_PER_IP = "100/600"
    # The web process mails through the same slow server as the worker would, were it to mail.
    settings.EMAIL_BACKEND = "paperpost.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", smtp_server.port, 10
    inbox = smtp_server.handler
    inbox.behaviour.delay_data = SMTP_DELAY
    workers.start(concurrency=2)
    addresses = {"new": "new{}@example.org", "known": "known{}@example.org", "suppressed": "gone{}@example.org"}
    for i in range(ROUNDS):
        make_subscriber(addresses["known"].format(i))
        Suppression.objects.create(email_hash=email_hash(addresses["suppressed"].format(i)), reason="bounced")
    token, cookie = csrf_of(live_server.url)

    def subscribe(address: str) -> float:
        fields = {"email": address, "keywords": "LoRA", "frequency": "daily", "csrfmiddlewaretoken": token}
        start = time.perf_counter()
        assert post(live_server.url + "/subscribe/", fields, cookie) == 200
        return time.perf_counter() - start

    subscribe("warm-up@example.org")  # the first request of a process pays for imports and templates
    times: dict[str, list[float]] = {kind: [] for kind in addresses}
    for i in range(ROUNDS):
        for kind, address in addresses.items():  # interleaved, so the machine's load hits all three alike
            times[kind].append(subscribe(address.format(i)))
    medians = {kind: round(statistics.median(each), 3) for kind, each in times.items()}
    assert max(medians.values()) - min(medians.values()) < 0.25, (medians, times)
    assert max(medians.values()) < SMTP_DELAY / 2, (medians, times)

    # The worker sent what the answers did not wait for: a confirmation to each new address, a
    # "manage your subscription" link to each subscriber, nothing to a suppressed address.
    def delivered():
        return all(inbox.to(addresses[kind].format(i)) for kind in ("new", "known") for i in range(ROUNDS))

    wait_for(delivered, 120, "the worker to send the confirmations")
    assert inbox.to("new0@example.org")[0].message["Subject"] == "Confirm your Paperpost subscription"
    assert inbox.to("known0@example.org")[0].message["Subject"] == "Your Paperpost subscription"
    assert not any(inbox.to(addresses["suppressed"].format(i)) for i in range(ROUNDS))
