from django.apps import AppConfig


class DigestConfig(AppConfig):
    name = "digest"
    verbose_name = "Papers and batches"
    default_auto_field = "django.db.models.BigAutoField"
