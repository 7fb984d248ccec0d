import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from subscribers.models import Subscriber


@pytest.mark.django_db
def test_add_subscriber_adds_a_confirmed_subscriber(capsys):
    call_command("add_subscriber", "Reader@Example.org", "--topics", "lora-peft,unlearning",
                 "--keywords", '"knowledge distillation", -survey', "--categories", "cs.LG, cs.*")
    subscriber = Subscriber.objects.get()
    assert subscriber.email == "reader@example.org"
    assert subscriber.status == Subscriber.Status.ACTIVE
    assert subscriber.confirmed_at and subscriber.consent_source == "add_subscriber"
    assert sorted(t.slug for t in subscriber.topics.all()) == ["lora-peft", "unlearning"]
    assert subscriber.keywords == "knowledge distillation, -survey"
    assert subscriber.categories == "cs.LG, cs.*"
    assert "added reader@example.org" in capsys.readouterr().out


@pytest.mark.django_db
def test_add_subscriber_twice_updates(capsys):
    call_command("add_subscriber", "a@example.org", "--keywords", "LoRA")
    call_command("add_subscriber", "A@example.org", "--keywords", "pruning", "--frequency", "weekly")
    subscriber = Subscriber.objects.get()
    assert (subscriber.keywords, subscriber.frequency) == ("pruning", "weekly")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "args, message",
    [
        (["not-an-email"], "valid email"),
        (["a@example.org", "--topics", "no-such-topic"], "unknown topic no-such-topic"),
        (["a@example.org", "--categories", "cs.LG; DROP TABLE"], "not an arXiv category"),
    ],
)
def test_add_subscriber_rejects_bad_input_with_a_reason(args, message):
    with pytest.raises(CommandError, match=message):
        call_command("add_subscriber", *args)
    assert Subscriber.objects.count() == 0


@pytest.mark.django_db
def test_send_digest_needs_a_published_batch(page_bytes):
    from digest.ingest.pipeline import ingest_bytes

    with pytest.raises(CommandError, match="no published batch"):
        call_command("send_digest")
    ingest_bytes(page_bytes)
    with pytest.raises(CommandError, match="not published"):
        call_command("send_digest", "--date", "2026-03-19")


@pytest.mark.django_db(transaction=True)
def test_send_digest_in_process_and_again(batch, make_subscriber, capsys):
    from django.core import mail

    make_subscriber("a@example.org", topics=["lora-peft"])
    call_command("send_digest", "--wait")
    assert "sent 1, skipped 0, failed 0" in capsys.readouterr().out
    call_command("send_digest", "--wait")
    assert "0 new deliveries (1 in all)" in capsys.readouterr().out
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_dead_smtp_server_fails_the_rows_with_the_error_and_keeps_others(batch, make_subscriber, settings, capsys):
    from tests.services import free_port
    from subscribers.models import Delivery

    settings.EMAIL_BACKEND = "paperpost.mail.SMTPBackend"
    settings.EMAIL_HOST, settings.EMAIL_PORT, settings.EMAIL_TIMEOUT = "127.0.0.1", free_port(), 2
    settings.DELIVERY_RETRY_BASE_SECONDS = 0.01
    make_subscriber("a@example.org", topics=["lora-peft"])
    make_subscriber("b@example.org", keywords="quantum chromodynamics")
    with pytest.raises(CommandError, match="1 deliveries failed"):
        call_command("send_digest", "--wait", "--timeout", "60")
    row = Delivery.objects.get(subscriber__email="a@example.org")
    assert row.status == "failed" and "Connection refused" in row.last_error
    assert row.attempts == settings.DELIVERY_MAX_ATTEMPTS and row.last_error.startswith("gave up after 5 attempts")
    assert Delivery.objects.get(subscriber__email="b@example.org").status == "skipped"


@pytest.mark.parametrize("command", ["ingest", "publish", "send_digest", "add_subscriber"])
def test_every_command_has_help(command, capsys):
    with pytest.raises(SystemExit) as exit_info:
        call_command(command, "--help")
    assert exit_info.value.code == 0
    assert "usage:" in capsys.readouterr().out


@pytest.mark.django_db
def test_add_subscriber_never_brings_back_someone_who_left(capsys, make_subscriber):
    make_subscriber("left@example.org", status=Subscriber.Status.UNSUBSCRIBED, keywords="LoRA")
    with pytest.raises(CommandError, match="unsubscribed.*--resubscribe"):
        call_command("add_subscriber", "left@example.org", "--keywords", "pruning")
    assert Subscriber.objects.get().status == Subscriber.Status.UNSUBSCRIBED
    with pytest.raises(CommandError, match="--consent"):
        call_command("add_subscriber", "left@example.org", "--keywords", "pruning", "--resubscribe")
    call_command("add_subscriber", "left@example.org", "--keywords", "pruning", "--resubscribe",
                 "--consent", "asked by email on 2026-03-01")
    subscriber = Subscriber.objects.get()
    assert subscriber.status == Subscriber.Status.ACTIVE and subscriber.unsubscribed_at is None
    assert "asked by email on 2026-03-01" in subscriber.consent_source and subscriber.consent_at
