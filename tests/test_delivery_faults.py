"""The delivery engine under faults, with the real parts: a Redis broker, Celery worker
processes, the SMTP test server (aiosmtpd) and the database. 1,000 subscribers each.

Run alone with `make test PYTEST_ARGS="-m faults"`; CI runs them with everything else."""

import time

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from subscribers.delivery import build_edition
from subscribers.models import Delivery, Edition, Subscriber, Suppression
from subscribers.tokens import make_token
from tests.delivery_checks import FAST, assert_exactly_once, make_readers, run_until_done
from tests.services import point_celery_at, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.django_db(transaction=True)]

N = 1000


@pytest.fixture
def audience(batch):
    """1,000 active subscribers whose interests match the page (3 papers each)."""
    make_readers(N)
    return batch


def test_kill_9_a_worker_mid_edition_three_times(audience, workers, smtp_server, fast):
    # Three messages are held in DATA for a moment (shorter than EMAIL_TIMEOUT): each kill
    # lands while the worker waits for the server's reply to one of them, so every kill
    # interrupts a send for certain.
    traps = ["reader0200@example.org", "reader0450@example.org", "reader0700@example.org"]
    smtp_server.handler.behaviour.hold_data = lambda rcpt: 1.5 if rcpt in traps else 0
    worker = workers.start(concurrency=2, extra_env=FAST, name="first")
    edition, _ = build_edition(audience)
    in_flight_max = 0
    for kill, trap in enumerate(traps, start=1):
        wait_for(lambda: trap in smtp_server.handler.in_data, 120, f"the message to {trap} in DATA (kill {kill})")
        worker.kill9()
        # The worker died between the message data and the reply: no outcome was written.
        assert Delivery.objects.get(subscriber__email=trap).status == "sending"
        in_flight_max += 2  # at most one message per pool process
        worker = workers.start(concurrency=2, extra_env=FAST, name=f"restart{kill}")
    counts = run_until_done(edition, 240)
    unknown = assert_exactly_once(smtp_server, allow_unknown=in_flight_max)
    assert counts["sent"] + counts["unknown"] == N and counts["failed"] == 0
    # The interrupted sends are the ones the sweep could not call: unknown, never resent.
    assert set(traps) <= set(unknown)
    for row in Delivery.objects.filter(status="unknown"):
        assert row.last_error.startswith("outcome unknown")
    print(f"\nkill -9 x3: sent {counts['sent']}, unknown {len(unknown)}: {unknown}")


def test_a_visibility_timeout_shorter_than_a_task_sends_no_duplicates(audience, workers, smtp_server, settings):
    settings.DIGEST_CHUNK_SIZE = 125
    smtp_server.handler.behaviour.delay_data = 0.06  # a 125-row chunk takes ~8 s, 4x the visibility timeout
    env = {**FAST, "DIGEST_CHUNK_SIZE": "125", "CELERY_VISIBILITY_TIMEOUT": "2", "DELIVERY_STUCK_SECONDS": "300",
           "CELERY_UNACKED_RESTORE_INTERVAL": "1", "CELERY_UNACKED_RESTORE_THROTTLE": "1"}
    workers.start(concurrency=2, extra_env=env, name="slow1")
    workers.start(concurrency=2, extra_env=env, name="slow2")
    edition, _ = build_edition(audience)
    counts = run_until_done(edition, 300)
    assert counts["sent"] == N
    # Redis hands unacknowledged tasks out again (kombu restores them every 10 s); the copy
    # finds its rows claimed or done and sends nothing.
    wait_for(lambda: "'claimed': 0" in "".join(w.log() for w in workers.workers), 60,
             "a task delivered a second time by Redis")
    time.sleep(2)
    assert_exactly_once(smtp_server)
    assert smtp_server.handler.count() == N


