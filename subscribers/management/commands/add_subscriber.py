from __future__ import annotations

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand

from paperpost.commands import fail
from subscribers.models import Frequency, Strictness
from subscribers.schedule import effective
from subscribers.services import Refused, SubscriberInput, upsert_confirmed


class Command(BaseCommand):
    help = (
        "Add an already-confirmed subscriber (for operators moving an existing list with its "
        "consent). An existing address is updated, not duplicated. An address that unsubscribed "
        "is refused unless --resubscribe is given with --consent saying how they asked again."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument("--keywords", default="", help='keywords and phrases, e.g. "LoRA, knowledge distillation, -survey"')
        parser.add_argument("--topics", default="", help="topic slugs, e.g. lora-peft,pruning-compression")
        parser.add_argument("--categories", default="", help="arXiv categories, e.g. cs.LG,cs.CL or cs.*")
        parser.add_argument("--authors", default="", help="followed authors, separated by commas")
        parser.add_argument("--about", default="", metavar="TEXT",
                            help='their interests in a sentence or two, e.g. "I work on LLM inference"')
        parser.add_argument("--like", default="", metavar="ID,ID",
                            help="papers they like: arXiv ids or links, separated by commas (unknown ids are "
                                 "fetched from the arXiv API)")
        parser.add_argument("--strictness", choices=Strictness.values, default="",
                            help="how strong a match must be: strict, balanced (the default) or broad")
        parser.add_argument("--frequency", choices=Frequency.values, default=Frequency.DAILY)
        parser.add_argument("--timezone", default="", metavar="AREA/CITY",
                            help="their time zone, e.g. Europe/Paris (default: the site's DIGEST_TIME_ZONE)")
        parser.add_argument("--hour", default="", metavar="H",
                            help="the hour (0-23, their clock) digests arrive (default: DIGEST_SEND_HOUR)")
        parser.add_argument("--weekday", default="", metavar="DAY",
                            help="weekly digests: the day they arrive, mon..sun (default: the edition's day)")
        parser.add_argument("--resubscribe", action="store_true",
                            help="bring back an address that unsubscribed (needs --consent)")
        parser.add_argument("--consent", default="", metavar="TEXT",
                            help='how and when they gave consent, e.g. "asked by email on 2026-03-01"')

    def handle(self, *args, email, keywords, topics, categories, authors, about, like, strictness, frequency, resubscribe,
               consent, timezone, hour, weekday, **options):
        if resubscribe and not consent.strip():
            raise fail('--resubscribe needs --consent "how and when they asked to come back"')
        data = SubscriberInput(
            email=email, keywords=keywords, topics=topics, categories=categories,
            authors=authors, frequency=frequency, consent=consent, about=about, like=like, strictness=strictness,
            timezone=timezone, hour=hour, weekday=weekday,
        )
        try:
            subscriber, created = upsert_confirmed(data, source="add_subscriber", resubscribe=resubscribe)
        except ValidationError as exc:
            raise fail("; ".join(exc.messages))
        except Refused as exc:
            raise fail(str(exc))
        verb = "added" if created else "updated"
        topics_line = ", ".join(t.slug for t in subscriber.topics.all()) or "none"
        liked = subscriber.liked_papers.count()
        fetching = sum(len(r.arxiv_ids) for r in subscriber.like_requests.filter(status="pending"))
        likes_line = f"; likes {liked} paper{'s' if liked != 1 else ''}" if liked or like else ""
        likes_line += f", {fetching} being fetched from arXiv" if fetching else ""
        zone, at = effective(subscriber.timezone, subscriber.send_hour)
        self.stdout.write(f"{verb} {subscriber.email} ({subscriber.frequency} at {at:02d}:00 {zone}, {subscriber.strictness}; "
                          f"topics: {topics_line}{likes_line})")
