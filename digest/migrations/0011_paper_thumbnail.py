"""The source's preview image of a paper (Hugging Face daily papers carry one)."""

from importlib import import_module

from django.db import migrations, models

search_index = import_module("digest.migrations.0005_search_index")


def restore_search_triggers(apps, schema_editor):
    # SQLite adds a column by rebuilding digest_paper, and the full-text triggers of 0005 go
    # with the old table: put them back (and re-index).
    if schema_editor.connection.vendor == "sqlite":
        for sql in search_index.SQLITE:
            schema_editor.execute(sql)


class Migration(migrations.Migration):

    dependencies = [
        ("digest", "0010_ranking_model"),
    ]

    operations = [
        migrations.AddField(
            model_name="paper",
            name="thumbnail",
            field=models.URLField(blank=True, max_length=500),
        ),
        migrations.RunPython(restore_search_triggers, migrations.RunPython.noop),
    ]
