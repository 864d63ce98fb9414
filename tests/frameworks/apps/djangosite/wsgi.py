"""The WSGI entry point: ``glade djangosite.wsgi:application``."""

import os

import common
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "djangosite.settings")

# Every request but /big goes through wsgiref's PEP 3333 validator.
application = common.validated(get_wsgi_application())
