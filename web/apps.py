from django.apps import AppConfig


class WebConfig(AppConfig):
    """The site on top of everything: public pages, the subscribe form's POST, sitemaps,
    liveness, and the curation panel (the admin of papers, batches, topics and sources)."""

    name = "web"
    verbose_name = "Site and curation"
    default_auto_field = "django.db.models.BigAutoField"
