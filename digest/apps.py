from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and batches"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.models.signals import post_delete, post_save

        from .models import Batch, BatchEntry, Paper, Topic
        from .views import bump_content_version

        def changed(sender, **kwargs):
            bump_content_version()

        # Any change to what the public pages show makes a new cache version.
        for model in (Batch, BatchEntry, Paper, Topic):
            # weak=False: `changed` lives only in this function's scope.
            post_save.connect(changed, sender=model, weak=False, dispatch_uid=f"public-version-{model.__name__}")
            post_delete.connect(changed, sender=model, weak=False, dispatch_uid=f"public-version-del-{model.__name__}")
