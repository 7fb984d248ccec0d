"""Subscribers, editions (one send of a batch to a frequency group) and deliveries (the
ledger of what each subscriber was sent)."""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass

from django.core.validators import MaxValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone

from digest.matching import Interests, LearnedModel


class Frequency(models.TextChoices):
    DAILY = "daily", "Daily"
    WEEKLY = "weekly", "Weekly"


class Strictness(models.TextChoices):
    STRICT = "strict", "Strict: core matches only"
    BALANCED = "balanced", "Balanced"
    BROAD = "broad", "Broad: passing mentions too, last"


class Feedback(models.TextChoices):
    """The feedback links in a digest (/f/<token>/<action>/<id>/), with what each does."""

    MORE = "more", "Show me more papers like this one"
    FEWER = "fewer", "Show me fewer papers like this one"
    NOT = "not", "Not interested in this paper"
    MUTE = "mute", "Stop sending papers for this topic"


class Weekday(models.IntegerChoices):
    MONDAY = 0, "Monday"
    TUESDAY = 1, "Tuesday"
    WEDNESDAY = 2, "Wednesday"
    THURSDAY = 3, "Thursday"
    FRIDAY = 4, "Friday"
    SATURDAY = 5, "Saturday"
    SUNDAY = 6, "Sunday"


