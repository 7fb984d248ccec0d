"""The source's preview image of a paper (Hugging Face daily papers carry one)."""

from importlib import import_module

from django.db import migrations, models

search_index = import_module("digest.migrations.0005_search_index")


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
        migrations.RunPython(search_index.restore_sqlite_triggers, migrations.RunPython.noop),
    ]
