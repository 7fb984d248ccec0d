import os

from django.core.wsgi import get_wsgi_application

from paperpost.embedded import prepare

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "paperpost.settings")
prepare()  # var/ and, in the embedded mode, its secret key: before the settings are read
application = get_wsgi_application()