def test_temporary_failures_are_retried_until_each_gets_one_copy(audience, workers, smtp_server, fast, settings):
    # Rows here stall for the whole EMAIL_TIMEOUT (2 s): on a loaded machine a live chunk can go
    # longer than FAST's 3 s without an outcome, which the sweep would take for a dead worker.
    settings.DELIVERY_STUCK_SECONDS = 15
    def flaky(kind):
        def decide(address, attempt):
            n = int(address[6:10])
            if attempt == 1 and n % 10 < 3:  # 30% fail their first try
                if kind == "rcpt":
                    return {0: "451 4.3.0 Try again later", 1: 3.0}.get(n % 10)  # 3.0: stall past the timeout
                return "421 4.7.0 Too busy, come back later" if n % 10 == 2 else None
            return None
        return decide

    smtp_server.handler.behaviour.on_rcpt = flaky("rcpt")
    smtp_server.handler.behaviour.on_data = flaky("data")
    workers.start(concurrency=2, extra_env=FAST)
    edition, _ = build_edition(audience)
    counts = run_until_done(edition, 300)
    assert counts["sent"] == N and counts["failed"] == 0 and counts["unknown"] == 0
    assert_exactly_once(smtp_server)
    retried = Delivery.objects.filter(attempts__gte=2).count()
    assert retried >= 0.25 * N
    assert Delivery.objects.filter(attempts=1).count() >= 0.6 * N


def test_550_fails_once_and_suppresses(audience, workers, smtp_server, fast):
    bad = {f"reader{i:04d}@example.org" for i in range(0, N, 20)}  # 50 addresses
    smtp_server.handler.behaviour.on_rcpt = lambda address, attempt: "550 5.1.1 No such user" if address in bad else None
    workers.start(concurrency=2, extra_env=FAST)
    edition, _ = build_edition(audience)
    counts = run_until_done(edition, 300)
    assert counts["failed"] == len(bad) and counts["sent"] == N - len(bad)
    for row in Delivery.objects.filter(status="failed").select_related("subscriber"):
        assert row.attempts == 1 and row.last_error.startswith(f"{row.subscriber.email}: 550 5.1.1")
        assert row.subscriber.status == "bounced"
    assert Suppression.objects.filter(reason="bounced").count() == len(bad)
    assert all(smtp_server.handler.rcpt_attempts[a] == 1 for a in bad)
    assert_exactly_once(smtp_server)


def test_the_broker_down_while_the_edition_is_built(audience, workers, smtp_server, redis_server, fast):
    workers.start(concurrency=2, extra_env=FAST)
    redis_server.stop()
    started = time.monotonic()
    call_command("send_digest")  # queueing fails fast; the rows are committed anyway
    assert time.monotonic() - started < 30
    edition = Edition.objects.get()
    assert edition.deliveries.filter(status="pending").count() == N
    redis_server.start()  # same port
    point_celery_at(redis_server.url)
    counts = run_until_done(edition, 300)
    assert counts["sent"] == N
    assert_exactly_once(smtp_server)


def test_one_click_unsubscribe_between_build_and_send(audience, workers, smtp_server, fast):
    edition, _ = build_edition(audience)  # tasks wait in Redis: no worker yet
    leaver = Subscriber.objects.get(email="reader0007@example.org")
    response = Client().post(f"/u/{make_token(leaver, 'unsubscribe')}/unsubscribe/",
                             data="List-Unsubscribe=One-Click", content_type="application/x-www-form-urlencoded")
    assert response.status_code == 200
    workers.start(concurrency=2, extra_env=FAST)
    counts = run_until_done(edition, 300)
    assert counts["sent"] == N - 1 and counts["skipped"] == 1
    assert smtp_server.handler.to("reader0007@example.org") == []
    assert Delivery.objects.get(subscriber=leaver).skip_reason == "subscriber unsubscribed"
    assert_exactly_once(smtp_server)


