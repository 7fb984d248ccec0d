from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from paperpost.commands import fail
from subscribers.models import Frequency
from subscribers.services import SubscriberInput, upsert_confirmed


class Command(BaseCommand):
    help = (
        "Add an already-confirmed subscriber (for operators moving an existing list with its "
        "consent). An existing address is updated, not duplicated."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--keywords", default="", help='keywords and phrases, e.g. "LoRA, knowledge distillation, -survey"')
        parser.add_argument("--topics", default="", help="topic slugs, e.g. lora-peft,pruning-compression")
        parser.add_argument("--categories", default="", help="arXiv categories, e.g. cs.LG,cs.CL or cs.*")
        parser.add_argument("--authors", default="", help="followed authors, separated by commas")
        parser.add_argument("--frequency", choices=Frequency.values, default=Frequency.DAILY)

    def handle(self, *args, email, keywords, topics, categories, authors, frequency, **options):
        data = SubscriberInput(
            email=email, keywords=keywords, topics=topics, categories=categories,
            authors=authors, frequency=frequency,
        )
        try:
            subscriber, created = upsert_confirmed(data, source="add_subscriber")
        except ValidationError as exc:
            raise fail("; ".join(exc.messages))
        verb = "added" if created else "updated"
        topics_line = ", ".join(t.slug for t in subscriber.topics.all()) or "none"
        self.stdout.write(f"{verb} {subscriber.email} ({subscriber.frequency}; topics: {topics_line})")