class SubscriberQuerySet(models.QuerySet):
    def deliverable(self, today=None):
        """Active subscribers who are not paused on `today`."""
        today = today or timezone.localdate()
        return self.filter(status=Subscriber.Status.ACTIVE).exclude(paused_until__gt=today)


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending confirmation"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Complained"

    # Random, never shown in full anywhere but signed links; rotating it voids old links.
    uid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    email = models.EmailField(max_length=254)
    status = models.CharField(max_length=14, choices=Status.choices, default=Status.PENDING, db_index=True)
    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    topics = models.ManyToManyField("digest.Topic", blank=True, related_name="subscribers")
    keywords = models.TextField(
        blank=True,
        help_text='Keywords and phrases, separated by commas; start one with - to exclude it',
    )
    categories = models.TextField(blank=True, help_text="arXiv categories, e.g. cs.CL, cs.*")
    authors = models.TextField(blank=True, help_text="Followed authors, separated by commas")
    about = models.TextField(
        blank=True, max_length=1000,
        help_text="Interests in a sentence or two, in the subscriber's words (matched by meaning)",
    )
    strictness = models.CharField(
        max_length=10, choices=Strictness.choices, default=Strictness.BALANCED,
        help_text="How strong a match must be to be sent: strict drops passing mentions, broad sends them last",
    )
    liked_papers = models.ManyToManyField(
        "digest.Paper", blank=True, related_name="liked_by",
        help_text='Marked "more like this": similar papers are picked for this subscriber',
    )
    disliked_papers = models.ManyToManyField(
        "digest.Paper", blank=True, related_name="disliked_by",
        help_text='Marked "fewer like this": papers close to these are left out',
    )
    max_papers = models.PositiveSmallIntegerField(default=10, help_text="Papers per email at most")
    quiet_day_note = models.BooleanField(
        default=False, help_text='On a day with nothing above their floor, send a one-line "nothing strong today" '
                                 "email instead of nothing",
    )
    # When digests arrive (subscribers.schedule): empty fields take the operator's defaults.
    timezone = models.CharField(
        max_length=64, blank=True,
        help_text="IANA time zone, e.g. Europe/Paris; empty: the site's DIGEST_TIME_ZONE",
    )
    send_hour = models.PositiveSmallIntegerField(
        null=True, blank=True, validators=[MaxValueValidator(23)],
        help_text="Hour of the day (0-23, their own clock) digests arrive; empty: DIGEST_SEND_HOUR",
    )
    send_weekday = models.PositiveSmallIntegerField(
        null=True, blank=True, choices=Weekday.choices,
        help_text="Weekly digests only: the day they arrive; empty: the day the weekly edition is made",
    )
    # Links in emails and the private feed go through /r/<token>/, which counts one click per
    # email and paper; with this on they go straight to the paper and nothing is counted.
    plain_links = models.BooleanField(
        default=False, help_text="Plain links: emails and the private feed link straight to papers, no clicks counted",
    )
    paused_until = models.DateField(null=True, blank=True)
    # Consent record (GDPR art. 7: be able to show when and how consent was given).
    consent_at = models.DateTimeField(null=True, blank=True)
    consent_ip = models.GenericIPAddressField(null=True, blank=True)
    consent_source = models.CharField(max_length=100, blank=True, help_text="Form version or import")
    confirmed_at = models.DateTimeField(null=True, blank=True)
    unsubscribed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(Lower("email"), name="subscriber_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.email

    def save(self, *args, **kwargs):
        self.email = normalize_email(self.email)
        super().save(*args, **kwargs)

    def related(self, name: str) -> list:
        """A many-to-many field's objects: as a chunk being sent loaded them into a list
        (subscribers.sending.related_lists()), else queried."""
        listed = self.__dict__.get(f"{name}_listed")
        return list(getattr(self, name).all()) if listed is None else listed

    def interests(self) -> Interests:
        """The plain-data view of this subscriber's interests that matching works on, with
        the model learned from their feedback (the engine ignores it below a few labels)."""
        return Interests.build(
            topics=[(t.name, t.query) for t in self.related("topics") if t.active],
            keywords=self.keywords,
            categories=self.categories,
            authors=self.authors,
            liked=[p.pk for p in self.related("liked_papers")],
            disliked=[p.pk for p in self.related("disliked_papers")],
            about=self.about,
            strictness=self.strictness or Strictness.BALANCED,
            learned=self.learned_model(),
        )

    def learned_model(self) -> LearnedModel | None:
        try:
            learning = self.learning
        except Learning.DoesNotExist:
            return None
        return learning.engine_model()

    @property
    def is_deliverable(self) -> bool:
        if self.status != self.Status.ACTIVE:
            return False
        return not (self.paused_until and self.paused_until > timezone.localdate())


def normalize_email(address: str) -> str:
    """Lower-case the domain (case-insensitive by RFC 5321) and, since nearly every mailbox
    provider treats it so, the local part too: one subscriber per address however typed."""
    return (address or "").strip().lower()


class Edition(models.Model):
    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        PAUSED = "paused", "Paused"
        DONE = "done", "Done"

    frequency = models.CharField(max_length=10, choices=Frequency.choices, default=Frequency.DAILY)
    start_date = models.DateField(help_text="First batch date covered")
    end_date = models.DateField(help_text="Last batch date covered")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    last_queued_at = models.DateTimeField(null=True, blank=True)
    # Rows due up to this instant have had their chunk tasks queued (send_due moves it on).
    queued_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-end_date", "frequency"]
        constraints = [
            models.UniqueConstraint(fields=["frequency", "end_date"], name="edition_unique_period"),
        ]

    def __str__(self) -> str:
        if self.start_date == self.end_date:
            return f"{self.get_frequency_display()} {self.end_date:%Y-%m-%d}"
        return f"{self.get_frequency_display()} {self.start_date:%Y-%m-%d}..{self.end_date:%Y-%m-%d}"

    def status_counts(self, due_by=None) -> dict[str, int]:
        """Rows per status; with `due_by`, only the rows due by then."""
        counts = {status: 0 for status in Delivery.Status.values}
        rows = self.deliveries.all()
        if due_by is not None:
            rows = rows.exclude(due_at__gt=due_by)
        for row in rows.values("status").annotate(n=models.Count("id")):
            counts[row["status"]] = row["n"]
        return counts

    def reason_counts(self) -> list[tuple[str, str, int]]:
        """(status, reason, rows) of the rows that went out without papers: skipped ones
        and quiet-day notes, e.g. ("skipped", "nothing above your floor", 12)."""
        rows = (self.deliveries.exclude(skip_reason="").values_list("status", "skip_reason")
                .annotate(n=models.Count("id")).order_by("status", "-n"))
        return [(status, reason, n) for status, reason, n in rows]

    def progress(self) -> EditionProgress:
        return EditionProgress(self.status_counts())

    @staticmethod
    def finish_if_done(edition_id: int) -> bool:
        """Mark a sending edition done once none of its rows is pending or being sent."""
        if Delivery.objects.filter(edition_id=edition_id, status__in=Delivery.OPEN).exists():
            return False
        return bool(Edition.objects.filter(pk=edition_id, status=Edition.Status.SENDING).update(
            status=Edition.Status.DONE, finished_at=timezone.now()
        ))


@dataclass(frozen=True)
class EditionProgress:
    """How far an edition is: its rows per status, how many still wait, the share done."""

    counts: dict[str, int]

    @property
    def queued(self) -> int:
        return sum(self.counts[status] for status in Delivery.OPEN)

    @property
    def percent_done(self) -> int:
        total = sum(self.counts.values()) or 1
        return round(100 * (total - self.queued) / total)


class SentPaper(models.Model):
    """The ledger of which paper reached which subscriber: a paper never reaches the same
    subscriber twice (a weekly digest after daily ones, a paper re-featured on a later day)."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="sent_papers")
    paper = models.ForeignKey("digest.Paper", on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey("Delivery", on_delete=models.CASCADE, related_name="sent_papers")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper"], name="sentpaper_once"),
        ]


class Delivery(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        SKIPPED = "skipped", "Skipped"
        FAILED = "failed", "Failed"
        UNKNOWN = "unknown", "Unknown (connection lost after data)"

    # Why a row has no papers. A quiet day is told apart from a day the source was silent.
    NOTHING_ABOVE_FLOOR = "nothing above your floor"
    NOTHING_NEW = "nothing new above your floor"  # what cleared it was sent before
    NOTHING_ANNOUNCED = "the source announced nothing that day"

    # Rows without an outcome yet, and rows whose outcome an operator may send again.
    OPEN = (Status.PENDING, Status.SENDING)
    RESENDABLE = (Status.FAILED, Status.UNKNOWN)

    edition = models.ForeignKey(Edition, on_delete=models.CASCADE, related_name="deliveries")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="deliveries")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    # The papers chosen, in order, with why: [{"paper": id, "score": s, "reasons": [...]}].
    papers = models.JSONField(default=list, blank=True)
    message_id = models.CharField(max_length=200, blank=True)
    # Sent through an ESP: its id for the message, and the last event its webhooks reported.
    esp_message_id = models.CharField(max_length=200, blank=True, db_index=True)
    esp_event = models.CharField(max_length=20, blank=True, help_text="delivered, bounced, complained, ...")
    esp_event_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    last_error = models.TextField(blank=True)
    skip_reason = models.CharField(
        max_length=100, blank=True,
        help_text='Why no papers went out: a skipped row\'s reason, or a quiet-day note\'s ("nothing above your floor")',
    )
    claim = models.UUIDField(null=True, blank=True, editable=False)
    claimed_at = models.DateTimeField(null=True, blank=True)
    # When the outcome was written; the sweep uses it to tell a dead claim from a slow one.
    finished_at = models.DateTimeField(null=True, blank=True)
    # A row waiting for a retry (after a 4xx or a timeout) is not claimed before this.
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    # When it may go out: the subscriber's hour on the edition's day (subscribers.schedule);
    # empty means at once.
    due_at = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["edition", "id"]
        verbose_name_plural = "deliveries"
        constraints = [
            models.UniqueConstraint(fields=["edition", "subscriber"], name="delivery_unique_recipient"),
        ]
        indexes = [
            # Per edition: what is pending and due, status counts (send_due, the sweep, --wait).
            models.Index(fields=["edition", "status", "due_at"], name="delivery_edition_due"),
            # The sweep's look at claims: a chunk's rows by their claim, and the rows in flight
            # by age (a small index: only rows being sent are in it).
            models.Index(fields=["claim"], name="delivery_claim"),
            models.Index(fields=["claimed_at"], name="delivery_in_flight", condition=models.Q(status="sending")),
        ]

    def __str__(self) -> str:
        return f"{self.edition} -> {self.subscriber_id} ({self.status})"


def email_hash(address: str) -> str:
    return hashlib.sha256(normalize_email(address).encode()).hexdigest()


class Suppression(models.Model):
    """Addresses that must not be mailed again without a new confirmation. Only a hash of
    the address is kept, so deleting a subscriber really deletes their address."""

    class Reason(models.TextChoices):
        DELETED = "deleted", "Deleted at their request"
        BOUNCED = "bounced", "Hard bounce"
        COMPLAINED = "complained", "Spam complaint"
        MANUAL = "manual", "Suppressed by an operator"

    # Addresses that get no mail at all, not even a confirmation link (a deleted or manually
    # suppressed address may still subscribe again and confirm).
    NEVER_MAIL = frozenset({Reason.BOUNCED, Reason.COMPLAINED})

    email_hash = models.CharField(max_length=64, unique=True)
    reason = models.CharField(max_length=12, choices=Reason.choices)
    detail = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.email_hash[:12]}… ({self.reason})"

    @classmethod
    def reason_for(cls, address: str) -> str | None:
        return cls.objects.filter(email_hash=email_hash(address)).values_list("reason", flat=True).first()


class Reaction(models.Model):
    """One thing a subscriber told us about one paper: the labels their learned model is
    trained on (subscribers.learning). A paper's explicit reactions agree in sign (recording
    one removes its opposites); a click counts only when nothing explicit was said."""

    class Kind(models.TextChoices):
        LIKED = "liked", "Listed as a paper they like"
        MORE = "more", "More like this"
        UPVOTED = "upvoted", "Upvoted on the site"
        CLICKED = "clicked", "Opened from a digest"
        FEWER = "fewer", "Fewer like this"
        NOT_INTERESTED = "not", "Not interested"

    POSITIVE = (Kind.LIKED, Kind.MORE, Kind.UPVOTED)
    NEGATIVE = (Kind.FEWER, Kind.NOT_INTERESTED)
    # Training weights: a click is a weak positive (the engine's docs/ranking.md).
    WEIGHT = {Kind.LIKED: 1.0, Kind.MORE: 1.0, Kind.UPVOTED: 1.0, Kind.CLICKED: 0.3,
              Kind.FEWER: -1.0, Kind.NOT_INTERESTED: -1.0}

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="reactions")
    paper = models.ForeignKey("digest.Paper", on_delete=models.CASCADE, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        constraints = [
            models.UniqueConstraint(fields=["subscriber", "paper", "kind"], name="reaction_once"),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} {self.kind} {self.paper_id}"


class Learning(models.Model):
    """What Paperpost learned from one subscriber's reactions: the engine's LearnedModel as
    its dictionary (a few KB of JSON), when it was trained, when the labels last changed
    (a newer change means a retrain is due) and the words the person asked it to forget."""

    subscriber = models.OneToOneField(Subscriber, on_delete=models.CASCADE, primary_key=True,
                                      related_name="learning")
    model = models.JSONField(null=True, blank=True, help_text="digest.matching.LearnedModel.to_dict()")
    labels = models.PositiveIntegerField(default=0, help_text="Labels the model was trained on")
    changed_at = models.DateTimeField(null=True, blank=True, help_text="When the labels last changed")
    trained_at = models.DateTimeField(null=True, blank=True)
    forgotten_terms = models.JSONField(default=list, blank=True,
                                       help_text="Words the subscriber removed: never learned again")

    class Meta:
        verbose_name_plural = "learning"

    def __str__(self) -> str:
        return f"learning of {self.subscriber_id}"

    @property
    def due(self) -> bool:
        return self.changed_at is not None and (self.trained_at is None or self.changed_at > self.trained_at)

    def engine_model(self) -> LearnedModel | None:
        if not self.model:
            return None
        return _parsed_model((self.subscriber_id, self.trained_at, len(self.model.get("terms", ())),
                              self.model.get("bias")), self.model)


_models: dict[tuple, LearnedModel] = {}


def _parsed_model(key: tuple, data: dict) -> LearnedModel:
    # Chunks of deliveries read the same stored models again: parse (and hash) each once. A
    # retrain changes trained_at (to the microsecond), a forgotten word the number of terms.
    found = _models.get(key)
    if found is None:
        if len(_models) > 20_000:
            _models.clear()
        found = _models[key] = LearnedModel.from_dict(data)
    return found


class LikeRequest(models.Model):
    """Liked papers Paperpost did not have yet, fetched from the arXiv API by a task; the
    preference centre shows the outcome."""

    class Status(models.TextChoices):
        PENDING = "pending", "Fetching"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="like_requests")
    arxiv_ids = models.JSONField(default=list, help_text="The ids asked for")
    status = models.CharField(max_length=8, choices=Status.choices, default=Status.PENDING)
    added = models.JSONField(default=list, blank=True, help_text="Ids fetched and liked")
    missing = models.JSONField(default=list, blank=True, help_text="Ids arXiv does not know")
    error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"{len(self.arxiv_ids)} liked papers for {self.subscriber_id} ({self.status})"


class Click(models.Model):
    """A reader followed a paper's link from a digest (one per email and paper) or from their
    private feed (one per subscriber and paper): Paperpost's only engagement signal (no open
    tracking, no pixels), and a weak "more like this" for the ranking."""

    class Via(models.TextChoices):
        EMAIL = "email", "Digest email"
        FEED = "feed", "Private feed"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="clicks")
    paper = models.ForeignKey("digest.Paper", on_delete=models.CASCADE, related_name="+")
    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, null=True, blank=True, related_name="clicks")
    via = models.CharField(max_length=5, choices=Via.choices, default=Via.EMAIL)
    at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-at"]
        constraints = [
            models.UniqueConstraint(fields=["delivery", "paper"], name="click_once_per_email",
                                    condition=models.Q(delivery__isnull=False)),
            models.UniqueConstraint(fields=["subscriber", "paper"], name="click_once_per_feed_paper",
                                    condition=models.Q(delivery__isnull=True)),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber_id} -> {self.paper_id} ({self.via})"
