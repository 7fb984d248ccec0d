import os

from django.core.asgi import get_asgi_application

from paperpost.embedded import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperpost.settings")
prepare()  # var/ and, in the embedded mode, its secret key: before the settings are read
application = get_asgi_application()