def test_redis_stopped_while_workers_are_sending(audience, workers, smtp_server, redis_server, fast):
    smtp_server.handler.behaviour.delay_data = 0.01  # an edition that takes a while to go out
    workers.start(concurrency=2, extra_env=FAST)
    edition, _ = build_edition(audience)
    wait_for(lambda: smtp_server.handler.count() >= N // 4, 120, "a quarter of the edition sent")
    redis_server.stop()  # the queued chunk tasks go with it (no persistence)
    stopped_at = smtp_server.handler.count()
    assert stopped_at < N
    time.sleep(4)  # the chunks being sent finish; their acknowledgements have nowhere to go
    assert smtp_server.handler.count() > stopped_at  # the workers were sending through the outage
    assert edition.deliveries.filter(status="pending").exists()
    redis_server.start()  # same port, empty
    point_celery_at(redis_server.url)
    counts = run_until_done(edition, 300)  # the sweep queues what Redis lost
    assert counts["sent"] == N and counts["failed"] == 0 and counts["unknown"] == 0
    assert_exactly_once(smtp_server)
    print(f"\nRedis stopped after {stopped_at} messages; all {N} sent once each")


# --- A crash inside a chunk (planted in the worker by tests/crashing_worker.py) -----------------


def crashing(fault: str) -> dict:
    return {**FAST, "PAPERPOST_TEST_CRASH": fault}


def test_a_crash_while_rendering_fails_that_row_with_the_error_and_sends_the_rest(
        audience, workers, smtp_server, fast):
    victims = ["reader0003@example.org", "reader0500@example.org"]
    workers.start(concurrency=2, extra_env=crashing("render:" + ",".join(victims)), app="tests.crashing_worker")
    with pytest.raises(CommandError) as failed:
        call_command("send_digest", "--wait", "--timeout", "240")
    assert str(failed.value).startswith("2 deliveries failed (1 x could not build the email: ValueError: planted")
    counts = Edition.objects.get().status_counts()
    assert counts["sent"] == N - 2 and counts["failed"] == 2 and counts["sending"] == 0
    for row in Delivery.objects.filter(status="failed").select_related("subscriber"):
        assert row.subscriber.email in victims and row.attempts == 1
        assert row.last_error.startswith("could not build the email: ValueError: planted")
        assert row.subscriber.status == "active"  # our bug, not their address
    assert_exactly_once(smtp_server)


def test_a_crash_while_ranking_ends_send_digest_wait_with_the_reason(
        batch, make_subscriber, workers, smtp_server, fast):
    for i in range(30):
        make_subscriber(f"reader{i:04d}@example.org", topics=["llm"])
    workers.start(concurrency=2, extra_env=crashing("rank"), app="tests.crashing_worker")
    started = time.monotonic()
    with pytest.raises(CommandError) as failed:
        call_command("send_digest", "--wait", "--timeout", "240")
    assert time.monotonic() - started < 60
    assert "30 deliveries failed (30 x could not build the email: OverflowError: planted" in str(failed.value)
    assert not Delivery.objects.filter(status__in=Delivery.OPEN).exists()
    assert smtp_server.handler.count() == 0


def test_a_chunk_whose_preparation_fails_goes_back_with_the_error_and_is_retried(
        audience, workers, smtp_server, fast):
    workers.start(concurrency=2, extra_env=crashing("prepare-once"), app="tests.crashing_worker")
    edition, _ = build_edition(audience)
    counts = run_until_done(edition, 300)
    assert counts["sent"] == N and counts["failed"] == 0 and counts["unknown"] == 0
    # One chunk per pool process failed to prepare, went back with why, and was sent later.
    retried = Delivery.objects.filter(attempts=2)
    assert 0 < retried.count() <= 2 * int(FAST["DIGEST_CHUNK_SIZE"])
    assert_exactly_once(smtp_server)


def test_send_digest_wait_gives_up_with_a_reason_when_nothing_moves(audience, workers, fast):
    # The tasks wait in Redis, but no worker consumes the mail queue.
    started = time.monotonic()
    with pytest.raises(CommandError, match=r"no progress for 3s with 1000 deliveries open; is a worker consuming"):
        call_command("send_digest", "--wait", "--stall", "3")
    assert time.monotonic() - started < 30
