from django.apps import AppConfig


class SubscribersConfig(AppConfig):
    name = "subscribers"
    verbose_name = "Subscribers and deliveries"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        # These import models (or register with Django), which only the ready app registry
        # allows, so not at the top: checks registers the system checks, signals connects the
        # bounce/complaint receiver, tasks registers the tasks that subscribers.delivery
        # queues by name, in every process (web, commands, workers).
        from . import checks, signals, tasks  # noqa: F401
