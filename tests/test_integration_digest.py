"""The whole daily digest through real parts: a Redis broker, a Celery worker process,
an SMTP server on loopback that receives and parses every message, and the database."""

import re

import pytest
from django.core.management import call_command

from digest.matching import match
from digest.selection import PeriodContent
from subscribers.models import Delivery, Edition, Subscriber
from tests.conftest import PAGE

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def titles_in(received) -> list[str]:
    text = received.message.get_body(("plain",)).get_content()
    return [m.group(1) for line in text.splitlines() if (m := re.match(r"^\d+\. (.+)$", line))]


def test_each_subscriber_gets_exactly_one_email_with_exactly_their_papers(workers, smtp_server, capsys):
    call_command("ingest", str(PAGE))
    call_command("publish")
    call_command("add_subscriber", "lora@example.org", "--topics", "lora-peft", "--frequency", "daily")
    call_command("add_subscriber", "unlearn@example.org", "--topics", "unlearning,continual-learning")
    call_command("add_subscriber", "kd@example.org", "--keywords", '"knowledge distillation", -survey')
    call_command("add_subscriber", "physics@example.org", "--keywords", "quantum chromodynamics")
    Subscriber.objects.update(max_papers=50)  # so the email holds every match
    workers.start(concurrency=2)

    call_command("send_digest", "--wait", "--timeout", "120")
    out = capsys.readouterr().out
    assert "sent 3, skipped 1, failed 0, unknown 0" in out

    edition = Edition.objects.get()
    content = PeriodContent(edition.start_date, edition.end_date)
    for address in ("lora@example.org", "unlearn@example.org", "kd@example.org"):
        received = smtp_server.handler.to(address)
        assert len(received) == 1, address
        subscriber = Subscriber.objects.get(email=address)
        expected = [content.papers[m.paper_id].title for m in match(subscriber.interests(), content.index)]
        assert expected, address
        assert titles_in(received[0]) == expected, address
        delivery = Delivery.objects.get(subscriber=subscriber)
        assert delivery.status == "sent" and delivery.sent_at is not None
        assert received[0].message["Message-ID"] == delivery.message_id
        assert [p["paper"] for p in delivery.papers] == [
            m.paper_id for m in match(subscriber.interests(), content.index)
        ]
    assert smtp_server.handler.to("physics@example.org") == []
    physics = Delivery.objects.get(subscriber__email="physics@example.org")
    assert (physics.status, physics.skip_reason) == ("skipped", "nothing above your floor")

    # A few papers checked by hand, so the test does not only agree with itself.
    lora_titles = titles_in(smtp_server.handler.to("lora@example.org")[0])
    assert any(t.startswith("LoLDU") for t in lora_titles)
    assert any(t.startswith("IncreLoRA") for t in lora_titles)
    kd_titles = titles_in(smtp_server.handler.to("kd@example.org")[0])
    assert "Compact Language Models via Pruning and Knowledge Distillation" in kd_titles
    assert not any("Survey" in t for t in kd_titles)

    # Running it again sends nothing new.
    call_command("send_digest", "--wait", "--timeout", "60")
    assert "0 new deliveries (4 in all)" in capsys.readouterr().out
    assert smtp_server.handler.count() == 3
    assert Delivery.objects.count() == 4
    edition.refresh_from_db()
    assert edition.status == Edition.Status.DONE
