from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save

from .pagecache import bump_content_version

# Any change to what the public pages show makes a new cache version.
PUBLIC_MODELS = ("digest.Batch", "digest.BatchEntry", "digest.Paper", "digest.Topic")


def _content_changed(sender, **kwargs):
    bump_content_version()


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and batches"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        for model in PUBLIC_MODELS:
            name = model.partition(".")[2]
            post_save.connect(_content_changed, sender=model, dispatch_uid=f"public-version-{name}")
            post_delete.connect(_content_changed, sender=model, dispatch_uid=f"public-version-del-{name}")
