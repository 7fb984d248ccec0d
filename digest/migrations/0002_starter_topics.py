from django.db import migrations


def load(apps, schema_editor):
    from digest.starter_topics import load_starter_topics

    load_starter_topics(apps.get_model("digest", "Topic"))


def unload(apps, schema_editor):
    from digest.starter_topics import STARTER_TOPICS

    Topic = apps.get_model("digest", "Topic")
    Topic.objects.filter(slug__in=[slug for _, slug, _ in STARTER_TOPICS]).delete()


class Migration(migrations.Migration):
    dependencies = [("digest", "0001_initial")]
    operations = [migrations.RunPython(load, unload)]
