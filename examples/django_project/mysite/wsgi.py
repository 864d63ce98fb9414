"""The WSGI entry point Glade serves: ``glade --chdir examples/django_project mysite.wsgi``.

(`:application` is the default name, as in gunicorn.)
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mysite.settings")

application = get_wsgi_application()
