from __future__ import annotations

from django.conf import settings
from django.core.management.base import BaseCommand
from tqdm import tqdm

from digest.corpus import dense_encoder
from digest.vectors import embed_texts, missing, recent_papers
from paperpost.commands import fail


class Command(BaseCommand):
    help = (
        "Embed the stored papers with the dense encoder (MATCH_EMBEDDING_MODEL) and keep their "
        "vectors, so that ranking reads them instead of computing them (about 0.1 s of CPU a "
        "paper). Ingest does it for new papers; run this once after switching the encoder on, "
        "for the papers already stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=None,
                            help="papers stored or updated in the last N days (default: RANKING_WINDOW_DAYS)")

    def handle(self, *args, days, **options):
        encoder = dense_encoder()
        if encoder is None:
            raise fail("MATCH_EMBEDDING_MODEL is not set: `make model` installs the encoder, then set it "
                       "to models/all-MiniLM-L6-v2")
        days = days or settings.RANKING_WINDOW_DAYS
        if days < 1:
            raise fail(f"--days must be at least 1, not {days}")
        papers = list(recent_papers(days))
        texts = missing(papers, encoder)
        with tqdm(total=len(texts), desc="embedding", unit=" papers", disable=None, file=self.stderr._out) as bar:
            done = embed_texts(texts, encoder, progress=bar.update)
        self.stdout.write(f"{len(papers)} papers of the last {days} days: {done} embedded, "
                          f"{len(papers) - done} already kept ({encoder.name})")
