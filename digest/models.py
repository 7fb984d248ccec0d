"""Papers, the daily batches they are announced in, curated topics and feed sources."""

from __future__ import annotations

import datetime as dt
from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.db import models
from django.urls import reverse
from django.utils import timezone
from django.utils.text import slugify

from .pagecache import bump_content_version


class Paper(models.Model):
    # One row per arXiv id; papers without one (the daily-papers page text) are keyed by
    # their normalised title, so that a later source with the id can be matched by title.
    key = models.CharField(max_length=300, unique=True, editable=False)
    arxiv_id = models.CharField("arXiv id", max_length=40, blank=True, db_index=True)
    # Normalised title: lets a source with ids enrich a paper first seen without one.
    title_key = models.CharField(max_length=300, db_index=True, editable=False, default="")
    version = models.PositiveSmallIntegerField(null=True, blank=True)
    title = models.TextField()
    abstract = models.TextField(blank=True)
    authors = models.JSONField(default=list, blank=True, help_text="Ordered list of names")
    affiliations = models.JSONField(default=dict, blank=True, help_text="Name -> list of affiliations")
    categories = models.JSONField(default=list, blank=True)
    primary_category = models.CharField(max_length=40, blank=True)
    abs_url = models.URLField("abstract page", max_length=500, blank=True)
    pdf_url = models.URLField("PDF", max_length=500, blank=True)
    code_url = models.URLField("code", max_length=500, blank=True)
    project_url = models.URLField("project page", max_length=500, blank=True)
    # The source's preview image (Hugging Face's social thumbnail); shown only from the hosts
    # in THUMBNAIL_HOSTS, which the Content-Security-Policy allows.
    thumbnail = models.URLField(max_length=500, blank=True)
    doi = models.CharField("DOI", max_length=200, blank=True)
    journal_ref = models.CharField("journal reference", max_length=500, blank=True)
    comment = models.TextField(blank=True)
    rights = models.CharField(max_length=300, blank=True)
    published = models.DateField(null=True, blank=True)
    upvotes = models.PositiveIntegerField(null=True, blank=True)
    stars = models.PositiveIntegerField("GitHub stars", null=True, blank=True)
    num_comments = models.PositiveIntegerField(null=True, blank=True)
    submitter = models.CharField(max_length=200, blank=True)
    # This site's own signal (the fields above are the source's figures). The community app
    # keeps them in step with its vote and comment rows, in the same transaction.
    community_votes = models.PositiveIntegerField(default=0, editable=False)
    community_comments = models.PositiveIntegerField(default=0, editable=False)
    ai_keywords = models.JSONField("AI keywords", default=list, blank=True)
    ai_summary = models.TextField("AI summary", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.title[:120]

    def get_absolute_url(self) -> str:
        return reverse("paper", args=[self.identifier])

    @property
    def identifier(self) -> str:
        """The arXiv id, or for papers without one "title:" and the title's words joined
        by hyphens (normalised titles hold no hyphens, so this maps back to the key)."""
        if self.arxiv_id:
            return self.arxiv_id
        return self.key.replace(" ", "-")

    @property
    def signal_line(self) -> str:
        """The counts a reader sees beside the paper, e.g. "▲ 12 votes on Paperpost · 74 upvotes
        on Hugging Face · 3 comments" (feeds and emails; the pages draw their own button)."""
        votes, upvotes, comments = self.community_votes, self.upvotes, self.community_comments
        parts = [f"▲ {votes} vote{'s' if votes != 1 else ''} on Paperpost"]
        if upvotes:
            parts.append(f"{upvotes} upvote{'s' if upvotes != 1 else ''} on Hugging Face")
        if comments:
            parts.append(f"{comments} comment{'s' if comments != 1 else ''}")
        return " · ".join(parts)

    @property
    def author_line(self) -> str:
        names = self.authors or []
        if len(names) > 6:
            return ", ".join(names[:5]) + f", and {len(names) - 5} more"
        return ", ".join(names)


class BatchQuerySet(models.QuerySet):
    def published(self):
        return self.filter(status=Batch.Status.PUBLISHED)


class Batch(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        PUBLISHED = "published", "Published"

    date = models.DateField(unique=True, help_text="The announce date of the papers")
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DRAFT)
    published_at = models.DateTimeField(null=True, blank=True)
    send_at = models.DateTimeField(
        null=True, blank=True,
        help_text="Publish (if still a draft) and send the daily digest at this time",
    )
    papers = models.ManyToManyField(Paper, through="BatchEntry", related_name="batches")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = BatchQuerySet.as_manager()

    class Meta:
        ordering = ["-date"]
        verbose_name_plural = "batches"

    def __str__(self) -> str:
        return f"{self.date:%a %d %b %Y} ({self.get_status_display().lower()})"

    @property
    def is_published(self) -> bool:
        return self.status == self.Status.PUBLISHED

    def publish(self) -> bool:
        """Publish the batch; returns False if it already was (publishing is idempotent)."""
        updated = Batch.objects.filter(pk=self.pk, status=self.Status.DRAFT).update(
            status=self.Status.PUBLISHED, published_at=timezone.now(), updated_at=timezone.now()
        )
        self.refresh_from_db(fields=["status", "published_at"])
        if updated:
            bump_content_version()
        return bool(updated)

    def renumber(self, moved: dict[int, tuple[int, int]] | None = None) -> int:
        """Positions 1, 2, 3 ... in the current order, whatever was typed (0, 1, 2, 4, 5 or
        two papers at 3). `moved` maps entries a curator just moved to (old, new) position:
        at a tie, a paper moved up goes before the one already there and a paper moved down
        after it, as a person reordering a list means. Returns how many positions changed."""
        moved = moved or {}

        def order(entry):
            old, new = moved.get(entry.pk, (entry.position, entry.position))
            return (entry.position, -1 if new < old else 1 if new > old else 0, entry.pk)

        entries = sorted(self.entries.only("pk", "position"), key=order)
        changed = []
        for number, entry in enumerate(entries, start=1):
            if entry.position != number:
                entry.position = number
                changed.append(entry)
        if changed:
            BatchEntry.objects.bulk_update(changed, ["position"], batch_size=500)
            bump_content_version()
        return len(changed)

    def visible_entries(self):
        return (
            self.entries.filter(hidden=False)
            .select_related("paper")
            .order_by("-featured", "position", "pk")
        )

    @classmethod
    def latest_published(cls) -> Batch | None:
        return cls.objects.published().order_by("-date").first()


class BatchEntry(models.Model):
    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="entries")
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="entries")
    position = models.PositiveIntegerField(default=0, help_text="Order on the page (1 = first)")
    featured = models.BooleanField(default=False)
    hidden = models.BooleanField(default=False)
    note = models.TextField("curator note", blank=True)
    announce_type = models.CharField(max_length=20, blank=True)
    source = models.ForeignKey("Source", null=True, blank=True, on_delete=models.SET_NULL)
    submitted_by = models.CharField(
        max_length=30, blank=True, help_text="The display name of the reader who submitted it, if one did",
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["batch", "position"]
        verbose_name_plural = "batch entries"
        constraints = [
            models.UniqueConstraint(fields=["batch", "paper"], name="batchentry_unique_paper"),
        ]

    def __str__(self) -> str:
        return f"#{self.position} {self.paper}"


class Topic(models.Model):
    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(max_length=100, unique=True)
    description = models.CharField(max_length=300, blank=True)
    query = models.TextField(
        help_text=(
            "Keywords and phrases, separated by commas or new lines. A paper matches when its "
            "title or abstract holds one of them as whole words (case-insensitive, plurals and "
            "verb forms included). Start a term with - to exclude papers holding it."
        )
    )
    active = models.BooleanField(default=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position", "name"]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        if not self.slug:
            self.slug = slugify(self.name)[:100]
        super().save(*args, **kwargs)

    def get_absolute_url(self) -> str:
        return reverse("topic", args=[self.slug])


class Source(models.Model):
    class Format(models.TextChoices):
        AUTO = "auto", "Detect from content"
        ARXIV_RSS = "arxiv_rss", "arXiv RSS 2.0"
        ARXIV_RDF = "arxiv_rdf", "arXiv RSS 1.0 (RDF)"
        ARXIV_API = "arxiv_api", "arXiv API Atom"
        HF_DAILY = "hf_daily", "Hugging Face daily papers JSON"
        PAGE_TEXT = "page_text", "Daily-papers page text"

    name = models.CharField(max_length=100, unique=True)
    format = models.CharField(max_length=20, choices=Format.choices, default=Format.AUTO)
    url = models.URLField("URL", max_length=1000, help_text="http or https only")
    enabled = models.BooleanField(default=True)
    interval_minutes = models.PositiveIntegerField(
        default=60, help_text="How often the beat task fetches this source"
    )
    etag = models.CharField(max_length=300, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_counts = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self):
        if urlsplit(self.url).scheme.lower() not in ("http", "https"):
            raise ValidationError({"url": "Only http and https URLs can be fetched."})

    def is_due(self, now: dt.datetime | None = None) -> bool:
        if not self.enabled:
            return False
        if self.last_checked_at is None:
            return True
        now = now or timezone.now()
        return now - self.last_checked_at >= dt.timedelta(minutes=self.interval_minutes)


class RankingModel(models.Model):
    """One fit of the corpus statistics that ranking uses (IDF, acronyms, the semantic
    layer), over the papers stored in a rolling window; see digest/corpus.py. Workers load
    the latest; older fits are deleted."""

    created_at = models.DateTimeField(auto_now_add=True)
    window_days = models.PositiveIntegerField()
    papers = models.PositiveIntegerField(help_text="Papers the statistics were fitted on")
    data = models.BinaryField(help_text="CorpusStats.to_bytes(): compressed arrays")

    class Meta:
        ordering = ["-created_at"]
        get_latest_by = "created_at"

    def __str__(self) -> str:
        return f"ranking model of {self.created_at:%Y-%m-%d %H:%M} ({self.papers} papers, {len(self.data) // 1024} KB)"


class TextVector(models.Model):
    """A text's vector from the dense encoder (MATCH_EMBEDDING_MODEL, digest/matching/dense.py),
    keyed by the model and the SHA-1 of the text: a paper is embedded once, at ingest, and
    every process reads it instead of spending 0.1 s of CPU on it again. A changed title or
    abstract is a new text and gets a new row (the old one, 1.6 KB, stays)."""

    model = models.CharField(max_length=64)
    key = models.CharField(max_length=40, help_text="SHA-1 of the text")
    vector = models.BinaryField(help_text="float32 little-endian")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "key"], name="unique_text_vector")]

    def __str__(self) -> str:
        return f"{self.model} vector {self.key[:12]}"
