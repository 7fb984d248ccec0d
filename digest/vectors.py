"""The database side of the dense encoder: vectors kept in TextVector rows, so that each
paper is embedded once (at ingest, by embed_recent) and read by every process after."""

from __future__ import annotations

import datetime as dt
import logging
from contextlib import contextmanager

import numpy as np
from django.db import DatabaseError, connections, router, transaction
from django.utils import timezone

from .matching.dense import paper_text
from .models import Paper, TextVector

log = logging.getLogger(__name__)


@contextmanager
def own_connection():
    """Close, at the end, a database connection this block opened. The batch ranks on a
    thread of its own (ThreadPoolExecutor, one per match_many): a connection it opened for
    the vectors would outlive the thread. A connection already open (a request, a task, an
    atomic block) is left as it is."""
    connection = connections[router.db_for_read(TextVector)]
    opened_here = connection.connection is None and not connection.in_atomic_block
    try:
        yield
    finally:
        if opened_here:
            connection.close()


class DatabaseStore:
    """TextEncoder.store over TextVector rows of one model."""

    BATCH = 500

    def __init__(self, model: str):
        self.model = model

    def get(self, keys: list[str]) -> dict[str, np.ndarray]:
        found = {}
        try:
            with own_connection():
                for start in range(0, len(keys), self.BATCH):
                    rows = TextVector.objects.filter(model=self.model, key__in=keys[start:start + self.BATCH])
                    for key, data in rows.values_list("key", "vector"):
                        found[key] = np.frombuffer(bytes(data), dtype="<f4").copy()
        except DatabaseError as error:  # a cache: computing the vectors again is slower, not wrong
            log.warning("text vectors: could not read (%s); computing them", error)
        return found

    def put(self, vectors: dict[str, np.ndarray]) -> None:
        rows = [TextVector(model=self.model, key=k, vector=np.asarray(v, dtype="<f4").tobytes())
                for k, v in vectors.items()]
        try:
            with own_connection(), transaction.atomic():
                # Another process may have written the same rows: they hold the same vector.
                TextVector.objects.bulk_create(rows, batch_size=self.BATCH, ignore_conflicts=True)
        except DatabaseError as error:
            log.warning("text vectors: could not keep %s vectors (%s)", len(rows), error)


def missing(papers, encoder) -> list[str]:
    """The texts of `papers` that have no kept vector yet."""
    texts = list(dict.fromkeys(paper_text(p) for p in papers))
    kept = encoder.store.get([encoder.key(t) for t in texts]) if encoder.store else {}
    return [t for t in texts if encoder.key(t) not in kept]


def embed_texts(texts: list[str], encoder, chunk: int = 256, progress=None) -> int:
    """Embed and keep `texts` (those missing() found), `chunk` at a time: each chunk is
    written as it is done. Returns how many."""
    for start in range(0, len(texts), chunk):
        encoder.encode(texts[start:start + chunk])
        if progress is not None:
            progress(min(chunk, len(texts) - start))
    return len(texts)


def recent_papers(days: int):
    """The papers stored or updated in the last `days` days, with what is embedded."""
    since = timezone.now() - dt.timedelta(days=days)
    return Paper.objects.filter(updated_at__gte=since).only("title", "abstract")


def embed_recent(encoder, days: int = 2) -> int:
    """Embed and keep the papers of the last `days` days that have no vector yet (after an
    ingest: the new ones); returns how many were computed."""
    return embed_texts(missing(recent_papers(days), encoder), encoder)
