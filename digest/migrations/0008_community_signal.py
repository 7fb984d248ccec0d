"""The community's counts on each paper, and who submitted a batch entry."""

from importlib import import_module

from django.db import migrations, models

search_index = import_module("digest.migrations.0005_search_index")


class Migration(migrations.Migration):

    dependencies = [
        ("digest", "0007_plain_text_authors"),
    ]

    operations = [
        migrations.AddField(
            model_name="batchentry",
            name="submitted_by",
            field=models.CharField(blank=True, help_text="The display name of the reader who submitted it, if one did",
                                   max_length=30),
        ),
        migrations.AddField(
            model_name="paper",
            name="community_comments",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.AddField(
            model_name="paper",
            name="community_votes",
            field=models.PositiveIntegerField(default=0, editable=False),
        ),
        migrations.RunPython(search_index.restore_sqlite_triggers, migrations.RunPython.noop),
    ]
