"""Papers stored before ingest cleaned text: author names decoded from HTML entities
("&lt;" became "<"), and bidi overrides and zero-width characters dropped from titles,
abstracts and authors. Running it again changes nothing."""

import html
import re

from django.db import migrations

# A copy of digest.ingest.records.INVISIBLE as it was when this migration was written.
INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]")
CHUNK = 500


def _text(value: str) -> str:
    return " ".join(INVISIBLE.sub("", value or "").split())


def clean_stored_text(apps, schema_editor):
    Paper = apps.get_model("digest", "Paper")
    changed = []
    for paper in Paper.objects.only("id", "title", "abstract", "authors").iterator(chunk_size=CHUNK):
        title, abstract = _text(paper.title), _text(paper.abstract)
        authors = [name for name in (_text(html.unescape(a)) for a in paper.authors or [] if isinstance(a, str)) if name]
        if (title, abstract, authors) != (paper.title, paper.abstract, paper.authors):
            paper.title, paper.abstract, paper.authors = title, abstract, authors
            changed.append(paper)
    for start in range(0, len(changed), CHUNK):
        Paper.objects.bulk_update(changed[start:start + CHUNK], ["title", "abstract", "authors"])


class Migration(migrations.Migration):
    dependencies = [("digest", "0006_batch_send_at")]
    operations = [migrations.RunPython(clean_stored_text, migrations.RunPython.noop)]
