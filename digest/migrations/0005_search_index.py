"""The full-text index behind digest.search: FTS5 on SQLite (kept in step by triggers, so
bulk inserts and raw SQL are indexed too), a GIN expression index on PostgreSQL."""

from django.db import migrations

SQLITE = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS digest_paper_fts USING fts5("
    "title, abstract, authors, content='digest_paper', content_rowid='id', tokenize='porter unicode61')",
    "CREATE TRIGGER IF NOT EXISTS digest_paper_fts_ai AFTER INSERT ON digest_paper BEGIN "
    "INSERT INTO digest_paper_fts(rowid, title, abstract, authors) VALUES (new.id, new.title, new.abstract, new.authors); END",
    "CREATE TRIGGER IF NOT EXISTS digest_paper_fts_ad AFTER DELETE ON digest_paper BEGIN "
    "INSERT INTO digest_paper_fts(digest_paper_fts, rowid, title, abstract, authors) "
    "VALUES ('delete', old.id, old.title, old.abstract, old.authors); END",
    "CREATE TRIGGER IF NOT EXISTS digest_paper_fts_au AFTER UPDATE OF title, abstract, authors ON digest_paper BEGIN "
    "INSERT INTO digest_paper_fts(digest_paper_fts, rowid, title, abstract, authors) "
    "VALUES ('delete', old.id, old.title, old.abstract, old.authors); "
    "INSERT INTO digest_paper_fts(rowid, title, abstract, authors) VALUES (new.id, new.title, new.abstract, new.authors); END",
    "INSERT INTO digest_paper_fts(digest_paper_fts) VALUES ('rebuild')",
]
SQLITE_DROP = [
    "DROP TRIGGER IF EXISTS digest_paper_fts_ai", "DROP TRIGGER IF EXISTS digest_paper_fts_ad",
    "DROP TRIGGER IF EXISTS digest_paper_fts_au", "DROP TABLE IF EXISTS digest_paper_fts",
]
POSTGRES = [
    "CREATE INDEX IF NOT EXISTS digest_paper_search ON digest_paper USING gin (("
    "setweight(to_tsvector('english', coalesce(title, '')), 'A') || "
    "setweight(to_tsvector('english', coalesce(authors::text, '')), 'B') || "
    "setweight(to_tsvector('english', coalesce(abstract, '')), 'C')))",
]
POSTGRES_DROP = ["DROP INDEX IF EXISTS digest_paper_search"]


def forward(apps, schema_editor):
    statements = SQLITE if schema_editor.connection.vendor == "sqlite" else POSTGRES
    for sql in statements:
        schema_editor.execute(sql)


def backward(apps, schema_editor):
    statements = SQLITE_DROP if schema_editor.connection.vendor == "sqlite" else POSTGRES_DROP
    for sql in statements:
        schema_editor.execute(sql)


def restore_sqlite_triggers(apps, schema_editor):
    """For later migrations that add a column to digest_paper (0008, 0011): SQLite adds it by
    rebuilding the table, and the full-text triggers above go with the old one. Put them back
    (and re-index)."""
    if schema_editor.connection.vendor == "sqlite":
        for sql in SQLITE:
            schema_editor.execute(sql)


class Migration(migrations.Migration):
    dependencies = [("digest", "0004_starter_topics_v2")]
    operations = [migrations.RunPython(forward, backward)]
