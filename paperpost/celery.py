"""The Celery app. It reads every CELERY_* setting from paperpost.settings and finds the
tasks.py of each app. With REDIS_URL unset the settings make tasks run in-process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperpost.settings")

app = Celery("paperpost")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
